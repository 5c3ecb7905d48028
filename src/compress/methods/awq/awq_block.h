// AWQ as a block method of the layer pipeline (methods/awq.h for the math). Per block, in an order
// that keeps every fold consistent with the statistics measured on the original block:
//   1. down: scales searched on its input, folded into the rows of up (before up is quantized);
//   2. o: scales folded into the rows of v only when every query head has its own value head
//      (with GQA one v row feeds several heads' o columns); otherwise o is rounded plainly;
//   3. q/k/v: scales folded into attn_norm;  4. gate/up: scales folded into ffn_norm.
// Each weight is then quantized into the plan's type with importance mean(x²)/s².
#pragma once

#include "compress/block_method.h"
#include "compress/method_params.h"
#include "compress/methods/awq/awq.h"

namespace edgefit {

// AWQ's settings (recipe parameters grid, sample_tokens).
struct AwqParams : MethodParamsOf<AwqParams> {
  int grid = 20;                 // α ∈ {0, 1/grid, …, 1}
  int64_t sample_tokens = 4096;  // tokens kept per input group for the α search
};

class AwqBlockMethod : public BlockMethod {
 public:
  AwqBlockMethod(AwqOptions options, int64_t sample_tokens)
      : options_(options), sample_tokens_(sample_tokens) {}
  std::string name() const override { return "awq"; }
  StatsNeeds needs() const override { return {.hessian = false, .sample_rows = sample_tokens_}; }
  void compress(const BlockJob& job) override;

 private:
  AwqOptions options_;     // α grid
  int64_t sample_tokens_;  // input rows kept per group for the search
};

}  // namespace edgefit
