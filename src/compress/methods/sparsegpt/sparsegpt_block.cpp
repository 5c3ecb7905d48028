#include "compress/methods/sparsegpt/sparsegpt_block.h"

#include "compress/method_registry.h"
#include "core/error.h"

namespace edgefit {

std::vector<uint8_t> SparseGptBlockMethod::prune_linear(const Linear& l, std::vector<float> w) {
  const size_t g = static_cast<size_t>(group_of_linear(l.index));
  if (!l.stats->hessian) throw Error("sparsegpt: no Hessian for '" + *l.name + "'");
  if (!h_[g]) h_[g] = gptq_prepare(l.stats->hessian->finalize().data(), l.cols, options_.gptq);
  SparseGptOptions o;
  o.pattern = l.pattern;
  o.scope = mask_scope_for(l.type, options_.scope, /*column_blocks=*/true);
  o.mask_block = options_.mask_block;
  o.type = sparsegpt_grid(l.type) ? l.type : DType::F32;  // joint pass where there is a grid
  o.gptq = options_.gptq;
  SparseGptResult r = sparsegpt_prune(w.data(), l.rows, l.cols, *h_[g], o);
  // The group's factor is no longer needed once its last weight is done.
  if (l.index == 2 || l.index == 3 || l.index == 5 || l.index == 6) h_[g].reset();
  if (o.type != DType::F32) return std::move(r.bytes);
  return quantize_pruned(r.weights, l.rows, l.cols, l.type, l.stats);
}

void SparseGptBlockMethod::end_block() {
  for (auto& h : h_) h.reset();
}

namespace {

std::unique_ptr<BlockMethod> make_sparsegpt(const CalibratedOptions& co) {
  const SparseGptParams p = co.params.get<SparseGptParams>();
  SparseGptMethodOptions o;
  o.gptq.percdamp = p.damp;
  o.gptq.block_size = p.block_size;
  return std::make_unique<SparseGptBlockMethod>(o, co.owl);
}

std::vector<GgufKV> sparsegpt_metadata(const CalibratedOptions& co) {
  const SparseGptParams p = co.params.get<SparseGptParams>();
  std::vector<GgufKV> kv = prune_metadata("sparsegpt", co);
  kv.push_back({"edgefit.sparsegpt.damp", GgufValue::make_f32(static_cast<float>(p.damp))});
  kv.push_back(
      {"edgefit.sparsegpt.block_size", GgufValue::make_u32(static_cast<uint32_t>(p.block_size))});
  return kv;
}

bool sparsegpt_param(std::string_view key, const nlohmann::ordered_json& v,
                     const std::string& field, const std::string& file, CalibratedOptions& co) {
  SparseGptParams& p = co.params.of<SparseGptParams>();
  if (key == "damp")
    read_method_param(v, field, file, p.damp);
  else if (key == "block_size")
    read_method_param(v, field, file, p.block_size);
  else
    return read_owl_param(key, v, field, file, co);
  return true;
}

std::string sparsegpt_describe(const CalibratedOptions& co) {
  const SparseGptParams p = co.params.get<SparseGptParams>();
  return "damp=" + std::to_string(p.damp) + " blk=" + std::to_string(p.block_size);
}

}  // namespace

extern const CalibMethod kSparseGptMethod;
const CalibMethod kSparseGptMethod = {
    .name = "sparsegpt",
    .summary = "SparseGPT pruning (OBS; joint with GPTQ formats)",
    .make = make_sparsegpt,
    .metadata = sparsegpt_metadata,
    .read_param = sparsegpt_param,
    .prunes = true,
    .describe = sparsegpt_describe,
};

}  // namespace edgefit
