#include "pipeline/recover_step.h"

#include <algorithm>

#include "calib/calib_data.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"

namespace edgefit {
namespace {

using ojson = nlohmann::ordered_json;

// Reads one parameter of a step's params, naming it in errors.
class ParamReader {
 public:
  ParamReader(const ojson& params, std::string path, const std::string& file)
      : params_(params), path_(std::move(path)), file_(file) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(path_ + "." + key + ": " + what, file_);
  }
  // The value of `key` as T if present (a number where a number is wanted, and so on).
  template <class T>
  void read(const std::string& key, T& out) const {
    if (!params_.contains(key)) return;
    const ojson& v = params_.at(key);
    if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (!v.is_array()) fail(key, "expected a list of names");
      out.clear();
      for (const auto& e : v) {
        if (!e.is_string()) fail(key, "expected a list of names");
        out.push_back(e.get<std::string>());
      }
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) fail(key, "expected an integer");
      if (v.get<int64_t>() < 0) fail(key, "must not be negative");
      out = v.get<T>();
    } else {
      if (!v.is_number()) fail(key, "expected a number");
      out = v.get<T>();
    }
  }

 private:
  const ojson& params_;      // the step's params object
  std::string path_;         // "recovery[i].params"
  const std::string& file_;  // the recipe file
};

}  // namespace

train::RecoverSettings recovery_settings(const Recipe& recipe, size_t index,
                                         const std::string& recipe_file, int& ctx) {
  if (index >= recipe.recovery.size()) throw Error("no recovery step " + std::to_string(index));
  const RecoveryStep& step = recipe.recovery[index];
  const std::string path = "recovery[" + std::to_string(index) + "]";
  if (step.kind != "lora")
    throw Error(
        path + ".kind: the " + step.kind + " recovery step is not implemented yet (lora is)",
        recipe_file);
  static const std::vector<std::string> known = {"rank",        "alpha", "targets", "steps",
                                                 "minutes",     "lr",    "warmup",  "kd_weight",
                                                 "temperature", "seed",  "ctx",     "optim_bits"};
  for (auto it = step.params.begin(); it != step.params.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      throw Error(path + ".params." + it.key() +
                      ": unknown parameter (known: rank, alpha, targets, steps, minutes, lr, "
                      "warmup, kd_weight, temperature, seed, ctx, optim_bits)",
                  recipe_file);
  const ParamReader r(step.params, path + ".params", recipe_file);
  train::RecoverSettings s;
  r.read("rank", s.lora.rank);
  r.read("alpha", s.lora.alpha);
  r.read("targets", s.lora.targets);
  r.read("steps", s.steps);
  r.read("minutes", s.minutes);
  r.read("lr", s.lr);
  r.read("kd_weight", s.kd_weight);
  r.read("temperature", s.temperature);
  r.read("seed", s.seed);
  r.read("optim_bits", s.optim_bits);
  int64_t warmup = -1;
  r.read("warmup", warmup);
  s.warmup = step.params.contains("warmup") ? warmup : -1;
  int64_t window = 0;
  r.read("ctx", window);
  ctx = static_cast<int>(window);
  s.lora.seed = s.seed;
  if (s.lora.rank < 1) r.fail("rank", "must be at least 1");
  if (s.lr <= 0) r.fail("lr", "must be positive");
  if (s.minutes < 0) r.fail("minutes", "must not be negative");
  if (s.kd_weight < 0 || s.kd_weight > 1) r.fail("kd_weight", "must be within 0 … 1");
  if (s.temperature <= 0) r.fail("temperature", "must be positive");
  if (s.optim_bits != 8 && s.optim_bits != 32) r.fail("optim_bits", "must be 8 or 32");
  if (step.params.contains("ctx") && ctx < 2) r.fail("ctx", "must be at least 2");
  return s;
}

train::RecoverResult apply_recovery_step(const Recipe& recipe, size_t index,
                                         const std::string& recipe_file, const RecoveryInputs& in) {
  int ctx = 0;
  train::RecoverSettings s = recovery_settings(recipe, index, recipe_file, ctx);
  if (in.data.empty())
    throw Error("recovery[" + std::to_string(index) + "]: needs calibration text to train on",
                recipe_file);
  const Model base = load_model(in.compressed);
  const Model teacher = load_model(in.teacher);
  const int trained = base.config.max_context;
  if (ctx == 0) ctx = trained > 0 ? std::min(256, trained) : 256;
  if (trained > 0 && ctx > trained)
    throw Error("recovery[" + std::to_string(index) +
                    "].params.ctx: exceeds the model's context (" + std::to_string(trained) + ")",
                recipe_file);
  auto tok = load_model_tokenizer(in.compressed, in.tokenizer, base.config.vocab_size);
  CalibrationDraw draw;
  draw.files = in.data;
  draw.ctx = ctx;
  const CalibrationWindows cw = draw_calibration_windows(*tok, draw);
  s.adapter_path = in.adapter_out;
  s.merged_path = in.merged_out;
  s.teacher_name = in.teacher;
  s.progress = in.progress;
  for (const auto& f : in.data) s.data_description += " data=" + f;
  return train::recover_lora(base, teacher, cw.windows, s);
}

}  // namespace edgefit
