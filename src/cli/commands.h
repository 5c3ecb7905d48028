// Every `edgefit <command>` registers itself through one function here; main.cpp calls them all.
// A command's callback throws edgefit::Error for bad input (exit 1) and UsageError for bad
// arguments (exit 2); main() turns them into one "edgefit: error: …" line on stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace edgefit::cli {

void add_bench_command(CLI::App& app);
void add_compress_command(CLI::App& app);
void add_devices_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_imatrix_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_merge_lora_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_prune_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_recover_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);

}  // namespace edgefit::cli
