#include "compress/work_dir.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace edgefit {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kHiddenMagic = 0x48464445;  // "EDFH"

template <class T>
void put_pod(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool get_pod(std::ifstream& in, T& v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof v));
}

// Tensor names are plain ASCII ("blk.3.attn_q.weight"), safe as file names; anything else is
// replaced so a hostile name cannot escape the directory.
std::string safe_name(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  if (s.empty() || s[0] == '.') s = "_" + s;
  return s;
}

}  // namespace

WorkDir::WorkDir(std::string path, const std::string& key) : path_(std::move(path)) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec) throw Error("cannot create the work directory: " + ec.message(), path_);
  const std::string key_file = file("key.txt");
  std::string old;
  if (fs::exists(key_file)) old = read_file(key_file);
  if (old != key) {
    // Another run's (or an unfinished first write's) state: start over.
    for (const auto& e : fs::directory_iterator(path_, ec)) fs::remove_all(e.path(), ec);
    write_file_atomic(key_file, key);
  }
}

std::string WorkDir::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

int WorkDir::last_done_block() const {
  int n = -1;
  while (fs::exists(file("blk." + std::to_string(n + 1) + ".done"))) ++n;
  return n;
}

void WorkDir::mark_done(int layer) {
  write_file_atomic(file("blk." + std::to_string(layer) + ".done"), "done\n");
}

void WorkDir::save_tensor(const std::string& name, DType type, const std::vector<uint8_t>& bytes) {
  AtomicFileWriter w(file(safe_name(name) + ".bin"));
  std::string head;
  put_pod(head, static_cast<uint32_t>(type));
  put_pod(head, static_cast<uint64_t>(bytes.size()));
  w.write(head);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

bool WorkDir::has_tensor(const std::string& name) const {
  return fs::exists(file(safe_name(name) + ".bin"));
}

std::vector<uint8_t> WorkDir::load_tensor(const std::string& name, DType* type) const {
  const std::string p = file(safe_name(name) + ".bin");
  std::ifstream in(p, std::ios::binary);
  uint32_t t = 0;
  uint64_t n = 0;
  if (!in || !get_pod(in, t) || !get_pod(in, n)) throw Error("cannot read saved tensor", p);
  std::error_code ec;
  if (fs::file_size(p, ec) != n + 12) throw Error("saved tensor is truncated", p);
  std::vector<uint8_t> bytes(n);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(n)))
    throw Error("cannot read saved tensor", p);
  if (type) *type = static_cast<DType>(t);
  return bytes;
}

void WorkDir::save_hidden(int layer, const std::vector<float>& h) {
  AtomicFileWriter w(file("hidden.f32"));
  std::string head;
  put_pod(head, kHiddenMagic);
  put_pod(head, static_cast<int32_t>(layer));
  put_pod(head, static_cast<uint64_t>(h.size()));
  w.write(head);
  w.write(h.data(), h.size() * sizeof(float));
  w.commit();
}

bool WorkDir::load_hidden(int layer, std::vector<float>& h) const {
  std::ifstream in(file("hidden.f32"), std::ios::binary);
  uint32_t magic = 0;
  int32_t l = 0;
  uint64_t n = 0;
  if (!in || !get_pod(in, magic) || !get_pod(in, l) || !get_pod(in, n)) return false;
  if (magic != kHiddenMagic || l != layer || n != h.size()) return false;
  return static_cast<bool>(
      in.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(n * sizeof(float))));
}

void WorkDir::save_floats(const std::string& name, const std::vector<float>& v) {
  std::string s;
  put_pod(s, static_cast<uint64_t>(v.size()));
  s.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  write_file_atomic(file(safe_name(name) + ".floats"), s);
}

bool WorkDir::load_floats(const std::string& name, std::vector<float>& v) const {
  std::ifstream in(file(safe_name(name) + ".floats"), std::ios::binary);
  uint64_t n = 0;
  if (!in || !get_pod(in, n) || n > (1ull << 32)) return false;
  v.resize(n);
  return static_cast<bool>(
      in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float))));
}

void WorkDir::remove() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace edgefit
