// AWQ (Lin et al., 2023): activation-aware weight quantization. Input channels that carry large
// activations matter most, so before rounding, column j of every weight fed by an input is
// multiplied by s_j and the input divided by s_j — the float product is unchanged, but the
// salient columns now use more of the quantization grid. s = mean|x|^α, with α chosen per group of
// layers sharing the input from a grid in [0, 1] as the one whose quantized outputs are closest to
// the float outputs on calibration inputs. The 1/s is folded into what produces the input: the
// RMSNorm gain before q/k/v and gate/up, the rows of `up` before `down` (SiLU(gate)·up is linear
// in up), the rows of `v` before `o` when every query head has its own value head.
//
// Pure math (matrices + statistics); quantization goes through the traits table, so the scaled
// weights can become any format.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"

namespace edgefit {

class ThreadPool;

struct AwqOptions {
  int grid = 20;               // α ∈ {0, 1/grid, …, 1}
  ThreadPool* pool = nullptr;  // worker threads (null: the global pool)
};

// One weight fed by the group's input.
struct AwqLinear {
  const float* w = nullptr;  // [rows, cols] row-major f32
  int64_t rows = 0;          // output channels
  DType type = DType::Q4_0;  // the format it will be stored in
};

struct AwqSearch {
  std::vector<float> scales;  // s_j per input channel (all 1 when α = 0 wins)
  double alpha = 0;           // the α chosen
  double loss = 0;            // Σ ‖X Wᵀ − (X/s) Q(W·s)ᵀ‖² over the sample, at that α
  double loss_plain = 0;      // the same at α = 0 (plain rounding), for reports
};

// Searches α for the layers sharing an input. x: [n, cols] sample of that input; mean_abs and
// mean_sq: per-channel mean |x| and mean x² over all calibration tokens (the importance given to
// the quantizer is mean_sq / s²).
AwqSearch awq_search(std::span<const AwqLinear> layers, int64_t cols, const float* x, int64_t n,
                     const float* mean_abs, const float* mean_sq, const AwqOptions& options = {});

// s_j = mean_abs_j^α, normalised so max(s)·min(s) = 1 (as AWQ does), floored at 1e-4.
std::vector<float> awq_scales(const float* mean_abs, int64_t cols, double alpha);

// ---- scale folding, shared with SmoothQuant: each leaves the float function unchanged.
// W[:, j] *= s_j for a [rows, cols] weight.
void scale_columns(float* w, int64_t rows, int64_t cols, const float* s);
// gain_j /= s_j: the RMSNorm before the weights now outputs x_j / s_j.
void fold_into_gain(float* gain, int64_t cols, const float* s);
// W[j, :] /= s_j for the [cols, k] weight whose output channel j is the input channel j.
void fold_into_rows(float* w, int64_t cols, int64_t k, const float* s);

// Σ over rows and tokens of (x·wᵀ − x'·w'ᵀ)²: the output error of w' on inputs x' against w on x
// (both [n, cols] inputs, [rows, cols] weights).
double output_error(const float* x, const float* w, const float* x2, const float* w2, int64_t n,
                    int64_t rows, int64_t cols);

}  // namespace edgefit
