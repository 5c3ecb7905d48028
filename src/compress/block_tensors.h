// A block's weights as f32 working copies, for methods that rescale them before quantizing
// (AWQ, SmoothQuant): load from the source model, change, then put/install the results.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "compress/block_method.h"

namespace edgefit {

struct BlockTensors {
  std::array<std::string, 7> names;           // linear weights q, k, v, o, gate, up, down
  std::array<std::vector<float>, 7> w;        // their f32 values [rows, cols]
  std::array<int64_t, 7> rows{}, cols{};      // shapes
  std::string attn_norm_name, ffn_norm_name;  // RMSNorm gains before attention / FFN
  std::vector<float> attn_norm, ffn_norm;     // their f32 values [d_model]

  static BlockTensors load(const BlockJob& job);
  // Stores and installs one RMSNorm gain in the plan's type for it.
  static void put_norm(const BlockJob& job, const std::string& name, const std::vector<float>& g);
};

}  // namespace edgefit
