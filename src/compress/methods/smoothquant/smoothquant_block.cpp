#include "compress/methods/smoothquant/smoothquant_block.h"

#include <cstring>
#include <map>

#include "compress/block_tensors.h"
#include "compress/method_registry.h"
#include "compress/methods/awq/awq.h"
#include "core/error.h"
#include "export/w8a8_safetensors.h"
#include "formats/hf_config.h"
#include "formats/qk_permute.h"
#include "formats/safetensors.h"
#include "model/transformer.h"
#include "quant/quant_traits.h"

namespace edgefit {
void SmoothQuantBlockMethod::prepare(Model& work) {
  int64_t widest = 0;
  std::vector<std::pair<std::string, int64_t>> add;
  for (const auto& t : work.tensors)
    if (is_block_linear_weight(t.name)) {
      add.emplace_back(t.name + "_scale", t.view.shape[0]);
      widest = std::max(widest, t.view.shape[0]);
    }
  zeros_ = std::make_shared<std::vector<float>>(static_cast<size_t>(widest), 0.f);
  for (const auto& [name, rows] : add) {
    if (work.find(name)) continue;
    ModelTensor mt;
    mt.name = name;
    mt.view = TensorView::contiguous(DType::F32, std::vector<int64_t>{rows}, zeros_->data());
    mt.source = "(smoothquant)";
    work.tensors.push_back(std::move(mt));
  }
  work.keep_alive.push_back(zeros_);
}

void SmoothQuantBlockMethod::compress(const BlockJob& job) {
  BlockTensors b = BlockTensors::load(job);
  auto& st = *job.stats;
  auto smooth = [&](InputGroup g, std::initializer_list<int> linears) {
    const InputStats& s = st[static_cast<size_t>(g)];
    std::vector<WeightRef> ws;
    for (int i : linears)
      ws.push_back({b.w[static_cast<size_t>(i)].data(), b.rows[static_cast<size_t>(i)]});
    const std::vector<float> sc = smoothquant_scales(s.max_abs.data(), ws, s.width, options_.alpha);
    for (int i : linears)
      scale_columns(b.w[static_cast<size_t>(i)].data(), b.rows[static_cast<size_t>(i)], s.width,
                    sc.data());
    return sc;
  };
  // down first: its factors go into up's rows before up is smoothed and quantized.
  const auto s_down = smooth(InputGroup::kFfnMid, {6});
  fold_into_rows(b.w[5].data(), b.rows[5], b.cols[5], s_down.data());
  // (v rows = o columns: as many KV heads as query heads in this layer, whatever the others.)
  if (b.rows[2] == b.cols[3]) {
    const auto s_o = smooth(InputGroup::kAttnOut, {3});
    fold_into_rows(b.w[2].data(), b.rows[2], b.cols[2], s_o.data());
  }
  const auto s_attn = smooth(InputGroup::kAttnIn, {0, 1, 2});
  fold_into_gain(b.attn_norm.data(), static_cast<int64_t>(b.attn_norm.size()), s_attn.data());
  const auto s_ffn = smooth(InputGroup::kFfnIn, {4, 5});
  fold_into_gain(b.ffn_norm.data(), static_cast<int64_t>(b.ffn_norm.size()), s_ffn.data());

  for (size_t i = 0; i < 7; ++i) {
    auto q = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(b.rows[i] * b.cols[i]));
    auto scale =
        std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(b.rows[i]) * sizeof(float));
    quantize_int8_per_channel(b.w[i].data(), b.rows[i], b.cols[i],
                              reinterpret_cast<int8_t*>(q->data()),
                              reinterpret_cast<float*>(scale->data()));
    job.put(b.names[i], DType::I8, *q);
    job.put(b.names[i] + "_scale", DType::F32, *scale);
    job.install(b.names[i], DType::I8, q);
    job.install(b.names[i] + "_scale", DType::F32, scale);
  }
  BlockTensors::put_norm(job, b.attn_norm_name, b.attn_norm);
  BlockTensors::put_norm(job, b.ffn_norm_name, b.ffn_norm);
}

void smoothquant_adapt_plan(QuantizePlan& plan) {
  std::vector<QuantizedTensor> out;
  for (auto t : plan.tensors) {
    if (!is_block_linear_weight(t.name)) {
      out.push_back(std::move(t));
      continue;
    }
    const uint64_t rows = t.ne.size() > 1 ? t.ne[1] : 1;
    t.to = DType::I8;
    t.bytes = t.ne[0] * rows;
    t.note = "W8A8 (SmoothQuant)";
    QuantizedTensor s;
    s.name = t.name + "_scale";
    s.ne = {rows};
    s.from = DType::F32;
    s.to = DType::F32;
    s.bytes = rows * sizeof(float);
    s.note = "W8A8 per-channel scale";
    out.push_back(std::move(t));
    out.push_back(std::move(s));
  }
  plan.tensors = std::move(out);
}

void smoothquant_write_safetensors(const Model& model, const QuantizePlan& plan, const WorkDir& wd,
                                   const std::string& path) {
  write_w8a8_safetensors(
      model, plan,
      [&wd](const std::string& name) -> std::optional<std::vector<uint8_t>> {
        if (!wd.has_tensor(name)) return std::nullopt;
        return wd.load_tensor(name);
      },
      path);
}

namespace {

std::unique_ptr<BlockMethod> make_smoothquant(const CalibratedOptions& co) {
  SmoothQuantOptions s;
  s.alpha = co.params.get<SmoothQuantParams>().alpha;
  return std::make_unique<SmoothQuantBlockMethod>(s);
}

std::vector<GgufKV> smoothquant_metadata(const CalibratedOptions& co) {
  const float alpha = static_cast<float>(co.params.get<SmoothQuantParams>().alpha);
  return {{"edgefit.w8a8", GgufValue::make_bool(true)},
          {"edgefit.smoothquant.alpha", GgufValue::make_f32(alpha)}};
}

bool smoothquant_param(std::string_view key, const nlohmann::ordered_json& v,
                       const std::string& field, const std::string& file, CalibratedOptions& co) {
  if (key != "alpha") return false;
  read_method_param(v, field, file, co.params.of<SmoothQuantParams>().alpha);
  return true;
}

std::string smoothquant_describe(const CalibratedOptions& co) {
  return "alpha=" + std::to_string(co.params.get<SmoothQuantParams>().alpha);
}

constexpr MethodFlag kSmoothQuantFlags[] = {{"--sq-alpha", "alpha", MethodFlag::Kind::kNumber,
                                             "SmoothQuant migration strength (default 0.5)"}};

}  // namespace

// Embeddings and the head stay 16-bit ("f16"); the linear weights become I8 (adapt_plan).
extern const CalibMethod kSmoothQuantMethod;
const CalibMethod kSmoothQuantMethod = {
    .name = "smoothquant",
    .summary = "SmoothQuant (W8A8)",
    .make = make_smoothquant,
    .metadata = smoothquant_metadata,
    .read_param = smoothquant_param,
    .output_preset = "f16",
    .adapt_plan = smoothquant_adapt_plan,
    .write_safetensors = smoothquant_write_safetensors,
    .describe = smoothquant_describe,
    .flags = kSmoothQuantFlags,
};

}  // namespace edgefit
