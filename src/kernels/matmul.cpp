// kernels_matmul: quantize the activations once per call, then split output rows over the pool.
// Several weights that read the same input (q/k/v, gate/up) run as ONE job: activations are
// quantized once and the pool is woken once.
//
// The split is in fixed tasks of kRowsPerTask rows (a multiple of the 4-row register tile), so
// which rows share a tile never depends on the thread count; with the canonical accumulation order
// (kernels.h) 1 and N threads give identical floats. A gemm task's weights (64 rows) stay in L2
// while the gemm walks its 64-token blocks; gemv tasks are 16 rows so 2 threads balance.
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace kernels {

namespace {

// Rows per parallel task: small for gemv so 2 threads balance, larger for gemm so a task's
// unpacked panel is reused by many tokens. Both are whole row-interleaved groups (kernels.h), so a
// task never splits one.
int64_t rows_per_task(int64_t n_tokens) {
  return n_tokens == 1 ? 16 : 64;
}
static_assert(16 % kInterleaveRows == 0 && 64 % kInterleaveRows == 0);

size_t row_stride(const TensorView& w) {
  if (w.n_rows() <= 1) return w.row_bytes();
  if (w.ndim > 2 && !w.is_contiguous()) {
    throw Error("kernels_matmul: weight " + w.shape_string() + " is not contiguous");
  }
  return static_cast<size_t>(w.row(1) - w.row(0));
}

// Formats without kernels (no preset writes one: kernels_presets_test): dequantize one row at a
// time, then f32 dots.
void matmul_dequant(const KernelDispatch& kd, const TensorView& w, const float* x, int64_t n_tokens,
                    float* y, ThreadPool& pool) {
  const QuantTraits* qt = quant_traits(w.dtype);
  if (qt == nullptr) {
    throw Error("kernels_matmul: no kernel or dequantizer for " + std::string(dtype_name(w.dtype)));
  }
  const int64_t n_in = w.row_size(), n_out = w.n_rows();
  pool.parallel_for(n_out, 4, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r = r0; r < r1; ++r) {
      qt->dequantize_row(w.row(r), row.data(), n_in);
      for (int64_t t = 0; t < n_tokens; ++t) {
        y[t * n_out + r] = kd.at(KernelSlot::kF32).vec_dot(n_in, row.data(), x + t * n_in);
      }
    }
  });
}

}  // namespace

