// Paths to the ../shared data folder and a scratch directory for tests.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace edgefit::test {

inline std::string shared_path(const std::string& rel) {
  return std::string(EDGEFIT_SHARED_DIR) + "/" + rel;
}

// A fresh, empty directory under the build tree for one test's output files. The process id is
// part of the name because ctest runs test cases as parallel processes.
inline std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p =
      fs::path(EDGEFIT_BINARY_DIR) / "test-scratch" / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

}  // namespace edgefit::test

#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace edgefit::test {

// Decompresses a .gz file from ../shared into `dst` (tests never write into ../shared).
inline void gunzip_file(const std::string& src, const std::string& dst) {
  gzFile in = gzopen(src.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + src);
  std::ofstream out(dst, std::ios::binary);
  char buf[1 << 16];
  int n;
  while ((n = gzread(in, buf, sizeof buf)) > 0) out.write(buf, n);
  gzclose(in);
  if (n < 0) throw std::runtime_error("corrupt gzip " + src);
}

// Whole file as bytes.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace edgefit::test
