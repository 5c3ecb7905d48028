#include "core/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "core/error.h"

namespace edgefit {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

HugeBuffer::HugeBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  // Over-map by one huge page so the start can be rounded up to a 2 MiB boundary; the kernel
  // only backs whole, aligned 2 MiB ranges with huge pages. The slack is never touched, so it
  // costs address space, not memory.
  map_bytes_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  void* p = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(errno));
  }
  map_ = p;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~uintptr_t{kHugePage - 1};
  data_ = reinterpret_cast<uint8_t*>(a);
#if defined(MADV_HUGEPAGE)
  // Only the whole 2 MiB pages of the buffer: a huge page over the tail would make a small buffer
  // cost 2 MiB of memory. A hint: failure leaves 4 KiB pages.
  const size_t whole = bytes / kHugePage * kHugePage;
  if (whole > 0) ::madvise(data_, whole, MADV_HUGEPAGE);
#endif
}

HugeBuffer::~HugeBuffer() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      map_(std::exchange(o.map_, nullptr)),
      map_bytes_(std::exchange(o.map_bytes_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
  }
  return *this;
}

uint64_t HugeBuffer::huge_bytes() const {
  if (map_ == nullptr) return 0;
  // smaps lists each mapping as "lo-hi perms ..." followed by "Key: value kB" lines.
  std::ifstream in("/proc/self/smaps");
  std::string line;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(map_), hi = lo + map_bytes_;
  bool inside = false;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    unsigned long a = 0, b = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &a, &b) == 2) {
      inside = a >= lo && b <= hi;  // the mapping may have been split by madvise
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      std::istringstream ss(line.substr(14));
      uint64_t kb = 0;
      ss >> kb;
      total += kb * 1024;
    }
  }
  return total;
}

bool huge_pages_available() {
  // One line such as "always [madvise] never": the bracketed word is the current mode.
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return false;
  return line.find("[always]") != std::string::npos || line.find("[madvise]") != std::string::npos;
}

}  // namespace edgefit
