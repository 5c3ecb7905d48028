#include "pipeline/stage_cache.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/atomic_file.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

// FNV-1a, 64-bit: a stable, dependency-free hash for cache keys (not for security).
uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string file_identity(const fs::path& p) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    std::vector<std::string> items;
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.is_regular_file()) items.push_back(file_identity(e.path()));
    std::sort(items.begin(), items.end());
    std::string s;
    for (const auto& i : items) s += i + ";";
    return s;
  }
  const auto size = fs::file_size(p, ec);
  const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
  return fs::absolute(p).string() + ":" + std::to_string(ec ? 0 : size) + ":" +
         std::to_string(mtime);
}

// FNV-1a over a file's bytes, read in 1 MiB pieces.
std::string content_hash(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::vector<unsigned char> buf(1 << 20);
  uint64_t h = 1469598103934665603ull;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0)
    for (size_t i = 0; i < n; ++i) {
      h ^= buf[i];
      h *= 1099511628211ull;
    }
  std::fclose(f);
  char out[24];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace

nlohmann::json StageCache::output_record(const std::string& path) {
  return {{"file_bytes", fs::file_size(path)}, {"content_hash", content_hash(path)}};
}

bool StageCache::output_intact(const nlohmann::json& record, const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || !record.is_object() || !record.contains("file_bytes") ||
      !record.contains("content_hash"))
    return false;
  return record["file_bytes"] == size && record["content_hash"] == content_hash(path);
}

StageCache::StageCache(std::string out_dir) : dir_(std::move(out_dir) + "/.edgefit-stages") {
  fs::create_directories(dir_);
}

std::string StageCache::make_key(const std::vector<std::string>& parts,
                                 const std::vector<std::string>& files) {
  uint64_t h = fnv1a("edgefit-stage-v1");
  for (const auto& p : parts) h = fnv1a(p + "\x1f", h);
  for (const auto& f : files) h = fnv1a(file_identity(f) + "\x1e", h);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::optional<nlohmann::json> StageCache::load(const std::string& stage,
                                               const std::string& key) const {
  const std::string path = dir_ + "/" + stage + ".json";
  if (!fs::exists(path)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    if (j.value("key", std::string()) != key) return std::nullopt;
    return j.at("result");
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged record just means the stage runs again
  }
}

void StageCache::save(const std::string& stage, const std::string& key,
                      const nlohmann::json& result) const {
  write_file_atomic(dir_ + "/" + stage + ".json",
                    nlohmann::json{{"key", key}, {"result", result}}.dump(1));
}

}  // namespace edgefit
