// Placeholder: replaced by the tokenizer room.
#include "cli/commands.h"
namespace edgefit::cli {
void add_tokenize_command(CLI::App&) {}
}  // namespace edgefit::cli
