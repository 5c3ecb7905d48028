#include "core/output_path.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <utility>

#include "core/error.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

// Device and inode of what `path` names after following symlinks; nullopt when it does not exist.
std::optional<std::pair<dev_t, ino_t>> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(st.st_dev, st.st_ino);
}

// The absolute path with symlinks of its existing part and "." / ".." resolved.
std::string resolved_path(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec) return path;
  const fs::path r = fs::weakly_canonical(abs, ec);
  return (ec ? abs.lexically_normal() : r).string();
}

bool same_file(const std::string& a, const std::string& b) {
  const auto ia = file_identity(a), ib = file_identity(b);
  if (ia && ib) return *ia == *ib;
  return resolved_path(a) == resolved_path(b);
}

// The input itself, and for a folder every entry directly inside it.
std::vector<std::string> input_paths(const std::string& input) {
  std::vector<std::string> paths = {input};
  std::error_code ec;
  if (!fs::is_directory(input, ec)) return paths;
  for (fs::directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec))
    paths.push_back(it->path().string());
  return paths;
}

}  // namespace

void check_output_not_input(const std::string& output, const std::vector<std::string>& inputs) {
  if (output.empty()) return;
  for (const std::string& input : inputs) {
    if (input.empty()) continue;
    for (const std::string& p : input_paths(input))
      if (same_file(output, p))
        throw Error("the output is one of the inputs ('" + p +
                        "'); writing it would replace that input: choose another output path",
                    output);
  }
}

}  // namespace edgefit
