#include "eval/model_tokenizer.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace edgefit {

namespace fs = std::filesystem;

namespace {

bool starts_with_gguf_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

std::string tokenizer_path_for_model(const std::string& model_path,
                                     const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) return model_path;  // HF folder: tokenizer.json inside
  const fs::path p(model_path);
  if (p.extension() == ".safetensors")
    return p.parent_path().empty() ? "." : p.parent_path().string();
  if (starts_with_gguf_magic(model_path)) return model_path;  // embedded vocabulary
  // llama2.c checkpoint: its tokenizer lives next to it.
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  for (const char* name : {"tokenizer.bin", "tok512.bin", "tokenizer.model", "tokenizer.json"}) {
    if (fs::is_regular_file(dir / name, ec)) return (dir / name).string();
  }
  throw Error(
      "no tokenizer found next to the model (looked for tokenizer.bin, tok512.bin, "
      "tokenizer.model, tokenizer.json); pass --tokenizer PATH",
      model_path);
}

std::unique_ptr<Tokenizer> load_model_tokenizer(const std::string& model_path,
                                                const std::string& override_path, int model_vocab) {
  const std::string path = tokenizer_path_for_model(model_path, override_path);
  std::unique_ptr<Tokenizer> tok = load_tokenizer(path);
  if (tok->n_vocab() > model_vocab)
    throw Error("tokenizer has " + std::to_string(tok->n_vocab()) +
                    " tokens but the model's vocabulary has " + std::to_string(model_vocab),
                path);
  return tok;
}

}  // namespace edgefit
