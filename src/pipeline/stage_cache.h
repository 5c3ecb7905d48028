// Resumable pipeline stages. A finished stage leaves OUTDIR/.edgefit-stages/<name>.json holding
// the key of its inputs and its result; a re-run with the same key reuses the result instead of
// redoing the work. Keys hash everything the stage depends on — option values and the identity
// (path, size, modification time) of every input file — so a changed input reruns the stage.
// Hashing and file identities come from core/content_key.h, shared with compress/work_dir.h.
// Records are written atomically after the stage's own outputs, so a killed run never leaves a
// record for unfinished work.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace edgefit {

class StageCache {
 public:
  explicit StageCache(std::string out_dir);

  // The stored result of `stage` if its key matches; nullopt otherwise.
  std::optional<nlohmann::json> load(const std::string& stage, const std::string& key) const;
  void save(const std::string& stage, const std::string& key, const nlohmann::json& result) const;

  // A stage output's record: its size and a hash of its bytes. A cached result is reused only
  // while output_intact() holds, so a truncated or edited output reruns its stage (issue 21).
  static nlohmann::json output_record(const std::string& path);
  // Whether `path` still has the size and content hash `record` (from output_record) holds.
  static bool output_intact(const nlohmann::json& record, const std::string& path);

  // Builds a key: hash of the parts plus the identity of each file (or folder's files).
  static std::string make_key(const std::vector<std::string>& parts,
                              const std::vector<std::string>& files);

 private:
  std::string dir_;  // OUTDIR/.edgefit-stages
};

}  // namespace edgefit
