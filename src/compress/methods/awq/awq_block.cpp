#include "compress/methods/awq/awq_block.h"

#include <cstdio>

#include "compress/block_tensors.h"
#include "compress/method_registry.h"
#include "compress/methods/gptq/gptq_block.h"

namespace edgefit {
namespace {

std::vector<float> mean_abs_of(const InputStats& s) {
  std::vector<float> m(s.sum_abs.size());
  for (size_t j = 0; j < m.size(); ++j)
    m[j] = static_cast<float>(s.sum_abs[j] / static_cast<double>(std::max<int64_t>(s.rows, 1)));
  return m;
}

}  // namespace

void AwqBlockMethod::compress(const BlockJob& job) {
  BlockTensors b = BlockTensors::load(job);
  auto& st = *job.stats;
  std::array<std::vector<float>, 7> importance;
  std::array<DType, 7> types;
  for (size_t i = 0; i < 7; ++i) types[i] = job.target_type(b.names[i]);

  // Searches and applies the scales of one input group; returns the importance for its weights.
  auto search = [&](InputGroup g, std::initializer_list<int> linears) {
    const InputStats& s = st[static_cast<size_t>(g)];
    const int64_t cols = s.width;
    std::vector<AwqLinear> ls;
    for (int i : linears)
      ls.push_back({b.w[static_cast<size_t>(i)].data(), b.rows[static_cast<size_t>(i)],
                    types[static_cast<size_t>(i)]});
    const std::vector<float> mabs = mean_abs_of(s), msq = s.mean_sq();
    const AwqSearch r =
        awq_search(ls, cols, s.sample.data(), s.sample_rows, mabs.data(), msq.data(), options_);
    for (int i : linears)
      scale_columns(b.w[static_cast<size_t>(i)].data(), b.rows[static_cast<size_t>(i)], cols,
                    r.scales.data());
    std::vector<float> imp(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j)
      imp[static_cast<size_t>(j)] =
          msq[static_cast<size_t>(j)] /
          (r.scales[static_cast<size_t>(j)] * r.scales[static_cast<size_t>(j)]);
    for (int i : linears) importance[static_cast<size_t>(i)] = imp;
    return r.scales;
  };

  // 1. down, folded into up's rows.
  const auto s_down = search(InputGroup::kFfnMid, {6});
  fold_into_rows(b.w[5].data(), b.rows[5], b.cols[5], s_down.data());
  // 2. o, folded into v's rows when shapes allow.
  // (v rows = o columns: as many KV heads as query heads in this layer, whatever the others.)
  if (b.rows[2] == b.cols[3]) {
    const auto s_o = search(InputGroup::kAttnOut, {3});
    fold_into_rows(b.w[2].data(), b.rows[2], b.cols[2], s_o.data());
  } else {
    importance[3] = st[static_cast<size_t>(InputGroup::kAttnOut)].mean_sq();
  }
  // 3. q/k/v into attn_norm; 4. gate/up into ffn_norm.
  const auto s_attn = search(InputGroup::kAttnIn, {0, 1, 2});
  fold_into_gain(b.attn_norm.data(), static_cast<int64_t>(b.attn_norm.size()), s_attn.data());
  const auto s_ffn = search(InputGroup::kFfnIn, {4, 5});
  fold_into_gain(b.ffn_norm.data(), static_cast<int64_t>(b.ffn_norm.size()), s_ffn.data());

  for (size_t i = 0; i < 7; ++i) {
    const bool has_imp = importance[i].size() == static_cast<size_t>(b.cols[i]);
    auto bytes = std::make_shared<std::vector<uint8_t>>(quantize_plain(
        b.w[i], b.rows[i], b.cols[i], types[i], has_imp ? importance[i].data() : nullptr));
    job.put(b.names[i], types[i], *bytes);
    job.install(b.names[i], types[i], bytes);
  }
  BlockTensors::put_norm(job, b.attn_norm_name, b.attn_norm);
  BlockTensors::put_norm(job, b.ffn_norm_name, b.ffn_norm);
}

namespace {

std::unique_ptr<BlockMethod> make_awq(const CalibratedOptions& co) {
  const AwqParams p = co.params.get<AwqParams>();
  AwqOptions a;
  a.grid = p.grid;
  return std::make_unique<AwqBlockMethod>(a, p.sample_tokens);
}

std::vector<GgufKV> awq_metadata(const CalibratedOptions& co) {
  return {{"edgefit.awq.grid",
           GgufValue::make_u32(static_cast<uint32_t>(co.params.get<AwqParams>().grid))}};
}

bool awq_param(std::string_view key, const nlohmann::ordered_json& v, const std::string& field,
               const std::string& file, CalibratedOptions& co) {
  AwqParams& p = co.params.of<AwqParams>();
  if (key == "grid")
    read_method_param(v, field, file, p.grid);
  else if (key == "sample_tokens")
    read_method_param(v, field, file, p.sample_tokens);
  else
    return false;
  return true;
}

std::string awq_describe(const CalibratedOptions& co) {
  const AwqParams p = co.params.get<AwqParams>();
  return "grid=" + std::to_string(p.grid) + " awqtok=" + std::to_string(p.sample_tokens);
}

}  // namespace

extern const CalibMethod kAwqMethod;
const CalibMethod kAwqMethod = {
    .name = "awq",
    .summary = "AWQ",
    .make = make_awq,
    .metadata = awq_metadata,
    .read_param = awq_param,
    .describe = awq_describe,
};

}  // namespace edgefit
