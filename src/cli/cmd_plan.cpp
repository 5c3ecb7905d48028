// `edgefit plan MODEL --device D [--preset P] [--method M] [--context N] -o recipe.json`: writes
// the recipe for a model on a device. With --preset, that preset's recipe; without, the preset
// of compress's ladder with the most bits that still fits the device (file, RAM with the KV cache
// at the context), from the device profile and the cost model — no weight is touched. The
// candidates' costs go to stderr; `edgefit quantize/compress --recipe` consume the file.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "compress/method_registry.h"
#include "core/error.h"
#include "core/output_path.h"
#include "eval/context_window.h"
#include "pipeline/compress.h"
#include "pipeline/recipe_cost.h"
#include "recipe/preset_recipe.h"

namespace edgefit::cli {
namespace {

namespace fs = std::filesystem;

struct PlanCliOptions {
  std::string model;           // model to plan for
  std::string device;          // device id or profile path
  std::string preset;          // --preset: this preset's recipe (empty: choose)
  std::string method = "rtn";  // --method written into the recipe
  int context = 0;             // context the device must hold in RAM (0: min(512, trained))
  std::string output;          // recipe JSON to write
};

void print_cost(const std::string& name, const CostEstimate& c, bool chosen) {
  std::fprintf(stderr, "  %-8s %10s file, %10s at run time, %.2f bpw, ~%.1f tok/s%s\n",
               name.c_str(), format_bytes(c.file_bytes).c_str(),
               format_bytes(c.runtime_bytes).c_str(), c.bits_per_weight, c.predicted_tps,
               chosen ? "  <- chosen" : (c.fits() ? "" : "  (does not fit)"));
}

void run_plan(const PlanCliOptions& c) {
  if (!fs::exists(c.model)) throw Error("no such file or folder", c.model);
  std::vector<std::string> inputs = {c.model};
  if (c.device.ends_with(".json")) inputs.push_back(c.device);  // a profile file, not an id
  check_output_not_input(c.output, inputs);
  if (c.method != "rtn" && c.method != "imatrix" && !find_calib_method(c.method))
    throw UsageError("unknown --method '" + c.method + "' (rtn, imatrix, " + calib_method_names() +
                     ")");
  const fs::path out_dir = fs::absolute(c.output).parent_path();
  const DeviceProfile device = load_device(c.device, out_dir.string());
  const Model model = load_model(c.model);
  const int context = resolve_context(c.context, model.config.max_context);
  std::vector<std::string> names;
  if (!c.preset.empty())
    names.push_back(c.preset);
  else
    names = default_recipes();
  Recipe best;
  double best_bits = -1;
  std::fprintf(stderr, "plan for %s at context %d:\n", device.id.c_str(), context);
  std::vector<std::pair<Recipe, CostEstimate>> costs;
  for (const auto& name : names) {
    Recipe r = recipe_from_preset(name, c.method);
    const CostEstimate cost = recipe_cost(model, c.model, r, "", device, context).cost;
    // An explicit preset is written even when it does not fit (with the cost shown).
    if ((cost.fits() || !c.preset.empty()) && cost.bits_per_weight > best_bits) {
      best = r;
      best_bits = cost.bits_per_weight;
    }
    costs.emplace_back(std::move(r), cost);
  }
  for (const auto& [r, cost] : costs) print_cost(r.name, cost, r.name == best.name);
  if (best_bits < 0)
    throw Error("no preset fits " + device.id + " at context " + std::to_string(context) +
                "; try a shorter --context or a larger device");
  best.device = device.id;
  write_recipe(best, c.output);
  std::printf("wrote %s: %s (%s) for %s\n", c.output.c_str(), best.name.c_str(),
              best.method.name.c_str(), device.id.c_str());
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto opts = std::make_shared<PlanCliOptions>();
  CLI::App* cmd =
      app.add_subcommand("plan", "write the recipe for a model on a device (recipe.json)");
  cmd->add_option("model", opts->model, "GGUF file or Hugging Face folder")->required();
  cmd->add_option("--device", opts->device, "device id (see `edgefit devices`) or profile .json")
      ->required();
  cmd->add_option("--preset", opts->preset,
                  "this preset's recipe (default: the most bits that fit the device)");
  cmd->add_option("--method", opts->method,
                  "rtn (default), imatrix, or a calibration method: " + calib_method_names());
  cmd->add_option("--context", opts->context,
                  "context the device must hold in RAM (default min(512, the model's trained "
                  "context))");
  cmd->add_option("-o,--output", opts->output, "recipe JSON to write")->required();
  cmd->callback([opts] { run_plan(*opts); });
}

}  // namespace edgefit::cli
