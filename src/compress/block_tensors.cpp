#include "compress/block_tensors.h"

#include "compress/methods/gptq/gptq_block.h"
#include "quant/quant_traits.h"

namespace edgefit {

BlockTensors BlockTensors::load(const BlockJob& job) {
  BlockTensors b;
  b.names = block_linear_names(job.layer);
  for (size_t i = 0; i < 7; ++i) {
    const TensorView& v = job.source->get(b.names[i]).view;
    b.rows[i] = v.n_rows();
    b.cols[i] = v.row_size();
    b.w[i] = job.source_f32(b.names[i]);
  }
  const std::string p = "blk." + std::to_string(job.layer) + ".";
  b.attn_norm_name = p + "attn_norm.weight";
  b.ffn_norm_name = p + "ffn_norm.weight";
  b.attn_norm = job.source_f32(b.attn_norm_name);
  b.ffn_norm = job.source_f32(b.ffn_norm_name);
  return b;
}

void BlockTensors::put_norm(const BlockJob& job, const std::string& name,
                            const std::vector<float>& g) {
  const DType type = job.target_type(name);
  auto bytes = std::make_shared<std::vector<uint8_t>>(
      quantize_plain(g, 1, static_cast<int64_t>(g.size()), type, nullptr));
  job.put(name, type, *bytes);
  job.install(name, type, bytes);
}

}  // namespace edgefit
