// Anonymous memory for large read-mostly buffers (repacked weights, the bandwidth probe), backed
// by 2 MiB transparent huge pages where the kernel offers them.
//
// Why: decode streams every weight once per token. With 4 KiB pages that is one TLB miss, and a
// page walk in the load's path, every 4 KiB; with 2 MiB pages the walks all but vanish. Measured
// on the CI host class (Zen 4, THP "madvise"): a plain read loop gains 10-20 %, and so does
// decode. THP "madvise" mode (the Debian default) gives huge pages only to regions that ask.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgefit {

class HugeBuffer {
 public:
  HugeBuffer() = default;
  // Maps `bytes` of zeroed memory, 2 MiB aligned, and asks for huge pages over its whole 2 MiB
  // pages (madvise MADV_HUGEPAGE; silently 4 KiB pages where THP is off, and always for the
  // tail). Throws Error when the memory cannot be mapped, naming the size.
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  HugeBuffer(HugeBuffer&& other) noexcept;
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Bytes of this buffer currently backed by huge pages (from /proc/self/smaps; 0 when unknown).
  uint64_t huge_bytes() const;

 private:
  uint8_t* data_ = nullptr;  // 2 MiB aligned start (nullptr when empty)
  size_t size_ = 0;          // bytes asked for
  void* map_ = nullptr;      // the whole mapping, alignment slack included
  size_t map_bytes_ = 0;     // its length
};

// True when the kernel gives transparent huge pages to regions that ask (THP "always" or
// "madvise"); false when THP is "never" or not built in, and a HugeBuffer gets 4 KiB pages.
bool huge_pages_available();

}  // namespace edgefit
