#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace edgefit {
namespace {

constexpr int kLeft = 64, kRight = 16, kTop = 32, kBottom = 56;  // plot margins in pixels
constexpr int kLegendRow = 16;  // height of one legend row between the title and the plot
const char* kPalette[] = {"#2b6cb0", "#c05621", "#2f855a", "#6b46c1",
                          "#b7791f", "#c53030", "#319795"};
const char* kWarn = "#c53030";

std::string num(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5))
    std::snprintf(buf, sizeof buf, "%.2e", v);
  else if (a < 0.1)
    std::snprintf(buf, sizeof buf, "%.4f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// A tick value with as many decimals as the step needs ("0.0005", "2.5" is never a tick of a
// 1-2-5 step of 1, so "2", "4", "6").
std::string tick_label(double v, double step) {
  char buf[32];
  if (std::fabs(v) < step * 1e-6) v = 0;  // no "-0.000" from rounding
  if (step >= 1e5 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%g", v);
  } else {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

// Maps data ranges (from tick to tick) onto the plot rectangle.
struct Frame {
  Ticks xt, yt;  // round ticks; the plot spans first … last of each
  int w, h;      // svg size
  int top;       // top margin (larger when a legend row sits above the plot)
  double px(double x) const {
    return kLeft + (x - xt.first) / (xt.last() - xt.first) * (w - kLeft - kRight);
  }
  double py(double y) const {
    return h - kBottom - (y - yt.first) / (yt.last() - yt.first) * (h - top - kBottom);
  }
};

// Round ticks around a data range, with a little room so points do not sit on the frame.
Ticks ticks_around(double lo, double hi, bool pad) {
  if (!(hi > lo)) {
    const double d = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 1.0;
    lo -= d;
    hi += d;
  } else if (pad) {
    const double m = (hi - lo) * 0.05;
    lo = lo >= 0 ? std::max(0.0, lo - m) : lo - m;  // no negative ticks for sizes, layers, KLD
    hi += m;
  }
  return nice_ticks(lo, hi);
}

std::string open_svg(const ChartAxes& a) {
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">"
      "<title>%s</title><rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>"
      "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">%s</text>",
      a.width, a.height, a.width, a.height, xml_escape(a.title).c_str(), kLeft,
      xml_escape(a.title).c_str());
  return buf;
}

// The frame, grid lines, round tick labels (class "tick", y first then x) and axis labels.
std::string axes_svg(const Frame& f, const ChartAxes& a, bool x_ticks) {
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<line class=\"frame\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>",
                kLeft, f.top, kLeft, f.h - kBottom, kLeft, f.h - kBottom, f.w - kRight,
                f.h - kBottom);
  s += buf;
  for (int i = 0; i < f.yt.count; ++i) {
    const double v = f.yt.first + i * f.yt.step;
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text class=\"tick y\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                  kLeft, f.py(v), f.w - kRight, f.py(v), kLeft - 4, f.py(v) + 4,
                  tick_label(v, f.yt.step).c_str());
    s += buf;
  }
  for (int i = 0; x_ticks && i < f.xt.count; ++i) {
    const double x = f.xt.first + i * f.xt.step;
    std::snprintf(buf, sizeof buf,
                  "<text class=\"tick x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                  f.px(x), f.h - kBottom + 16, tick_label(x, f.xt.step).c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>"
                "<text transform=\"translate(14,%d) rotate(-90)\" text-anchor=\"middle\">%s</text>",
                (kLeft + f.w - kRight) / 2, f.h - 8, xml_escape(a.x_label).c_str(),
                (f.top + f.h - kBottom) / 2, xml_escape(a.y_label).c_str());
  return s + buf;
}

}  // namespace

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo)) hi = lo + 1;
  max_ticks = std::max(1, max_ticks);
  const double raw = (hi - lo) / max_ticks;
  double step = std::pow(10.0, std::floor(std::log10(raw)));
  for (int k = 0;; ++k) {  // 1, 2, 5, 10, 20, 50, … × 10^floor(log10 raw) until it fits
    const double s = step * (k % 3 == 0 ? 1 : k % 3 == 1 ? 2 : 5) * std::pow(10.0, k / 3);
    const double first = std::floor(lo / s + 1e-9) * s;
    const int count = static_cast<int>(std::ceil(hi / s - 1e-9) - std::floor(lo / s + 1e-9)) + 1;
    if (count - 1 <= max_ticks) return {first, s, std::max(count, 2)};
  }
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string svg_bar_chart(const std::vector<BarItem>& bars, const ChartAxes& a, const double* ref,
                          const std::string& ref_label) {
  double lo = 0, hi = 0;  // bars start at 0
  for (const auto& b : bars) lo = std::min(lo, b.value), hi = std::max(hi, b.value);
  if (ref) lo = std::min(lo, *ref), hi = std::max(hi, *ref);
  const Ticks x_slots{0, 1, static_cast<int>(std::max<size_t>(bars.size(), 1)) + 1};
  const Frame f{x_slots, ticks_around(lo, hi, false), a.width, a.height, kTop};
  std::string s = open_svg(a) + axes_svg(f, a, false);
  char buf[512];
  const double slot = (f.px(1) - f.px(0));
  for (size_t i = 0; i < bars.size(); ++i) {
    const double x = f.px(static_cast<double>(i)) + slot * 0.15;
    const double y_top = f.py(std::max(0.0, bars[i].value)),
                 y_bot = f.py(std::min(0.0, bars[i].value));
    std::snprintf(
        buf, sizeof buf,
        "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
        "<title>%s: %s</title></rect>"
        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-35 %.1f %d)\">%s</text>",
        x, y_top, slot * 0.7, std::max(0.5, y_bot - y_top), bars[i].highlight ? kWarn : kPalette[0],
        xml_escape(bars[i].label).c_str(), num(bars[i].value).c_str(), x + slot * 0.35,
        a.height - kBottom + 14, x + slot * 0.35, a.height - kBottom + 14,
        xml_escape(bars[i].label).c_str());
    s += buf;
  }
  if (ref) {
    std::snprintf(
        buf, sizeof buf,
        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"5,4\"/>"
        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s</text>",
        kLeft, f.py(*ref), a.width - kRight, f.py(*ref), kWarn, a.width - kRight, f.py(*ref) - 4,
        kWarn, xml_escape(ref_label).c_str());
    s += buf;
  }
  return s + "</svg>";
}

