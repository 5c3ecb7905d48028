#include "compress/layer_pipeline.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/process_memory.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "model/matmul.h"
#include "model/transformer.h"

namespace edgefit {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Adds the rows x[n, width] to a group's statistics.
void accumulate(InputStats& s, const StatsNeeds& needs, int64_t sample_stride, const float* x,
                int64_t n, int64_t width, const MatmulChoice& product) {
  if (s.width == 0) {
    s.width = width;
    s.sum_abs.assign(static_cast<size_t>(width), 0.0);
    s.sum_sq.assign(static_cast<size_t>(width), 0.0);
    s.max_abs.assign(static_cast<size_t>(width), 0.f);
    if (needs.hessian) s.hessian = std::make_unique<HessianAccumulator>(width);
  }
  for (int64_t r = 0; r < n; ++r) {
    const float* row = x + r * width;
    for (int64_t j = 0; j < width; ++j) {
      const float a = std::fabs(row[j]);
      s.sum_abs[static_cast<size_t>(j)] += a;
      s.sum_sq[static_cast<size_t>(j)] += static_cast<double>(a) * a;
      s.max_abs[static_cast<size_t>(j)] = std::max(s.max_abs[static_cast<size_t>(j)], a);
    }
    if (needs.sample_rows > 0 && (s.rows + r) % sample_stride == 0 &&
        s.sample_rows < needs.sample_rows) {
      s.sample.insert(s.sample.end(), row, row + width);
      ++s.sample_rows;
    }
  }
  if (s.hessian) {
    // XᵀX through matmul(), the runtime's SIMD kernels (several times faster than a portable
    // product), lower triangle only: with Xt = Xᵀ [width, n], the row panel [j0, j1) of XᵀX up to
    // column j1 is matmul(Xt[0, j1) as the weight, Xt[j0, j1) as the activations).
    s.xt.resize(static_cast<size_t>(n * width));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < width; ++j) s.xt[static_cast<size_t>(j * n + r)] = x[r * width + j];
    constexpr int64_t kPanel = 512;
    s.gram.resize(static_cast<size_t>(std::min(kPanel, width) * width));
    for (int64_t j0 = 0; j0 < width; j0 += kPanel) {
      const int64_t j1 = std::min(width, j0 + kPanel);
      const TensorView w =
          TensorView::contiguous(DType::F32, std::vector<int64_t>{j1, n}, s.xt.data());
      matmul(product, w, s.xt.data() + j0 * n, j1 - j0, s.gram.data());
      s.hessian->add_gram_rows(s.gram.data(), j0, j1);
    }
    s.hessian->count_rows(n);
  }
  s.rows += n;
}

int group_index_of(const std::string& name) {
  // The observer reports q, k, v (same input) then o, gate, up (same input), down: count each
  // input once, through its first weight.
  if (name.ends_with(".attn_q.weight")) return static_cast<int>(InputGroup::kAttnIn);
  if (name.ends_with(".attn_output.weight")) return static_cast<int>(InputGroup::kAttnOut);
  if (name.ends_with(".ffn_gate.weight")) return static_cast<int>(InputGroup::kFfnIn);
  if (name.ends_with(".ffn_down.weight")) return static_cast<int>(InputGroup::kFfnMid);
  return -1;
}

// Restores work's tensors of block `layer` to the source model's views, and lets the kernel drop
// the block's mapped weight pages from this process: the block is never read again, and without
// this every block's weights would stay in the resident set until the end (whole-page ranges
// inside each tensor only; the mappings are read-only, so the pages can always be re-read).
void restore_block(const Model& source, Model& work, int layer, bool release_pages) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (size_t i = 0; i < work.tensors.size(); ++i)
    if (work.tensors[i].name.starts_with(p)) {
      const ModelTensor* s = source.find(work.tensors[i].name);
      if (!s) continue;
      work.tensors[i].view = s->view;
      if (!release_pages || !s->view.is_contiguous()) continue;
      const auto begin = reinterpret_cast<uintptr_t>(s->view.data);
      const uintptr_t first = (begin + page - 1) / page * page,
                      last = (begin + s->view.nbytes()) / page * page;
      if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
}

}  // namespace

BlockJob make_block_job(int layer, const Model& source, Model& work,
                        std::array<InputStats, kNumGroups>& stats,
                        const std::function<DType(const std::string&)>& target_type,
                        const std::function<std::string(const std::string&)>& target_sparsity,
                        WorkDir& wd, std::vector<std::shared_ptr<const void>>& keep) {
  BlockJob job;
  job.layer = layer;
  job.source = &source;
  job.work = &work;
  job.stats = &stats;
  job.target_type = target_type;
  job.target_sparsity = target_sparsity;
  job.put = [&wd](const std::string& name, DType type, const std::vector<uint8_t>& bytes) {
    wd.save_tensor(name, type, bytes);
  };
  job.keep = &keep;
  return job;
}

