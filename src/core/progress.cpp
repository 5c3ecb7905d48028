#include "core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cmath>

namespace edgefit {
namespace {
std::atomic<bool> g_quiet{false};
}

void Progress::set_quiet(bool quiet) {
  g_quiet = quiet;
}

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  (static_cast<int>(s) / 60) % 60);
  }
  return buf;
}

Progress::Progress(std::string label, uint64_t total, std::string unit, std::FILE* out)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      out_(out),
      tty_(::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  finish();
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(uint64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 5.0)) return;  // bars redraw 10×/s; logs get a line every 5 s
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (g_quiet) return;
  const double t = elapsed();
  const double rate = t > 0 ? done_ / t : 0;
  const double frac = total_ ? static_cast<double>(done_) / total_ : 0;
  const double eta = (rate > 0 && total_ > done_) ? (total_ - done_) / rate : 0;
  char rate_s[48] = "";
  if (!unit_.empty()) std::snprintf(rate_s, sizeof rate_s, " %.1f %s/s", rate, unit_.c_str());
  if (tty_) {
    constexpr int kWidth = 30;
    const int fill = static_cast<int>(frac * kWidth);
    std::string bar(fill, '#');
    bar.resize(kWidth, '.');
    std::fprintf(out_, "\r%s [%s] %3.0f%% %llu/%llu%s %s %s\x1b[K%s", label_.c_str(), bar.c_str(),
                 frac * 100, static_cast<unsigned long long>(done_),
                 static_cast<unsigned long long>(total_), rate_s, final_line ? "in" : "ETA",
                 format_duration(final_line ? t : eta).c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s: %llu/%llu (%.0f%%)%s %s %s\n", label_.c_str(),
                 static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
                 frac * 100, rate_s, final_line ? "done in" : "ETA",
                 format_duration(final_line ? t : eta).c_str());
  }
  std::fflush(out_);
}

}  // namespace edgefit
