// Layer-by-layer calibration, streamed: the calibration hidden states of all N sequences × L
// tokens are held as one [N·L, d] buffer; for each block the ORIGINAL block runs on them while the
// statistics of every linear layer's input are collected, the method compresses the block, and
// the COMPRESSED block runs on the same inputs to produce the next block's inputs (sequential, as
// GPTQ does: each block is calibrated on what the already-compressed blocks before it output).
//
// Peak memory ≈ the hidden states + one block's statistics and f32 copies; the weights stay
// memory-mapped, except the current block's compressed bytes. After every block the state is
// saved in the work directory, so a killed run resumes after the last finished block.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "calib/calib_data.h"
#include "compress/block_method.h"
#include "compress/work_dir.h"
#include "formats/model.h"
#include "model/matmul.h"

namespace edgefit {

struct PipelineOptions {
  bool progress = true;       // per-block progress line with ETA on stderr
  int stop_after_block = -1;  // testing: throw Error after this block is saved (-1: never)
  // Drop each finished block's weight pages from the resident set (madvise DONTNEED). Only for
  // models whose tensors all lie in read-only file mappings, as load_model() gives: on heap
  // memory it would zero the weights.
  bool release_pages = false;
  // The products of the block forwards and of the Hessians' XᵀX (default: the runtime kernels on
  // the process's best table; benchmarks pass matmul_ref). Passed, never a process global.
  MatmulChoice matmul;
  // Sparsity pattern of each tensor for the pruning methods (BlockJob::target_sparsity; null:
  // nothing is pruned).
  std::function<std::string(const std::string&)> target_sparsity;
};

struct PipelineResult {
  int first_block_run = 0;               // blocks before this one were resumed from disk
  std::vector<float> output_importance;  // mean x² of the output head's input (final norm)
  std::vector<double> block_seconds;     // wall time per block run in this process
  double forward_seconds = 0;            // original + compressed block forwards
  double stats_seconds = 0;              // statistics accumulation inside the forwards
  double method_seconds = 0;             // the method's compress() calls
  uint64_t peak_rss_bytes = 0;           // the process's peak resident set at the end
  int64_t tokens = 0;                    // calibration tokens (N·L)
};

// The job that hands block `layer` to a method: its outputs go to `wd`, the buffers behind the
// views it installs in `work` to `keep`. Shared by the calibrated and the calibration-free loop.
BlockJob make_block_job(int layer, const Model& source, Model& work,
                        std::array<InputStats, kNumGroups>& stats,
                        const std::function<DType(const std::string&)>& target_type,
                        const std::function<std::string(const std::string&)>& target_sparsity,
                        WorkDir& wd, std::vector<std::shared_ptr<const void>>& keep);

// Runs the pipeline over every block of `model` with the calibration windows (all the same
// length). target_type gives each tensor's output type (from the quantization plan). Throws
// Error on a model the forward pass cannot bind or on I/O failure in the work directory.
PipelineResult run_layer_pipeline(const Model& model, const CalibrationWindows& windows,
                                  BlockMethod& method, WorkDir& work,
                                  const std::function<DType(const std::string&)>& target_type,
                                  const PipelineOptions& options = {});

}  // namespace edgefit
