// Paths to the ../shared data folder and a scratch directory for tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace edgefit::test {

inline std::string shared_path(const std::string& rel) {
  return std::string(EDGEFIT_SHARED_DIR) + "/" + rel;
}

// A fresh, empty directory under the build tree for one test's output files.
inline std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::path(EDGEFIT_BINARY_DIR) / "test-scratch" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

}  // namespace edgefit::test
