// Progress of long work. On a terminal: a bar redrawn in place with rate and ETA. Otherwise (CI,
// a pipe, a log file): one plain line at most every few seconds and at the end, so logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace edgefit {

class Progress {
 public:
  // `label` names the work ("quantize", "block 3/22"); `total` is the number of units; `unit`
  // names them for the rate ("tok", "MB"). Output goes to `out` (stderr by default).
  Progress(std::string label, uint64_t total, std::string unit = "", std::FILE* out = stderr);
  ~Progress();

  void advance(uint64_t n = 1) { update(done_ + n); }
  void update(uint64_t done);
  void finish();  // final line; called by the destructor if not called before

  // Seconds since construction.
  double elapsed() const;
  // Forces plain-line mode even on a TTY (tests) or bar mode (never used on non-TTY).
  static void set_quiet(bool quiet);  // quiet: print nothing at all

 private:
  void draw(bool final_line);

  std::string label_;      // what is being done
  std::string unit_;       // name of one unit, for the rate
  uint64_t total_;         // units expected (0 = unknown)
  uint64_t done_ = 0;      // units finished
  std::FILE* out_;         // destination stream
  bool tty_;               // redraw a bar in place (true) or print periodic lines (false)
  bool finished_ = false;  // finish() already printed the last line
  std::chrono::steady_clock::time_point start_;      // construction time
  std::chrono::steady_clock::time_point last_draw_;  // throttle redraws
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace edgefit
