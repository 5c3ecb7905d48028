#include "export/write_quantized_gguf.h"

#include <chrono>
#include <filesystem>

#include "formats/gguf_writer.h"

namespace edgefit {

QuantizeResult write_quantized_gguf(const QuantizePlan& plan, const std::string& output,
                                    const TensorProducer& produce,
                                    const std::function<void(const QuantizedTensor&)>& on_tensor) {
  const auto start = std::chrono::steady_clock::now();
  GgufWriter w;
  // GgufWriter takes its padding from general.alignment when the metadata has it.
  for (const auto& kv : plan.metadata) w.set(kv.key, kv.value);
  QuantizeResult r;
  r.ftype = plan.ftype;
  for (const auto& t : plan.tensors) {
    w.add_tensor({t.name, t.to, t.ne, [&t, &produce, &on_tensor](AtomicFileWriter& out) {
                    produce(t, out);
                    if (on_tensor) on_tensor(t);
                  }});
    r.tensors.push_back(t);
    r.n_params += t.numel();
    r.tensor_bytes += t.bytes;
  }
  w.write(output);
  r.file_bytes = std::filesystem::file_size(output);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace edgefit
