// libFuzzer target: a device profile's JSON → DeviceProfile. Every number is range-checked, so an
// accepted profile must hold sane values; anything else is a bug in the checks.
#include <string>

#include "core/error.h"
#include "plan/device_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const edgefit::DeviceProfile d = edgefit::parse_device(
        std::string(reinterpret_cast<const char*>(data), size), "device.json");
    if (!d.measured && (d.ram_bytes == 0 || d.ram_bytes > (uint64_t{1} << 50) || d.cores <= 0 ||
                        !(d.bandwidth_gbs > 0) || d.bandwidth_gbs > 1e4))
      __builtin_trap();
  } catch (const edgefit::Error&) {
  }
  return 0;
}
