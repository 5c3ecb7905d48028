// What the three pruning block methods (magnitude/, wanda/, sparsegpt/) share: the per-tensor
// pattern from the plan (BlockJob::target_sparsity), OWL's per-layer sparsities from a dense pass,
// and writing each pruned weight into its target type.
//
// Output: the pruned weights are exact zeros in the f32 values handed to the type's quantizer
// through the traits table (quantize_tensor), so the storage is whatever --type chose: float
// types keep them exactly, the symmetric block formats dequantize them to exactly 0, formats with
// a per-block minimum round them to the nearest code. A sparse storage type (2:4, bitmask) is one
// more type: its traits-table quantizer receives the same zeroed weights (exact zeros = pruned)
// and stores only the kept ones; mask_scope_for() gives it masks bounded per 256-block, or per
// 32-input run for q4_qmask62 (MaskScope::kPerRowBlock, prune/sparse_formats.h). Magnitude and
// Wanda prune, then round the kept values with the sparse type's quantizer; SparseGPT rounds them
// jointly on the type's grid (sparsegpt_grid); the file says which in edgefit.prune.sparse_values
// ("rtn" / "joint").
//
// OWL (prune/owl.h): the paper measures every layer's outlier ratio on the DENSE model, with the
// Wanda score |W|·‖X‖, whatever the pruning method. wants_dense_pass() asks the driver for that
// pass; the ratios become one sparsity per block, replacing the unstructured fraction of every
// pruned weight of the block. OWL needs one unstructured fraction on every pruned weight.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "compress/block_method.h"
#include "compress/calibrated_quantize.h"
#include "formats/gguf.h"
#include "prune/mask_select.h"
#include "prune/sparsity_pattern.h"

namespace edgefit {

class PruneBlockMethod : public BlockMethod {
 public:
  PruneBlockMethod(std::string name, OwlSettings owl) : name_(std::move(name)), owl_(owl) {}
  std::string name() const override { return name_; }
  void compress(const BlockJob& job) override;

  bool wants_dense_pass() const override { return owl_.enabled; }
  void observe_dense(const BlockJob& job) override;
  std::vector<float> dense_pass_result() override;
  void restore_dense_pass(const std::vector<float>& saved) override;

 protected:
  // One linear weight of the block, as compress() hands it to the method.
  struct Linear {
    const std::string* name = nullptr;  // GGUF name
    int index = 0;                      // 0…6 in kBlockLinearSuffixes order
    InputStats* stats = nullptr;        // its input group's statistics
    int64_t rows = 0, cols = 0;         // W is [rows, cols]
    DType type = DType::F32;            // output type (the plan's)
    SparsityPattern pattern;            // what to prune (after OWL)
  };
  // Prunes w (f32, [rows, cols]) and returns the output bytes in l.type.
  virtual std::vector<uint8_t> prune_linear(const Linear& l, std::vector<float> w) = 0;
  // Called before the block's first and after its last linear (per-block caches).
  virtual void begin_block() {}
  virtual void end_block() {}

 private:
  std::string name_;                 // registry name
  OwlSettings owl_;                  // OWL on or off, λ, M
  std::vector<double> owl_ratio_;    // dense pass: outlier ratio per block seen
  std::vector<int64_t> owl_params_;  // dense pass: pruned weights per block
  double owl_target_ = -1;           // dense pass: the one unstructured fraction (-1: none yet)
  std::vector<float> owl_sparsity_;  // per-block sparsity once the dense pass is done
};

// The pattern a weight's text names, after OWL's per-layer fraction (owl < 0: none).
SparsityPattern layer_pattern(const std::string& text, double owl_fraction);
// The mask's comparison group for `type` given the method's own choice. Dense storage types
// take the method's; the sparse storage types take kPerRowBlock in their sparse_mask_block()
// runs (256 inputs; q4_qmask62 32), except that q4_qmask62 takes its two slot halves per
// 256-block (kPerRowHalfBlock) for methods that do not choose masks column block by column block
// (column_blocks: SparseGPT).
MaskGroup mask_scope_for(DType type, MaskScope method_default, bool column_blocks = false);
// Quantizes pruned f32 weights into `type` with the input's importance (imatrix-like mean x²;
// empty: none), the path of the methods that prune first and round after.
std::vector<uint8_t> quantize_pruned(const std::vector<float>& w, int64_t rows, int64_t cols,
                                     DType type, const InputStats* stats);
// "edgefit.prune.*" keys: the method, OWL's settings.
std::vector<GgufKV> prune_metadata(const std::string& method, const CalibratedOptions& co);
// Recipe parameters every pruning method reads (owl, owl_lambda, owl_m); false for other keys.
bool read_owl_param(std::string_view key, const nlohmann::ordered_json& v, const std::string& field,
                    const std::string& file, CalibratedOptions& co);

}  // namespace edgefit
