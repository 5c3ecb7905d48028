#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace edgefit {

namespace {

// What a non-regular file is, for the error message.
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  if (S_ISCHR(mode)) return "is a character device, not a regular file";
  if (S_ISBLK(mode)) return "is a block device, not a regular file";
  return "is not a regular file";
}

}  // namespace

int open_regular_file(const std::string& path) {
  // stat() first: opening a socket fails with a confusing ENXIO, and opening a FIFO without
  // O_NONBLOCK waits for a writer.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(std::string("cannot open: ") + std::strerror(errno), path);
  if (!S_ISREG(st.st_mode)) throw Error(file_kind(st.st_mode), path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(std::string("cannot open: ") + std::strerror(errno), path);
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(file_kind(st.st_mode), path);
  }
  return fd;
}

std::string read_file_prefix(const std::string& path, size_t n) {
  const int fd = open_regular_file(path);
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t k = ::read(fd, out.data() + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = open_regular_file(path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(std::string("cannot stat: ") + std::strerror(err), path);
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(std::string("cannot map: ") + std::strerror(err), path);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

namespace {

// The whole pages inside [p, p + n), as [lo, hi); lo == hi when there are none.
void inner_pages(const void* p, uint64_t n, uintptr_t* lo, uintptr_t* hi) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto start = reinterpret_cast<uintptr_t>(p);
  *lo = *hi = 0;
  if (page <= 0 || n == 0) return;
  *lo = (start + page - 1) / page * page;
  *hi = std::max(*lo, (start + n) / page * page);
}

// True when [lo, hi) lies in one read-only, file-backed (inode != 0) mapping of /proc/self/maps.
bool in_read_only_file_mapping(uintptr_t lo, uintptr_t hi) {
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return false;
  bool file_backed = false;
  char line[1024];
  while (std::fgets(line, sizeof line, maps)) {
    unsigned long from = 0, to = 0, inode = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %lu", &from, &to, perms, &inode) != 4) continue;
    if (lo >= from && hi <= to) {
      file_backed = inode != 0 && perms[0] == 'r' && perms[1] == '-';
      break;
    }
  }
  std::fclose(maps);
  return file_backed;
}

}  // namespace

bool is_file_mapping(const void* p, uint64_t n) {
  const auto lo = reinterpret_cast<uintptr_t>(p);
  return n > 0 && in_read_only_file_mapping(lo, lo + n);
}

uint64_t release_file_pages(const void* p, uint64_t n) {
  uintptr_t lo, hi;
  inner_pages(p, n, &lo, &hi);
  if (hi <= lo || !in_read_only_file_mapping(lo, hi)) return 0;
  if (::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED) != 0) return 0;
  return hi - lo;
}

}  // namespace edgefit
