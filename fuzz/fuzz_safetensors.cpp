// libFuzzer target: the safetensors header parser.
#include "formats/safetensors.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgefit::fuzz::MemFile f(data, size);
  try {
    edgefit::SafetensorsFile st(f.path());
    for (const auto& e : st.tensors())
      if (e.nbytes > 0) (void)st.data(e)[e.nbytes - 1];
  } catch (const edgefit::Error&) {
  }
  return 0;
}
