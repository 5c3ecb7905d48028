#include "core/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

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

// The process id in "<name>.tmp-<pid>" when `entry` is a temp file of `name`; 0 otherwise.
pid_t temp_file_owner(const std::string& entry, const std::string& name) {
  const std::string prefix = name + ".tmp-";
  if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) return 0;
  long long pid = 0;
  for (size_t i = prefix.size(); i < entry.size(); ++i) {
    if (entry[i] < '0' || entry[i] > '9' || pid > (1LL << 40)) return 0;
    pid = pid * 10 + (entry[i] - '0');
  }
  return static_cast<pid_t>(pid);
}

// A process that no longer exists. EPERM means it exists under another user: alive.
bool process_is_dead(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

void remove_stale_temp_files(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string name = p.filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t owner = temp_file_owner(it->path().filename().string(), name);
    if (owner > 0 && owner != ::getpid() && process_is_dead(owner)) {
      std::error_code ignored;  // another run may be removing it at the same moment
      fs::remove(it->path(), ignored);
    }
  }
}

void remove_temp_files_on_signals() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, remove_temps_and_reraise);
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
  remove_stale_temp_files(path_);
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) throw Error(std::string("cannot create: ") + std::strerror(errno), path_);
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
    throw Error(std::string("write failed: ") + std::strerror(errno), path_, offset_);
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
    throw Error(std::string("flush failed: ") + std::strerror(errno), path_);
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
  const int fd = open_regular_file(path);  // a FIFO or a folder is an error, not a hang
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(std::string("read failed: ") + std::strerror(err), path, out.size());
    }
    if (k == 0) break;
    out.append(buf, static_cast<size_t>(k));
  }
  ::close(fd);
  return out;
}

}  // namespace edgefit
