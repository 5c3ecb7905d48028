#include "calib/method_factory.h"

#include "calib/awq_block.h"
#include "calib/gptq_block.h"
#include "calib/smoothquant_block.h"
#include "core/error.h"

namespace edgefit {

std::unique_ptr<BlockMethod> make_block_method(const CalibratedOptions& co) {
  if (co.method == "gptq") {
    GptqOptions g;
    g.percdamp = co.damp;
    g.act_order = co.act_order;
    g.block_size = co.gptq_block;
    return std::make_unique<GptqBlockMethod>(g);
  }
  if (co.method == "awq") {
    AwqOptions a;
    a.grid = co.awq_grid;
    return std::make_unique<AwqBlockMethod>(a, co.awq_sample_tokens);
  }
  if (co.method == "smoothquant") {
    SmoothQuantOptions s;
    s.alpha = co.sq_alpha;
    return std::make_unique<SmoothQuantBlockMethod>(s);
  }
  throw UsageError("unknown calibration method '" + co.method +
                   "' (known: gptq, awq, smoothquant)");
}

std::vector<GgufKV> method_metadata(const CalibratedOptions& co) {
  std::vector<GgufKV> kv;
  if (co.method == "gptq") {
    kv.push_back({"edgefit.gptq.damp", GgufValue::make_f32(static_cast<float>(co.damp))});
    kv.push_back({"edgefit.gptq.act_order", GgufValue::make_bool(co.act_order)});
    kv.push_back(
        {"edgefit.gptq.block_size", GgufValue::make_u32(static_cast<uint32_t>(co.gptq_block))});
  } else if (co.method == "awq") {
    kv.push_back({"edgefit.awq.grid", GgufValue::make_u32(static_cast<uint32_t>(co.awq_grid))});
  } else if (co.method == "smoothquant") {
    kv.push_back({"edgefit.w8a8", GgufValue::make_bool(true)});
    kv.push_back(
        {"edgefit.smoothquant.alpha", GgufValue::make_f32(static_cast<float>(co.sq_alpha))});
  }
  return kv;
}

void adapt_plan(const CalibratedOptions& co, QuantizePlan& plan) {
  if (co.method == "smoothquant") smoothquant_adapt_plan(plan);
}

void write_safetensors_export(const CalibratedOptions& co, const Model& model,
                              const QuantizePlan& plan, const WorkDir& wd,
                              const std::string& path) {
  if (co.method != "smoothquant")
    throw UsageError("a safetensors export exists only for --method smoothquant");
  smoothquant_write_safetensors(model, plan, wd, path);
}

}  // namespace edgefit
