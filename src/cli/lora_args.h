// `--lora FILE` and `--lora-scaled FILE SCALE`, llama.cpp's flags for adapters applied on top of
// a base model at run time (model/lora_adapter.h); shared by the commands that run a model
// (eval, generate, merge-lora). Both repeat; adapters stack in the order given (--lora ones first).
#pragma once

#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "formats/model.h"
#include "model/lora_adapter.h"
#include "model/transformer.h"

namespace edgefit::cli {

struct LoraArgs {
  std::vector<std::string> files;   // --lora: scale 1
  std::vector<std::string> scaled;  // --lora-scaled FILE SCALE, flattened (pairs)
};

inline void add_lora_options(CLI::App* cmd, LoraArgs& args) {
  cmd->add_option("--lora", args.files,
                  "LoRA adapter GGUF applied on the model (repeatable; llama.cpp's flag)");
  cmd->add_option("--lora-scaled", args.scaled,
                  "LoRA adapter GGUF with a user scale: FILE SCALE (repeatable)")
      ->type_size(2);
}

// Loads the adapters named by `args` for `model`, in order.
inline std::vector<LoraAdapter> load_lora_args(const LoraArgs& args, const Model& model) {
  std::vector<LoraAdapter> out;
  out.reserve(args.files.size() + args.scaled.size());
  for (const std::string& f : args.files) out.push_back(load_lora_adapter(f, model, 1.0f));
  for (size_t i = 0; i + 1 < args.scaled.size(); i += 2) {
    float scale = 0;
    try {
      size_t used = 0;
      scale = std::stof(args.scaled[i + 1], &used);
      if (used != args.scaled[i + 1].size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw UsageError("--lora-scaled " + args.scaled[i] + ": '" + args.scaled[i + 1] +
                       "' is not a number");
    }
    out.push_back(load_lora_adapter(args.scaled[i], model, scale));
  }
  return out;
}

// Loads the adapters for `model` and adds them to `tf`; the returned vector must outlive `tf`.
inline std::vector<LoraAdapter> attach_lora_args(const LoraArgs& args, const Model& model,
                                                 Transformer& tf) {
  std::vector<LoraAdapter> out = load_lora_args(args, model);
  for (const LoraAdapter& a : out) tf.add_lora(a);
  return out;
}

}  // namespace edgefit::cli