std::string svg_scatter_chart(const std::vector<ScatterPoint>& pts, const ChartAxes& a) {
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  if (pts.empty()) x0 = y0 = 0, x1 = y1 = 1;
  const Frame f{ticks_around(x0, x1, true), ticks_around(y0, y1, true), a.width, a.height, kTop};
  std::string s = open_svg(a) + axes_svg(f, a, true);
  char buf[512];
  for (const auto& p : pts) {
    std::snprintf(buf, sizeof buf,
                  "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"><title>%s: "
                  "(%s, %s)</title></circle>",
                  f.px(p.x), f.py(p.y), p.highlight ? 6 : 4, p.highlight ? kWarn : kPalette[0],
                  xml_escape(p.label).c_str(), num(p.x).c_str(), num(p.y).c_str());
    s += buf;
  }
  // Labels: the highlighted point's first, then each where it overlaps no label already placed
  // (right of the point, else left); a crowded point keeps its label in the tooltip only.
  struct Box {
    double x0, y0, x1, y1;
  };
  std::vector<Box> placed;
  std::vector<size_t> order(pts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_partition(order.begin(), order.end(), [&](size_t i) { return pts[i].highlight; });
  for (size_t i : order) {
    const double w = 6.5 * static_cast<double>(pts[i].label.size()), cx = f.px(pts[i].x),
                 cy = f.py(pts[i].y);
    for (const bool right : {true, false}) {
      const Box b{right ? cx + 7 : cx - 7 - w, cy - 15, right ? cx + 7 + w : cx - 7, cy - 3};
      const bool clash = std::any_of(placed.begin(), placed.end(), [&](const Box& o) {
        return b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1;
      });
      if (clash || b.x1 > a.width || b.x0 < kLeft) continue;
      placed.push_back(b);
      std::snprintf(buf, sizeof buf, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\">%s</text>", b.x0,
                    cy - 5, xml_escape(pts[i].label).c_str());
      s += buf;
      break;
    }
  }
  return s + "</svg>";
}

std::string svg_line_chart(const std::vector<LineSeries>& series, const ChartAxes& a) {
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& l : series)
    for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
      x0 = std::min(x0, l.x[i]), x1 = std::max(x1, l.x[i]);
      y0 = std::min(y0, l.y[i]), y1 = std::max(y1, l.y[i]);
    }
  if (x0 > x1) x0 = y0 = 0, x1 = y1 = 1;
  // Legend entries (~7 px per character) in rows between the title and the plot.
  std::vector<std::pair<int, int>> legend_at;  // x, row
  for (int x = kLeft, row = 0; const auto& l : series) {
    const int w = 14 + 7 * static_cast<int>(l.name.size()) + 18;
    if (x > kLeft && x + w - 18 > a.width - kRight) x = kLeft, ++row;
    legend_at.emplace_back(x, row);
    x += w;
  }
  const int rows = legend_at.empty() ? 0 : legend_at.back().second + 1;
  const Frame f{ticks_around(x0, x1, true), ticks_around(y0, y1, true), a.width, a.height,
                kTop + kLegendRow * rows};
  std::string s = open_svg(a) + axes_svg(f, a, true);
  char buf[512];
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& l = series[k];
    const char* color = kPalette[k % std::size(kPalette)];
    std::string pts, markers;  // markers make single-point series (e.g. one measurement) visible
    for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", f.px(l.x[i]), f.py(l.y[i]));
      pts += buf;
      std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                    f.px(l.x[i]), f.py(l.y[i]), color);
      markers += buf;
    }
    s += "<polyline class=\"series\" fill=\"none\" stroke-width=\"2\" stroke=\"" +
         std::string(color) + "\"" + (l.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" +
         pts + "\"/>" + markers;
    // Legend entry at its place in the rows above the plot.
    std::snprintf(
        buf, sizeof buf,
        "<g class=\"legend\"><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
        "<text x=\"%d\" y=\"%d\">%s</text></g>",
        legend_at[k].first, kTop - 4 + kLegendRow * legend_at[k].second, color,
        legend_at[k].first + 14, kTop + 5 + kLegendRow * legend_at[k].second,
        xml_escape(l.name).c_str());
    s += buf;
  }
  return s + "</svg>";
}

}  // namespace edgefit
