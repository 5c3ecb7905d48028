#include "kernels/prefetch.h"

#include <cstdlib>

#include "core/cpu_features.h"

namespace edgefit::kernels {

int64_t packed_prefetch_bytes() {
  static const int64_t bytes = [] {
    if (const char* e = std::getenv("EDGEFIT_PREFETCH_BYTES")) {
      const long long v = std::atoll(e);
      return v > 0 ? static_cast<int64_t>(v) : int64_t{0};
    }
    return cpu_features().intel ? int64_t{2048} : int64_t{0};
  }();
  return bytes;
}

}  // namespace edgefit::kernels
