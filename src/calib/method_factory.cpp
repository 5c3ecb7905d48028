#include "calib/method_factory.h"

#include <type_traits>

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

namespace {

// Reads one numeric/boolean parameter into `out`, naming the field on a wrong kind.
template <typename T>
void read_param(const nlohmann::ordered_json& v, const std::string& field, const std::string& file,
                T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw Error(field + ": must be true or false", file);
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      throw Error(field + ": must be a positive integer", file);
  } else {
    if (!v.is_number()) throw Error(field + ": must be a number", file);
  }
  out = v.get<T>();
}

}  // namespace

void apply_method_params(const MethodSpec& m, CalibratedOptions& co, const std::string& file) {
  co.method = m.name;
  for (auto it = m.params.begin(); it != m.params.end(); ++it) {
    const std::string& k = it.key();
    const std::string field = "method.params." + k;
    const auto& v = it.value();
    if (k == "samples")
      read_param(v, field, file, co.samples);
    else if (k == "seqlen")
      read_param(v, field, file, co.seqlen);
    else if (m.name == "gptq" && k == "damp")
      read_param(v, field, file, co.damp);
    else if (m.name == "gptq" && k == "act_order")
      read_param(v, field, file, co.act_order);
    else if (m.name == "gptq" && k == "block_size")
      read_param(v, field, file, co.gptq_block);
    else if (m.name == "awq" && k == "grid")
      read_param(v, field, file, co.awq_grid);
    else if (m.name == "awq" && k == "sample_tokens")
      read_param(v, field, file, co.awq_sample_tokens);
    else if (m.name == "smoothquant" && k == "alpha")
      read_param(v, field, file, co.sq_alpha);
    else
      throw Error(field + ": unknown parameter for " + m.name, file);
  }
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