void matmul_multi_with(const KernelDispatch& kd, std::span<const TensorView* const> ws,
                       const float* x, int64_t n_tokens, std::span<float* const> ys,
                       ThreadPool* pool_in) {
  if (ws.size() != ys.size()) throw Error("matmul_multi: weights and outputs differ in count");
  if (n_tokens <= 0 || ws.empty()) return;
  ThreadPool& pool = pool_in ? *pool_in : ThreadPool::global();
  const int64_t n_in = ws[0]->row_size();
  // One product of the job: its kernels, row stride and prepared activations.
  struct Part {
    const TensorView* w;
    float* y;
    const FormatKernels* fk;
    size_t w_stride;
    const void* act;     // prepared activation rows (x itself for f32 kernels)
    size_t act_stride;   // bytes between prepared activation rows
    int act_slot;        // which prepared activation buffer (-1: x itself)
    int64_t first_task;  // index of its first task in the job
  };
  std::vector<Part> parts;
  parts.reserve(ws.size());
  // Activations are prepared once per layout (prepare_act function) for all products: Q4_K and
  // Q6_K both take Q8_K activations, but regrouped differently.
  // At most one layout per kernel slot.
  PrepareActFn act_preps[kNumKernelSlots];
  size_t act_offsets[kNumKernelSlots];
  int n_act_types = 0;
  size_t act_bytes = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const TensorView& w = *ws[i];
    if (w.row_size() != n_in) throw Error("matmul_multi: weights differ in input width");
    if (w.n_rows() == 0) continue;
    const FormatKernels* fk = kd.find(w);
    if (w.packing != 0 && fk == nullptr)
      throw Error("matmul: this kernel table (" + std::string(kd.isa_name) +
                  ") cannot read repacked weights");
    if (w.packing != 0 &&
        (n_in % fk->block_size != 0 || w.n_rows() % packing_group_rows(w.packing) != 0))
      throw Error("matmul: repacked weight " + w.shape_string() + " is not in whole packed groups");
    if (fk == nullptr || n_in % fk->block_size != 0) {
      matmul_dequant(kd, w, x, n_tokens, ys[i], pool);
      continue;
    }
    Part part{&w, ys[i], fk, row_stride(w), x, static_cast<size_t>(n_in) * sizeof(float), -1, 0};
    if (fk->act_type != DType::F32) {
      part.act_stride = (fk->act_row_bytes(n_in) + 63) / 64 * 64;
      int a = 0;
      while (a < n_act_types && act_preps[a] != fk->prepare_act) ++a;
      if (a == n_act_types) {
        if (n_act_types == kNumKernelSlots)
          throw Error("matmul_multi: too many activation layouts in one job");
        act_preps[n_act_types++] = fk->prepare_act;
        act_offsets[a] = act_bytes;
        act_bytes += part.act_stride * static_cast<size_t>(n_tokens);
      }
      part.act_slot = a;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return;
  auto* buf = static_cast<uint8_t*>(
      detail::thread_scratch(std::max<size_t>(act_bytes, 64), detail::ScratchSlot::kActivations));
  for (int a = 0; a < n_act_types; ++a) {
    const Part& p =
        *std::find_if(parts.begin(), parts.end(), [&](const Part& q) { return q.act_slot == a; });
    uint8_t* dst = buf + act_offsets[a];
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        p.fk->prepare_act(x + t * n_in, n_in, dst + t * p.act_stride);
    });
  }
  for (Part& p : parts)
    if (p.act_slot >= 0) p.act = buf + act_offsets[p.act_slot];
  // Tasks of every product in one job: the pool is woken once, and 2 threads balance the sum.
  const int64_t rpt = rows_per_task(n_tokens);
  int64_t n_tasks = 0;
  for (Part& p : parts) {
    p.first_task = n_tasks;
    n_tasks += (p.w->n_rows() + rpt - 1) / rpt;
  }
  // parallel_for's contiguous chunks, long at first and shrinking (ThreadPool::run_chunks): each
  // thread streams long runs of adjacent rows, which the prefetchers follow (one task per chunk,
  // finer interleaving, cost up to a third of the speed), and the short last ones even out the
  // threads' finishing times.
  pool.parallel_for(n_tasks, 1, [&](int64_t b, int64_t e) {
    size_t pi = 0;
    for (int64_t task = b; task < e; ++task) {
      while (pi + 1 < parts.size() && task >= parts[pi + 1].first_task) ++pi;
      const Part& p = parts[pi];
      const int64_t n_out = p.w->n_rows();
      const int64_t r0 = (task - p.first_task) * rpt, r1 = std::min(n_out, r0 + rpt);
      p.fk->gemm(n_in, p.w->row(r0), p.w_stride, r1 - r0, p.act, p.act_stride, n_tokens, p.y + r0,
                 n_out);
    }
  });
}

void matmul_with(const KernelDispatch& kd, const TensorView& w, const float* x, int64_t n_tokens,
                 float* y, ThreadPool* pool) {
  const TensorView* ws[1] = {&w};
  float* ys[1] = {y};
  matmul_multi_with(kd, ws, x, n_tokens, ys, pool);
}

}  // namespace kernels

void kernels_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
  kernels::matmul_with(kernels::kernel_dispatch(), w, x, n_tokens, y, nullptr);
}

void kernels_matmul_multi(std::span<const TensorView* const> ws, const float* x, int64_t n_tokens,
                          std::span<float* const> ys) {
  kernels::matmul_multi_with(kernels::kernel_dispatch(), ws, x, n_tokens, ys, nullptr);
}

}  // namespace edgefit
