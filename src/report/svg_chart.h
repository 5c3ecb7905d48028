// Small, dependency-free SVG charts for the HTML report: bars, labelled scatter points and
// multi-series lines, each returned as an <svg> string with axes, ticks and a title. Axes end on
// round ticks (steps of 1, 2 or 5 × 10^k, as a person would draw them), and legends sit in a
// row between the title and the plot, so they never cover data.
#pragma once

#include <string>
#include <vector>

namespace edgefit {

struct BarItem {
  std::string label;       // category under the bar
  double value = 0;        // bar height (may be negative)
  bool highlight = false;  // drawn in the warning colour
};

struct ScatterPoint {
  std::string label;       // text beside the point
  double x = 0, y = 0;     // data coordinates
  bool highlight = false;  // the chosen candidate
};

struct LineSeries {
  std::string name;          // legend entry
  std::vector<double> x, y;  // data points, same length
  bool dashed = false;       // e.g. a bound rather than a measurement
};

struct ChartAxes {
  std::string title;    // above the plot
  std::string x_label;  // under the x axis
  std::string y_label;  // beside the y axis
  int width = 640;      // pixels
  int height = 320;     // pixels
};

// A horizontal reference line (e.g. the ΔPPL bound) may be drawn on bar charts.
std::string svg_bar_chart(const std::vector<BarItem>& bars, const ChartAxes& axes,
                          const double* reference_line = nullptr,
                          const std::string& ref_label = "");
std::string svg_scatter_chart(const std::vector<ScatterPoint>& points, const ChartAxes& axes);
std::string svg_line_chart(const std::vector<LineSeries>& series, const ChartAxes& axes);

// Round ticks covering [lo, hi]: a step of 1, 2 or 5 × 10^k giving at most `max_ticks`
// intervals, from the multiple of the step at or below lo to the one at or above hi.
struct Ticks {
  double first = 0;  // lowest tick (≤ lo)
  double step = 1;   // distance between ticks
  int count = 1;     // number of ticks, first + (count − 1) × step ≥ hi
  double last() const { return first + (count - 1) * step; }
};
Ticks nice_ticks(double lo, double hi, int max_ticks = 5);

// Escapes &, <, >, " for text inside SVG/HTML.
std::string xml_escape(const std::string& s);

}  // namespace edgefit
