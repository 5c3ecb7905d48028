#include "calib/imatrix_collect.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "calib/calib_data.h"
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
  const int ctx = o.ctx;
  // Windows of ctx tokens, each starting with BOS, interleaved by language (calib_data.h).
  CalibrationDraw draw;
  draw.files = o.files;
  draw.weights = o.weights;
  draw.ctx = ctx;
  draw.max_tokens_per_file = o.max_tokens_per_file;
  const CalibrationWindows cw = draw_calibration_windows(tok, draw);
  const std::vector<size_t>& n_windows = cw.per_file;

  Transformer t(model);
  std::map<std::string, ColumnSums> sums;
  t.set_activation_observer(
      [&sums](const std::string& name, const float* x, int64_t n, int64_t width) {
        ColumnSums& s = sums[name];
        if (s.sum_sq.empty()) s.sum_sq.assign(static_cast<size_t>(width), 0.0);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t j = 0; j < width; ++j) {
            const double v = x[r * width + j];
            s.sum_sq[static_cast<size_t>(j)] += v * v;
          }
        s.tokens += static_cast<uint64_t>(n);
      });
  Progress progress("imatrix", cw.windows.size(), "chunks");
  if (!o.progress) Progress::set_quiet(true);
  KVCache cache = t.make_cache(ctx);
  for (const auto& window : cw.windows) {
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
    for (size_t j = 0; j < s.sum_sq.size(); ++j)
      e.mean_sq[j] = static_cast<float>(s.sum_sq[j] / static_cast<double>(s.tokens));
    e.counts = {s.tokens};
    im.entries[name] = std::move(e);
  }
  for (size_t f = 0; f < o.files.size(); ++f)
    im.datasets.push_back(std::filesystem::path(o.files[f]).filename().string() + ":" +
                          std::to_string(n_windows[f] * static_cast<size_t>(ctx)));
  im.chunk_count = cw.windows.size();
  im.chunk_size = static_cast<uint64_t>(ctx);
  im.format = "gguf";
  return im;
}

}  // namespace edgefit
