#include "core/content_key.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace edgefit {

namespace fs = std::filesystem;

uint64_t fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hash_hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string hash_key(std::string_view description) {
  return hash_hex(fnv1a(description));
}

std::string file_identity(const std::string& path) {
  std::error_code ec;
  std::string out;
  auto one = [&](const fs::path& p) {
    const auto size = fs::file_size(p, ec);
    const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    out += fs::absolute(p, ec).string() + "|" + std::to_string(size) + "|" + std::to_string(mtime) +
           ";";
  };
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) one(f);
  } else {
    one(path);
  }
  return out;
}

std::string file_content_hash(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::vector<char> buf(1 << 20);
  uint64_t h = fnv1a({});
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) h = fnv1a({buf.data(), n}, h);
  std::fclose(f);
  return hash_hex(h);
}

}  // namespace edgefit
