// libFuzzer target: config.json → ArchConfig.
#include <string>

#include "core/error.h"
#include "formats/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)edgefit::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size),
                                   "config.json");
  } catch (const edgefit::Error&) {
  }
  return 0;
}
