#include "pipeline/stage_cache.h"

#include <filesystem>
#include <vector>

#include "core/atomic_file.h"
#include "core/content_key.h"

namespace edgefit {
namespace fs = std::filesystem;

nlohmann::json StageCache::output_record(const std::string& path) {
  return {{"file_bytes", fs::file_size(path)}, {"content_hash", file_content_hash(path)}};
}

bool StageCache::output_intact(const nlohmann::json& record, const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || !record.is_object() || !record.contains("file_bytes") ||
      !record.contains("content_hash"))
    return false;
  return record["file_bytes"] == size && record["content_hash"] == file_content_hash(path);
}

StageCache::StageCache(std::string out_dir) : dir_(std::move(out_dir) + "/.edgefit-stages") {
  fs::create_directories(dir_);
}

std::string StageCache::make_key(const std::vector<std::string>& parts,
                                 const std::vector<std::string>& files) {
  uint64_t h = fnv1a("edgefit-stage-v1");
  for (const auto& p : parts) h = fnv1a(p + "\x1f", h);
  for (const auto& f : files) h = fnv1a(file_identity(f) + "\x1e", h);
  return hash_hex(h);
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
