// `edgefit tokenize MODEL --text "..." | --file F [--add-special] [--parse-special] [--json]`:
// token ids and pieces of a text under MODEL's tokenizer (a GGUF, an HF folder, a tokenizer.json,
// a SentencePiece tokenizer.model or a llama2.c tokenizer.bin). `--json` prints
// {"ids":[...],"pieces":[...]} on one line.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace edgefit::cli {
namespace {

struct TokenizeOptions {
  std::string model;           // tokenizer source
  std::string text;            // --text
  std::string file;            // --file
  bool add_special = false;    // BOS/EOS as the tokenizer's config says
  bool parse_special = false;  // special-token texts become their tokens
  bool json = false;           // one JSON object instead of a table
};

// A piece shown on a terminal: control bytes escaped so each token stays on one line.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void run_tokenize(const TokenizeOptions& o) {
  const std::string text = o.file.empty() ? o.text : read_file(o.file);
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(o.model);
  const std::vector<int32_t> ids = tok->encode(text, o.add_special, o.parse_special);
  if (o.json) {
    nlohmann::json j;
    j["ids"] = ids;
    auto& pieces = j["pieces"] = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tok->token_piece(id));
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  for (int32_t id : ids) std::printf("%6d  '%s'\n", id, printable(tok->token_piece(id)).c_str());
  std::printf("%zu tokens, %zu bytes\n", ids.size(), text.size());
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "show the token ids and pieces of a text");
  cmd->add_option("model", opts->model,
                  "GGUF, HF folder, tokenizer.json, tokenizer.model or llama2.c tokenizer.bin")
      ->required();
  auto* text = cmd->add_option("--text", opts->text, "text to tokenize");
  auto* file = cmd->add_option("--file", opts->file, "file whose bytes are tokenized");
  text->excludes(file);
  file->excludes(text);
  cmd->add_flag("--add-special", opts->add_special, "add BOS/EOS as the model's config says");
  cmd->add_flag("--parse-special", opts->parse_special, "match special-token texts as tokens");
  cmd->add_flag("--json", opts->json, "print {\"ids\":[...],\"pieces\":[...]}");
  cmd->callback([opts, text, file] {
    if (text->count() == 0 && file->count() == 0)
      throw UsageError("tokenize: give --text or --file");
    run_tokenize(*opts);
  });
}

}  // namespace edgefit::cli
