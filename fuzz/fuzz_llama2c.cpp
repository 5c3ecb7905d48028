// libFuzzer target: llama2.c checkpoints.
#include "formats/llama2c.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgefit::fuzz::MemFile f(data, size);
  try {
    const edgefit::Model m = edgefit::load_llama2c(f.path());
    for (const auto& t : m.tensors) (void)t.view.data[t.view.nbytes() - 1];
  } catch (const edgefit::Error&) {
  }
  return 0;
}
