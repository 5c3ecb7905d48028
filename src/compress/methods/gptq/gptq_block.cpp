#include "compress/methods/gptq/gptq_block.h"

#include <optional>

#include "compress/method_registry.h"
#include "quant/quant_traits.h"

namespace edgefit {

std::vector<uint8_t> quantize_plain(const std::vector<float>& w, int64_t rows, int64_t cols,
                                    DType type, const float* importance) {
  std::vector<uint8_t> out(quant_row_size(type, cols) * static_cast<size_t>(rows));
  quantize_tensor(type, w.data(), rows, cols, out.data(), importance);
  return out;
}

void GptqBlockMethod::compress(const BlockJob& job) {
  const auto names = block_linear_names(job.layer);
  std::array<std::optional<GptqHessian>, kNumGroups> prepared;
  for (int i = 0; i < 7; ++i) {
    const std::string& name = names[static_cast<size_t>(i)];
    const int g = static_cast<int>(group_of_linear(i));
    InputStats& st = (*job.stats)[static_cast<size_t>(g)];
    const DType type = job.target_type(name);
    const TensorView& v = job.source->get(name).view;
    const int64_t rows = v.n_rows(), cols = v.row_size();
    const std::vector<float> w = job.source_f32(name);
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    if (gptq_supports(type) && st.hessian) {
      if (!prepared[static_cast<size_t>(g)])
        prepared[static_cast<size_t>(g)] =
            gptq_prepare(st.hessian->finalize().data(), cols, options_);
      *bytes =
          gptq_quantize(w.data(), rows, cols, *prepared[static_cast<size_t>(g)], type, options_)
              .bytes;
    } else {
      const std::vector<float> imp = st.mean_sq();
      *bytes = quantize_plain(w, rows, cols, type,
                              imp.size() == static_cast<size_t>(cols) ? imp.data() : nullptr);
    }
    // The group's factor is no longer needed once its last weight is done.
    if (i == 2 || i == 3 || i == 5 || i == 6) prepared[static_cast<size_t>(g)].reset();
    job.put(name, type, *bytes);
    job.install(name, type, bytes);
  }
}

namespace {

std::unique_ptr<BlockMethod> make_gptq(const CalibratedOptions& co) {
  const GptqParams p = co.params.get<GptqParams>();
  GptqOptions g;
  g.percdamp = p.damp;
  g.act_order = p.act_order;
  g.block_size = p.block_size;
  return std::make_unique<GptqBlockMethod>(g);
}

std::vector<GgufKV> gptq_metadata(const CalibratedOptions& co) {
  const GptqParams p = co.params.get<GptqParams>();
  return {{"edgefit.gptq.damp", GgufValue::make_f32(static_cast<float>(p.damp))},
          {"edgefit.gptq.act_order", GgufValue::make_bool(p.act_order)},
          {"edgefit.gptq.block_size", GgufValue::make_u32(static_cast<uint32_t>(p.block_size))}};
}

bool gptq_param(std::string_view key, const nlohmann::ordered_json& v, const std::string& field,
                const std::string& file, CalibratedOptions& co) {
  GptqParams& p = co.params.of<GptqParams>();
  if (key == "damp")
    read_method_param(v, field, file, p.damp);
  else if (key == "act_order")
    read_method_param(v, field, file, p.act_order);
  else if (key == "block_size")
    read_method_param(v, field, file, p.block_size);
  else
    return false;
  return true;
}

std::string gptq_describe(const CalibratedOptions& co) {
  const GptqParams p = co.params.get<GptqParams>();
  return "damp=" + std::to_string(p.damp) + " act=" + std::to_string(p.act_order) +
         " blk=" + std::to_string(p.block_size);
}

constexpr MethodFlag kGptqFlags[] = {{"--act-order", "act_order", MethodFlag::Kind::kSwitch,
                                      "GPTQ: columns by decreasing Hessian diagonal"}};

}  // namespace

extern const CalibMethod kGptqMethod;
const CalibMethod kGptqMethod = {
    .name = "gptq",
    .summary = "GPTQ",
    .make = make_gptq,
    .metadata = gptq_metadata,
    .read_param = gptq_param,
    .describe = gptq_describe,
    .flags = kGptqFlags,
};

}  // namespace edgefit
