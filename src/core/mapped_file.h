// Read-only memory map of a whole file. Model files are several GB: we map them and let the
// kernel page in what is touched, so `inspect` reads only headers and inference reads weights
// straight from the page cache without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace edgefit {

// Opens `path` read-only and returns the descriptor, after checking that it is a regular file:
// a FIFO would block the open (and every read) until some writer appears, a directory or device
// cannot be a model or a text. Throws Error naming the file and what it is instead ("is a
// directory", "is a FIFO (named pipe)", …). Opened O_NONBLOCK, so even a FIFO swapped in after
// the check cannot hang us; the kind is checked again on the open descriptor.
int open_regular_file(const std::string& path);

// The first `n` bytes of a regular file (fewer when it is shorter), for sniffing a format's magic.
std::string read_file_prefix(const std::string& path, size_t n);

class MappedFile {
 public:
  // Maps `path` read-only; throws Error naming the file when it cannot be opened or mapped, or is
  // not a regular file (open_regular_file).
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, static_cast<size_t>(size_)}; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;               // for error messages
  const uint8_t* data_ = nullptr;  // mapped bytes (nullptr for an empty file)
  uint64_t size_ = 0;              // file size in bytes
};

// Hands the whole pages inside [p, p + n) back to the OS when, and only when, they belong to a
// read-only file mapping (checked against /proc/self/maps): they leave the process's resident set
// and are re-read from the page cache if touched again. Anything else (heap, anonymous or
// writable memory, whose pages would be zeroed) is left alone. Returns the bytes released. Used
// after weights were copied elsewhere (repacking), so memory holds one copy of them, not two.
uint64_t release_file_pages(const void* p, uint64_t n);

// True when [p, p + n) (n > 0) lies in one read-only file mapping, whose whole pages
// release_file_pages() can hand back once the bytes were copied elsewhere.
bool is_file_mapping(const void* p, uint64_t n);

}  // namespace edgefit
