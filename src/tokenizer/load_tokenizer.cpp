// load_tokenizer(path): picks the loader by what the file is, not by its name.
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace edgefit {

namespace fs = std::filesystem;

namespace {

std::unique_ptr<Tokenizer> load_hf_file(const fs::path& json_path) {
  const std::string text = read_file(json_path.string());
  std::string config;
  const fs::path cfg = json_path.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(cfg, ec)) config = read_file(cfg.string());
  return load_tokenizer_from_hf_json(text, config, json_path.string());
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    if (fs::is_regular_file(dir / "tokenizer.json", ec))
      return load_hf_file(dir / "tokenizer.json");
    if (fs::is_regular_file(dir / "tokenizer.model", ec))
      return load_tokenizer(fs::path(dir / "tokenizer.model").string());
    throw Error("no tokenizer.json or tokenizer.model in this folder", path);
  }
  if (!fs::exists(path, ec)) throw Error("no such file", path);
  const std::string head = read_file_prefix(path, 16);  // a FIFO or device is an error
  if (head.size() >= 4 && head.compare(0, 4, "GGUF") == 0) {
    GgufFile g(path);
    return load_tokenizer_from_gguf(g);
  }
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && head[first] == '{') return load_hf_file(fs::path(path));
  if (head.size() >= 2 && head[0] == 0x0A && head[1] != 0)
    return load_tokenizer_from_sentencepiece(read_file(path), path);
  if (head.size() >= 4) return load_tokenizer_from_llama2c(read_file(path), path);
  throw Error("not a GGUF, tokenizer.json, tokenizer.model or llama2.c tokenizer.bin", path);
}

}  // namespace edgefit
