// Helpers shared by the tokenizer tests: gunzip reference files into the scratch dir, read JSONL
// vector files, cache loaded tokenizers (big vocabularies take a while to load).
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace edgefit::test {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Decompresses `gz` into the tokenizer scratch dir (once per process) and returns the new path;
// the reference folder is never written to.
inline std::string gunzip_to_scratch(const std::string& gz) {
  static std::mutex mu;
  static std::map<std::string, std::string> done;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = done.find(gz); it != done.end()) return it->second;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(EDGEFIT_BINARY_DIR) / "test-scratch" / "tokenizer-gunzip" /
                       fs::path(gz).parent_path().filename();
  fs::create_directories(dir);
  std::string name = fs::path(gz).filename().string();
  name = name.substr(0, name.size() - 3);
  const fs::path out = dir / name;
  // Other test processes may do the same at once: write a private temp file, rename it into
  // place (atomic), and reuse a finished file.
  if (fs::exists(out)) return done[gz] = out.string();
  const fs::path tmp = dir / (name + ".tmp" + std::to_string(::getpid()));
  gzFile in = gzopen(gz.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + gz);
  std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
  char buf[1 << 16];
  int n;
  while ((n = gzread(in, buf, sizeof(buf))) > 0) o.write(buf, n);
  gzclose(in);
  o.close();
  if (n < 0) throw std::runtime_error("gunzip failed: " + gz);
  fs::rename(tmp, out);
  done[gz] = out.string();
  return out.string();
}

// `path` itself if it exists, else `path + ".gz"` decompressed into the scratch dir.
inline std::string plain_or_gunzip(const std::string& path) {
  if (std::filesystem::exists(path)) return path;
  return gunzip_to_scratch(path + ".gz");
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Loads once per process (tests share the big vocabularies).
inline const Tokenizer& cached_tokenizer(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[path];
  if (!slot) slot = load_tokenizer(path);
  return *slot;
}

inline std::string ids_str(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

inline std::vector<int32_t> json_ids(const nlohmann::json& j) {
  return j.get<std::vector<int32_t>>();
}

// Hex of a byte string (for detok_hex fields and readable failure messages).
inline std::string to_hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h += d[c >> 4];
    h += d[c & 15];
  }
  return h;
}

inline std::string vocab_gguf(const std::string& name) {
  return plain_or_gunzip(shared_path("ref/tokenizer/llamacpp_vocab/ggml-vocab-" + name + ".gguf"));
}

inline std::string hf_tokenizer_json(const std::string& name) {
  const std::string json_path =
      plain_or_gunzip(shared_path("ref/tokenizer/hf/" + name + "/tokenizer.json"));
  // tokenizer_config.json must sit beside tokenizer.json for load_tokenizer to find it.
  namespace fs = std::filesystem;
  const fs::path cfg_dst = fs::path(json_path).parent_path() / "tokenizer_config.json";
  const fs::path cfg_src = shared_path("ref/tokenizer/hf/" + name + "/tokenizer_config.json");
  if (fs::path(json_path).parent_path() != cfg_src.parent_path() && !fs::exists(cfg_dst)) {
    const fs::path tmp = cfg_dst.string() + ".tmp" + std::to_string(::getpid());
    fs::copy_file(cfg_src, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, cfg_dst);
  }
  return json_path;
}

// The 308 common input strings.
inline const std::vector<nlohmann::json>& common_strings() {
  static const auto v = read_jsonl(shared_path("ref/tokenizer/inputs/strings.jsonl"));
  return v;
}

}  // namespace edgefit::test
