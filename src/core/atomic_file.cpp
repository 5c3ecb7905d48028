#include "core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace edgefit {
namespace {

// Temp files of open writers, for the signal handler. A fixed table of C strings, because a
// handler may only call async-signal-safe functions (unlink) and must not allocate.
constexpr int kMaxOpen = 64;
char g_open_paths[kMaxOpen][4096];
std::atomic<bool> g_slot_used[kMaxOpen];

int register_temp(const std::string& path) {
  if (path.size() >= sizeof g_open_paths[0]) return -1;
  for (int i = 0; i < kMaxOpen; ++i) {
    bool expected = false;
    if (g_slot_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_open_paths[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;  // more than kMaxOpen writers: that one just is not cleaned on signals
}

void unregister_temp(int slot) {
  if (slot >= 0) g_slot_used[slot] = false;
}

extern "C" void remove_temps_and_reraise(int sig) {
  for (int i = 0; i < kMaxOpen; ++i)
    if (g_slot_used[i]) ::unlink(g_open_paths[i]);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void remove_temp_files_on_signals() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, remove_temps_and_reraise);
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) throw Error(std::string("cannot create: ") + std::strerror(errno), tmp_path_);
  slot_ = register_temp(tmp_path_);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
  unregister_temp(slot_);
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, file_) != n)
    throw Error(std::string("write failed: ") + std::strerror(errno), tmp_path_, offset_);
  offset_ += n;
}

void AtomicFileWriter::write_zeros(size_t n) {
  static const std::vector<char> zeros(4096, 0);
  while (n > 0) {
    const size_t k = n < zeros.size() ? n : zeros.size();
    write(zeros.data(), k);
    n -= k;
  }
}

void AtomicFileWriter::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw Error(std::string("flush failed: ") + std::strerror(errno), tmp_path_);
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw Error(std::string("cannot rename into place: ") + std::strerror(errno), path_);
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter w(path);
  w.write(contents);
  w.commit();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot open: ") + std::strerror(errno), path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace edgefit
