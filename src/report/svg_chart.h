// Small, dependency-free SVG charts for the HTML report: bars, labelled scatter points and
// multi-series lines, each returned as an <svg> string with axes, ticks and a title.
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
  std::string name;              // legend entry
  std::vector<double> x, y;      // data points, same length
  bool dashed = false;           // e.g. a bound rather than a measurement
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
                          const double* reference_line = nullptr, const std::string& ref_label = "");
std::string svg_scatter_chart(const std::vector<ScatterPoint>& points, const ChartAxes& axes);
std::string svg_line_chart(const std::vector<LineSeries>& series, const ChartAxes& axes);

// Escapes &, <, >, " for text inside SVG/HTML.
std::string xml_escape(const std::string& s);

}  // namespace edgefit
