// libFuzzer target: the GGUF reader must accept or reject any bytes with an Error, never crash.
#include "formats/gguf.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgefit::fuzz::MemFile f(data, size);
  try {
    edgefit::GgufFile g(f.path());
    // Touch what a consumer would: every value's display form and every tensor view.
    for (const auto& kv : g.kvs()) (void)kv.value.to_display();
    for (const auto& t : g.tensors()) {
      const auto v = g.view(t);
      if (v.nbytes() > 0) (void)v.data[v.nbytes() - 1];
    }
  } catch (const edgefit::Error&) {
  }
  return 0;
}
