// `edgefit prune … --structured heads=0.25,ffn=0.25,layers=2`: structured pruning exported as a
// smaller dense model (src/prune/structured_*.h). The options and the runner live here so that
// the `prune` command (cmd_prune.cpp) only registers them and hands over when --structured (or
// --keep) is given.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace edgefit::cli {

struct StructuredPruneCli {
  std::string spec;                // --structured: heads=F,ffn=F|ffn_global=F,layers=N
  std::vector<std::string> calib;  // --calib: text files or folders of .txt (one per language)
  std::string hf_out;              // --hf-out: also write a Hugging Face folder there
  int ctx = 0;                     // --calib-ctx: tokens per window (0: min(512, trained))
  int windows = 96;                // --calib-windows: windows in all, equal per language
  std::string keep_in;             // --keep: keep-lists JSON to apply instead of scoring
  std::string keep_out;            // --save-keep: write the chosen keep-lists JSON there
  bool provenance = true;          // edgefit.* metadata keys (off: --no-provenance)

  // True when the user asked for structured pruning.
  bool requested() const { return !spec.empty() || !keep_in.empty(); }
};

// Registers --structured, --calib, --calib-ctx, --calib-windows, --hf-out, --keep, --save-keep on
// `prune` (a command with MODEL and OUT positionals; --calib may be shared with other methods:
// pass `with_calib = false` when the command registers its own into the same vector).
void add_structured_prune_options(CLI::App& prune, StructuredPruneCli& o, bool with_calib = true);

// Prunes MODEL into OUT: a GGUF file, or a Hugging Face folder when OUT is an existing folder or
// ends with '/'. Prints what it kept and wrote; returns 0. Throws Error (exit 1) for bad input,
// UsageError (exit 2) for bad arguments; nothing is written then.
int run_structured_prune(const StructuredPruneCli& o, const std::string& model,
                         const std::string& out);

}  // namespace edgefit::cli
