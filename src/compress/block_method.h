// The contract between the layer-streaming driver (layer_pipeline.h) and a calibration method
// (GPTQ, AWQ, SmoothQuant): the driver runs the ORIGINAL block on the calibration hidden states
// and hands the method the statistics of every linear layer's input; the method writes the
// block's output tensors and points the working model at its compressed weights, so the driver
// can run the COMPRESSED block to produce the next block's inputs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "formats/model.h"
#include "model/block_linears.h"
#include "solve/gptq.h"

namespace edgefit {

// Linear layers that share one input, in block order.
enum class InputGroup : int {
  kAttnIn = 0,   // q, k, v: RMSNorm(x) · attn_norm
  kAttnOut = 1,  // o: the attention output
  kFfnIn = 2,    // gate, up: RMSNorm(x) · ffn_norm
  kFfnMid = 3,   // down: SiLU(gate) · up
};
inline constexpr int kNumGroups = 4;

// What a method wants measured on the inputs (everything else is skipped to save time/memory).
struct StatsNeeds {
  bool hessian = false;     // Σ xxᵀ per group (GPTQ)
  int64_t sample_rows = 0;  // keep up to this many input rows per group (AWQ's search)
};

// Statistics of one group's input over every calibration token.
struct InputStats {
  int64_t width = 0;                            // input channels
  int64_t rows = 0;                             // tokens seen
  std::vector<double> sum_abs;                  // Σ |x_j|
  std::vector<double> sum_sq;                   // Σ x_j²
  std::vector<float> max_abs;                   // max |x_j|
  std::unique_ptr<HessianAccumulator> hessian;  // when StatsNeeds::hessian
  std::vector<float> sample;                    // [sample_rows, width] evenly spaced rows
  int64_t sample_rows = 0;                      // rows in `sample`
  std::vector<float> xt, gram;                  // scratch of the Hessian products (xᵀ, xᵀx)

  // Per-channel mean x² (what an imatrix holds): the importance of each input column.
  std::vector<float> mean_sq() const;
};

// One block's compression, as the driver hands it to the method.
struct BlockJob {
  int layer = 0;                  // block index
  const Model* source = nullptr;  // the original model (memory-mapped weights)
  Model* work = nullptr;          // working copy: install compressed views here
  std::array<InputStats, kNumGroups>* stats = nullptr;   // inputs of the original block
  std::function<DType(const std::string&)> target_type;  // output type of a tensor (plan)
  // Sparsity pattern of a tensor for the pruning methods ("0.5", "2:4"; "" = dense).
  std::function<std::string(const std::string&)> target_sparsity;
  // Stores a finished output tensor: its final bytes in the model's own row layout.
  std::function<void(const std::string& name, DType type, const std::vector<uint8_t>& bytes)> put;
  // Buffers behind views installed in `work`; released after the compressed forward.
  std::vector<std::shared_ptr<const void>>* keep = nullptr;

  // Points work's tensor `name` at `bytes` (type `type`, same shape) and keeps the bytes alive.
  void install(const std::string& name, DType type,
               std::shared_ptr<const std::vector<uint8_t>> bytes) const;
  // The f32 values of a source tensor (dequantized), row-major.
  std::vector<float> source_f32(const std::string& name) const;
};

class BlockMethod {
 public:
  virtual ~BlockMethod() = default;
  virtual std::string name() const = 0;  // "gptq", "awq", "smoothquant"
  virtual StatsNeeds needs() const = 0;  // statistics to collect
  // Called once on the working model before the forward pass is bound (e.g. to add tensors).
  virtual void prepare(Model& /*work*/) {}
  // Compresses block job.layer: put() every output tensor it changes, install() the compressed
  // versions of the block's weights (and any changed gains) for the next forward.
  virtual void compress(const BlockJob& job) = 0;

  // A measuring pass over the DENSE model before any block is compressed, for a method whose
  // choice in block 0 depends on statistics of every block (OWL's per-layer sparsities). The
  // driver then first runs the pipeline with observe_dense() in place of compress() (nothing is
  // installed, so every block sees the dense model's inputs), stores dense_pass_result() in the
  // work directory, and hands it to restore_dense_pass() when a resumed run skips the pass.
  virtual bool wants_dense_pass() const { return false; }
  // One block of the dense pass: job.stats holds the dense block's input statistics (job.put
  // and job.install are not to be used).
  virtual void observe_dense(const BlockJob& /*job*/) {}
  // What the method concluded from the dense pass, as floats the work directory stores.
  virtual std::vector<float> dense_pass_result() { return {}; }
  // The stored conclusion of an earlier run's dense pass.
  virtual void restore_dense_pass(const std::vector<float>& /*saved*/) {}
};

// The input group of linear i (0…6).
InputGroup group_of_linear(int i);

}  // namespace edgefit
