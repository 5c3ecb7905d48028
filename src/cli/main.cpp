// edgefit: compress language models to fit edge devices, and prove they still work.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "compress/methods/smoothquant/smoothquant_block.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace {

// CLI11's own wording for a parse error, made one line in edgefit's form: which command, what is
// wrong, where to look. Its "A subcommand is required" names what a user can type instead.
std::string usage_message(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = e.what();
  for (char& ch : what)
    if (ch == '\n') ch = ' ';
  std::string command;
  for (const CLI::App* sub : app.get_subcommands()) command = sub->get_name();
  if (command.empty() && what.find("subcommand is required") != std::string::npos) {
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({}))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    return "a command is required (one of: " + names + "); see edgefit --help";
  }
  if (command.empty()) return what + "; see edgefit --help";
  return command + ": " + what + "; see edgefit " + command + " --help";
}

}  // namespace

int main(int argc, char** argv) {
  edgefit::remove_temp_files_on_signals();  // Ctrl-C never leaves half-written outputs behind
  CLI::App app{"edgefit: fit language models onto edge devices and validate them"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgefit 0.1.0");
  // Global options may come before or after the command name (`edgefit -t 2 inspect M` and
  // `edgefit inspect M -t 2`): subcommands inherit fallthrough and hand unknown options back here.
  app.fallthrough();
  int threads = 0;
  app.add_option("-t,--threads", threads, "worker threads (default: all cores)");
  app.parse_complete_callback([&] {
    if (threads < 0) throw edgefit::UsageError("-t/--threads must be positive");
    if (threads > 0) edgefit::ThreadPool::set_global_threads(threads);
  });

  // One line per command; keep alphabetical.
  edgefit::cli::add_bench_command(app);
  edgefit::cli::add_compress_command(app);
  edgefit::cli::add_devices_command(app);
  edgefit::cli::add_eval_command(app);
  edgefit::cli::add_generate_command(app);
  edgefit::cli::add_imatrix_command(app);
  edgefit::cli::add_inspect_command(app);
  edgefit::cli::add_plan_command(app);
  edgefit::cli::add_prune_command(app);
  edgefit::cli::add_quantize_command(app);
  edgefit::cli::add_merge_lora_command(app);
  edgefit::cli::add_recover_command(app);
  edgefit::cli::add_synth_command(app);
  edgefit::cli::add_tokenize_command(app);

  try {
    app.parse(argc, argv);  // runs the chosen command's callback
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help / --version
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "edgefit: usage error: %s\n", usage_message(app, e).c_str());
    return 2;
  } catch (const edgefit::UsageError& e) {
    std::fprintf(stderr, "edgefit: usage error: %s\n", e.what());
    return 2;
  } catch (const edgefit::Error& e) {
    std::fprintf(stderr, "edgefit: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "edgefit: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgefit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
