#include "compress/methods/prune_block.h"

#include <span>
#include <string_view>

#include "compress/method_registry.h"
#include "compress/methods/gptq/gptq_block.h"
#include "core/error.h"
#include "prune/owl.h"
#include "prune/score_prune.h"
#include "prune/sparse_formats.h"
#include "quant/q_sparse.h"

namespace edgefit {

SparsityPattern layer_pattern(const std::string& text, double owl_fraction) {
  const SparsityPattern p = SparsityPattern::parse(text);
  if (owl_fraction < 0 || p.is_n_of_m() || p.dense()) return p;
  return SparsityPattern::unstructured(owl_fraction);
}

MaskGroup mask_scope_for(DType type, MaskScope method_default, bool column_blocks) {
  // Dense types store whole rows, so the method's own comparison group is free. A sparse storage
  // type holds a bounded count of kept weights per 256-input block (q4_qmask62: per slot half,
  // for its fast kernel): every group must get its exact share (prune/sparse_formats.h checks
  // that the share fits before any work). q4_qmask62's halves are interleaved runs of 32: a method
  // that scores every weight first takes each half whole; SparseGPT, which fixes masks column
  // block by column block, bounds each run of 32 (12 kept), which bounds the halves too. (Wanda
  // at 0.625 on polyglot, 16 windows: per run +22 % pooled KLD against per 256-block; SparseGPT
  // +1.6 %, within noise.)
  if (!is_sparse_dtype(type)) return method_default;
  if (type == DType::Q4_QMASK62 && !column_blocks)
    return {MaskScope::kPerRowHalfBlock, kSparseBlock};
  return {MaskScope::kPerRowBlock, sparse_mask_block(type)};
}

std::vector<uint8_t> quantize_pruned(const std::vector<float>& w, int64_t rows, int64_t cols,
                                     DType type, const InputStats* stats) {
  std::vector<float> imp;
  if (stats && stats->width == cols) imp = stats->mean_sq();
  return quantize_plain(w, rows, cols, type, imp.empty() ? nullptr : imp.data());
}

void PruneBlockMethod::compress(const BlockJob& job) {
  const auto names = block_linear_names(job.layer);
  double owl_fraction = -1;
  if (owl_.enabled) {
    if (static_cast<size_t>(job.layer) >= owl_sparsity_.size())
      throw Error("OWL: no per-layer sparsity for block " + std::to_string(job.layer) +
                  " (the dense pass did not run)");
    owl_fraction = owl_sparsity_[static_cast<size_t>(job.layer)];
  }
  begin_block();
  for (int i = 0; i < 7; ++i) {
    const std::string& name = names[static_cast<size_t>(i)];
    InputStats& st = (*job.stats)[static_cast<size_t>(group_of_linear(i))];
    const TensorView& v = job.source->get(name).view;
    Linear l;
    l.name = &name;
    l.index = i;
    l.stats = &st;
    l.rows = v.n_rows();
    l.cols = v.row_size();
    l.type = job.target_type(name);
    const std::string text = job.target_sparsity ? job.target_sparsity(name) : "";
    std::vector<float> w = job.source_f32(name);
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    try {
      if (text.empty()) {  // a weight the rules leave dense is only rounded
        *bytes = quantize_pruned(w, l.rows, l.cols, l.type, &st);
      } else {
        l.pattern = layer_pattern(text, owl_fraction);
        l.pattern.check_row(l.cols, "'" + name + "'");
        *bytes = prune_linear(l, std::move(w));
      }
    } catch (const Error& e) {  // e.g. a sparse type's block over its capacity: say which weight
      if (std::string_view(e.what()).find(name) != std::string_view::npos) throw;
      throw Error("'" + name + "': " + e.what());
    }
    job.put(name, l.type, *bytes);
    job.install(name, l.type, bytes);
  }
  end_block();
}

void PruneBlockMethod::observe_dense(const BlockJob& job) {
  const auto names = block_linear_names(job.layer);
  std::vector<std::vector<float>> scores;
  int64_t params = 0;
  for (int i = 0; i < 7; ++i) {
    const std::string& name = names[static_cast<size_t>(i)];
    const std::string text = job.target_sparsity ? job.target_sparsity(name) : "";
    if (text.empty()) continue;
    const SparsityPattern p = SparsityPattern::parse(text);
    if (p.is_n_of_m())
      throw Error("--owl sets unstructured per-layer sparsities, but '" + name + "' asks for " +
                  text);
    if (owl_target_ < 0) owl_target_ = p.fraction();
    if (p.fraction() != owl_target_)
      throw Error("--owl needs one unstructured sparsity for every pruned weight, but '" + name +
                  "' asks for " + text + " and others for " +
                  SparsityPattern::unstructured(owl_target_).to_string());
    const InputStats& st = (*job.stats)[static_cast<size_t>(group_of_linear(i))];
    const TensorView& v = job.source->get(name).view;
    const int64_t rows = v.n_rows(), cols = v.row_size();
    if (st.width != cols) throw Error("OWL: no input statistics for '" + name + "'");
    const std::vector<float> w = job.source_f32(name);
    const std::vector<float> norms = channel_norms_from_sum_sq(st.sum_sq.data(), cols);
    scores.push_back(wanda_scores(w.data(), rows, cols, norms.data()));
    params += rows * cols;
  }
  const size_t layer = static_cast<size_t>(job.layer);
  if (owl_ratio_.size() <= layer) {
    owl_ratio_.resize(layer + 1, 0.0);
    owl_params_.resize(layer + 1, 0);
  }
  if (scores.empty()) return;  // nothing pruned in this block: it takes no part in OWL
  std::vector<std::span<const float>> spans(scores.begin(), scores.end());
  owl_ratio_[layer] = outlier_ratio(spans, owl_.m);
  owl_params_[layer] = params;
}

std::vector<float> PruneBlockMethod::dense_pass_result() {
  if (owl_target_ < 0) throw Error("--owl: no weight asks for an unstructured sparsity");
  std::vector<double> ratios;
  std::vector<int64_t> counts;
  for (size_t l = 0; l < owl_ratio_.size(); ++l)
    if (owl_params_[l] > 0) {
      ratios.push_back(owl_ratio_[l]);
      counts.push_back(owl_params_[l]);
    }
  OwlOptions o;
  o.target = owl_target_;
  o.lambda = owl_.lambda;
  const std::vector<double> s = owl_sparsities(ratios, counts, o);
  owl_sparsity_.assign(owl_ratio_.size(), static_cast<float>(owl_target_));
  for (size_t l = 0, k = 0; l < owl_ratio_.size(); ++l)
    if (owl_params_[l] > 0) owl_sparsity_[l] = static_cast<float>(s[k++]);
  return owl_sparsity_;
}

void PruneBlockMethod::restore_dense_pass(const std::vector<float>& saved) {
  owl_sparsity_ = saved;
}

std::vector<GgufKV> prune_metadata(const std::string& method, const CalibratedOptions& co) {
  std::vector<GgufKV> kv = {{"edgefit.prune.method", GgufValue::make_string(method)},
                            {"edgefit.prune.owl", GgufValue::make_bool(co.owl.enabled)}};
  if (co.owl.enabled) {
    kv.push_back(
        {"edgefit.prune.owl_lambda", GgufValue::make_f32(static_cast<float>(co.owl.lambda))});
    kv.push_back({"edgefit.prune.owl_m", GgufValue::make_f32(static_cast<float>(co.owl.m))});
  }
  return kv;
}

bool read_owl_param(std::string_view key, const nlohmann::ordered_json& v, const std::string& field,
                    const std::string& file, CalibratedOptions& co) {
  if (key == "owl")
    read_method_param(v, field, file, co.owl.enabled);
  else if (key == "owl_lambda")
    read_method_param(v, field, file, co.owl.lambda);
  else if (key == "owl_m")
    read_method_param(v, field, file, co.owl.m);
  else
    return false;
  return true;
}

}  // namespace edgefit
