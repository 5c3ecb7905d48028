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

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(std::string("cannot open: ") + std::strerror(errno), path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("not a regular file", path);
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
