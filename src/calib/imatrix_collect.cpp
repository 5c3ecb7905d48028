#include "calib/imatrix_collect.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/transformer.h"

namespace edgefit {
namespace {

// Running Σx² per input column of one weight, over every token it has seen.
struct ColumnSums {
  std::vector<double> sum_sq;  // per column
  uint64_t tokens = 0;         // rows accumulated
};

}  // namespace

Imatrix collect_imatrix(const Model& model, const Tokenizer& tok, const CalibrationOptions& o) {
  if (o.files.empty()) throw Error("no calibration files given");
  if (!o.weights.empty() && o.weights.size() != o.files.size())
    throw Error("calibration weights: " + std::to_string(o.weights.size()) + " given for " +
                std::to_string(o.files.size()) + " files");
  const int ctx = o.ctx;
  const int32_t bos = tok.bos_id();

  // Tokenize every file and cut it into windows of ctx tokens, each starting with BOS.
  std::vector<std::vector<int32_t>> tokens(o.files.size());
  size_t fewest = SIZE_MAX;
  for (size_t f = 0; f < o.files.size(); ++f) {
    tokens[f] = tok.encode(read_file(o.files[f]), /*add_special=*/true, /*parse_special=*/false);
    if (tokens[f].size() < static_cast<size_t>(ctx))
      throw Error("calibration text has " + std::to_string(tokens[f].size()) + " tokens, fewer than one " +
                  std::to_string(ctx) + "-token chunk", o.files[f]);
    fewest = std::min(fewest, tokens[f].size());
  }
  // Default mix: equal tokens per file (the shortest file sets the budget), scaled by weights.
  const double w_max = o.weights.empty() ? 1.0 : *std::max_element(o.weights.begin(), o.weights.end());
  uint64_t budget = fewest;
  if (o.max_tokens_per_file > 0) budget = std::min<uint64_t>(budget, static_cast<uint64_t>(o.max_tokens_per_file));
  std::vector<std::pair<size_t, size_t>> chunks;  // (file, window index), interleaved by language
  std::vector<size_t> n_windows(o.files.size());
  for (size_t f = 0; f < o.files.size(); ++f) {
    const double share = o.weights.empty() ? 1.0 : o.weights[f] / w_max;
    const uint64_t want = static_cast<uint64_t>(std::llround(static_cast<double>(budget) * share));
    n_windows[f] = std::min<size_t>(want / static_cast<uint64_t>(ctx), tokens[f].size() / static_cast<size_t>(ctx));
  }
  for (size_t k = 0;; ++k) {
    bool any = false;
    for (size_t f = 0; f < o.files.size(); ++f)
      if (k < n_windows[f]) chunks.emplace_back(f, k), any = true;
    if (!any) break;
  }
  if (chunks.empty()) throw Error("calibration weights leave no chunk to run");

  Transformer t(model);
  std::map<std::string, ColumnSums> sums;
  t.set_activation_observer([&sums](const std::string& name, const float* x, int64_t n, int64_t width) {
    ColumnSums& s = sums[name];
    if (s.sum_sq.empty()) s.sum_sq.assign(static_cast<size_t>(width), 0.0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < width; ++j) {
        const double v = x[r * width + j];
        s.sum_sq[static_cast<size_t>(j)] += v * v;
      }
    s.tokens += static_cast<uint64_t>(n);
  });
  Progress progress("imatrix", chunks.size(), "chunks");
  if (!o.progress) Progress::set_quiet(true);
  KVCache cache = t.make_cache(ctx);
  std::vector<int32_t> window(static_cast<size_t>(ctx));
  for (const auto& [f, k] : chunks) {
    std::copy_n(tokens[f].begin() + static_cast<std::ptrdiff_t>(k * static_cast<size_t>(ctx)), ctx, window.begin());
    if (bos >= 0) window[0] = bos;
    cache.clear();
    t.forward(window, cache, nullptr, ctx);  // no logits needed: the head's input is still observed
    progress.advance();
  }
  progress.finish();
  if (!o.progress) Progress::set_quiet(false);

  Imatrix im;
  for (auto& [name, s] : sums) {
    ImatrixEntry e;
    e.mean_sq.resize(s.sum_sq.size());
    for (size_t j = 0; j < s.sum_sq.size(); ++j) e.mean_sq[j] = static_cast<float>(s.sum_sq[j] / static_cast<double>(s.tokens));
    e.counts = {s.tokens};
    im.entries[name] = std::move(e);
  }
  for (size_t f = 0; f < o.files.size(); ++f)
    im.datasets.push_back(std::filesystem::path(o.files[f]).filename().string() + ":" +
                          std::to_string(n_windows[f] * static_cast<size_t>(ctx)));
  im.chunk_count = chunks.size();
  im.chunk_size = static_cast<uint64_t>(ctx);
  im.format = "gguf";
  return im;
}

}  // namespace edgefit