PipelineResult run_layer_pipeline(const Model& model, const CalibrationWindows& cw,
                                  BlockMethod& method, WorkDir& wd,
                                  const std::function<DType(const std::string&)>& target_type,
                                  const PipelineOptions& o) {
  const ArchConfig& c = model.config;
  if (cw.windows.empty()) throw Error("no calibration windows");
  const int64_t L = static_cast<int64_t>(cw.windows[0].size());
  for (const auto& w : cw.windows)
    if (static_cast<int64_t>(w.size()) != L) throw Error("calibration windows differ in length");
  const int64_t N = static_cast<int64_t>(cw.windows.size()), d = c.d_model;
  PipelineResult res;
  res.tokens = N * L;

  Model work = model;  // same mmaps; block tensors get re-pointed one block at a time
  method.prepare(work);
  work.index();
  Transformer t(work, o.matmul);
  const StatsNeeds needs = method.needs();

  // Hidden states [N·L, d]: the embeddings, or the saved state after the last finished block.
  std::vector<float> hidden(static_cast<size_t>(N * L * d));
  const int done = std::min(wd.last_done_block(), c.n_layers - 1);
  if (done >= 0 && wd.load_hidden(done, hidden)) {
    res.first_block_run = done + 1;
  } else {
    res.first_block_run = 0;
    const TensorView& emb = work.get("token_embd.weight").view;
    for (int64_t s = 0; s < N; ++s)
      for (int64_t i = 0; i < L; ++i) {
        const int32_t id = cw.windows[static_cast<size_t>(s)][static_cast<size_t>(i)];
        if (id < 0 || id >= c.vocab_size) throw Error("calibration token outside the vocabulary");
        dequantize_row(emb, id, hidden.data() + (s * L + i) * d);
      }
  }
  if (res.first_block_run > 0 && o.progress)
    std::fprintf(stderr, "%s: resuming after block %d (state in %s)\n", method.name().c_str(),
                 res.first_block_run - 1, wd.path().c_str());

  KVCache cache = t.make_cache(L);
  const int n_run = c.n_layers - res.first_block_run;
  Progress progress(method.name() + " blocks", static_cast<uint64_t>(std::max(n_run, 0)), "blocks");
  if (!o.progress) Progress::set_quiet(true);
  std::vector<float> scratch(static_cast<size_t>(L * d));
  for (int layer = res.first_block_run; layer < c.n_layers; ++layer) {
    const auto t_block = Clock::now();
    // 1. The ORIGINAL block on the current inputs, observed.
    std::array<InputStats, kNumGroups> stats;
    const int64_t stride =
        needs.sample_rows > 0 ? std::max<int64_t>(1, (N * L) / needs.sample_rows) : 1;
    double stats_s = 0;
    t.set_activation_observer(
        [&](const std::string& name, const float* x, int64_t n, int64_t width) {
          const int g = group_index_of(name);
          if (g < 0) return;
          const auto t0 = Clock::now();
          accumulate(stats[static_cast<size_t>(g)], needs, stride, x, n, width, o.matmul);
          stats_s += since(t0);
        });
    auto t0 = Clock::now();
    for (int64_t s = 0; s < N; ++s) {
      std::memcpy(scratch.data(), hidden.data() + s * L * d,
                  sizeof(float) * static_cast<size_t>(L * d));
      cache.clear();
      t.forward_block(layer, scratch.data(), L, cache);
    }
    t.set_activation_observer({});
    res.forward_seconds += since(t0) - stats_s;
    res.stats_seconds += stats_s;

    // 2. The method compresses the block.
    t0 = Clock::now();
    std::vector<std::shared_ptr<const void>> keep;
    method.compress(
        make_block_job(layer, model, work, stats, target_type, o.target_sparsity, wd, keep));
    for (auto& s : stats) {  // free the statistics before the next forward
      s.hessian.reset();
      s.gram = {};
      s.xt = {};
    }
    t.rebind_layer(layer);
    res.method_seconds += since(t0);

    // 3. The COMPRESSED block on the same inputs gives the next block's inputs.
    t0 = Clock::now();
    for (int64_t s = 0; s < N; ++s) {
      cache.clear();
      t.forward_block(layer, hidden.data() + s * L * d, L, cache);
    }
    res.forward_seconds += since(t0);
    restore_block(model, work, layer, o.release_pages);
    t.rebind_layer(layer);
    keep.clear();

    wd.save_hidden(layer, hidden);
    wd.mark_done(layer);
    res.block_seconds.push_back(since(t_block));
    progress.advance();
    if (layer == o.stop_after_block)
      throw Error("stopped after block " + std::to_string(layer) + " (stop_after_block)",
                  wd.path());
  }
  progress.finish();
  if (!o.progress) Progress::set_quiet(false);

  // The output head's importance: mean x² of RMSNorm(final hidden) · output_norm.
  if (!wd.load_floats("output_importance", res.output_importance)) {
    std::vector<float> g(static_cast<size_t>(d));
    {
      const TensorView& v = work.get("output_norm.weight").view;
      TensorView flat = TensorView::contiguous(v.dtype, std::vector<int64_t>{d}, v.data);
      dequantize_row(flat, 0, g.data());
    }
    std::vector<double> sq(static_cast<size_t>(d), 0.0);
    for (int64_t r = 0; r < N * L; ++r) {
      const float* x = hidden.data() + r * d;
      double ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(x[j]) * x[j];
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + c.rms_eps);
      for (int64_t j = 0; j < d; ++j) {
        const double y = x[j] * inv * g[static_cast<size_t>(j)];
        sq[static_cast<size_t>(j)] += y * y;
      }
    }
    res.output_importance.resize(static_cast<size_t>(d));
    for (int64_t j = 0; j < d; ++j)
      res.output_importance[static_cast<size_t>(j)] =
          static_cast<float>(sq[static_cast<size_t>(j)] / static_cast<double>(N * L));
    wd.save_floats("output_importance", res.output_importance);
  }
  res.peak_rss_bytes = peak_rss_bytes();
  return res;
}

}  // namespace edgefit
