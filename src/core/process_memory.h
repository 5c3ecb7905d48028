// The process's own memory use, as `edgefit bench` and the calibrated pipelines report it.
#pragma once

#include <cstdint>

namespace edgefit {

// Peak resident memory since the process started or the last reset_peak_rss() (VmHWM in
// /proc/self/status), in bytes; the process-lifetime maximum (getrusage) where there is no VmHWM.
uint64_t peak_rss_bytes();

// Resets the peak to the current resident size (Linux >= 4.0: "5" > /proc/self/clear_refs), so a
// measurement is not charged for buffers an earlier phase freed. Does nothing where unsupported.
void reset_peak_rss();

}  // namespace edgefit
