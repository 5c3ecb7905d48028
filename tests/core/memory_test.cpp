// Where weights live: file maps (MappedFile), handing their pages back (release_file_pages,
// is_file_mapping) and huge-page buffers (HugeBuffer).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/mapped_file.h"
#include "test_data.h"

namespace edgefit {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// A counter of /proc/vmstat (0 when absent).
uint64_t vmstat(const std::string& key) {
  std::ifstream in("/proc/vmstat");
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

// Resident bytes of the mapping holding p, from /proc/self/smaps (its "Rss:" line).
uint64_t mapping_rss(const void* p) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  const auto a = reinterpret_cast<unsigned long>(p);
  bool inside = false;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      inside = a >= lo && a < hi;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stoull(line.substr(4)) * 1024;
    }
  }
  return 0;
}

TEST(MappedFile, MapsTheFileAndNamesItWhenMissing) {
  const std::string path = test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf");
  const MappedFile f(path);
  ASSERT_GT(f.size(), 1 * kMiB);
  EXPECT_EQ(0, std::memcmp(f.data(), "GGUF", 4));
  try {
    MappedFile missing(path + ".missing");
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path + ".missing");
  }
}

TEST(MappedFile, ReleasesOnlyReadOnlyFilePages) {
  const MappedFile f(test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf"));
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const uint8_t* p = f.data() + 100;  // not page aligned: only whole pages inside count
  const size_t n = 64 * page;
  volatile uint64_t sink = 0;
  for (size_t i = 0; i < n; i += page) sink = sink + p[i];  // fault the pages in
  EXPECT_TRUE(is_file_mapping(p, n));
  const uint64_t rss_before = mapping_rss(p);
  EXPECT_EQ(release_file_pages(p, n), 63 * page);
  // The 63 whole pages inside left the resident set; the partial first page stayed.
  EXPECT_EQ(rss_before - mapping_rss(p), 63 * page);
  // They read back the same bytes from the page cache.
  std::ifstream in(f.path(), std::ios::binary);
  std::vector<char> want(n);
  in.seekg(100);
  in.read(want.data(), static_cast<std::streamsize>(n));
  EXPECT_EQ(0, std::memcmp(p, want.data(), n));

  // Heap and anonymous memory would be zeroed by MADV_DONTNEED: refused, and left intact.
  std::vector<uint8_t> heap(8 * page + 1, 7);
  EXPECT_FALSE(is_file_mapping(heap.data(), heap.size()));
  EXPECT_EQ(release_file_pages(heap.data(), heap.size()), 0u);
  EXPECT_TRUE(std::all_of(heap.begin(), heap.end(), [](uint8_t v) { return v == 7; }));
  HugeBuffer anon(4 * kMiB);
  std::memset(anon.data(), 9, anon.size());
  EXPECT_FALSE(is_file_mapping(anon.data(), anon.size()));
  EXPECT_EQ(release_file_pages(anon.data(), anon.size()), 0u);
  EXPECT_EQ(anon.data()[anon.size() - 1], 9);
  // Less than one whole page: in the file mapping, but no page of its own to release.
  EXPECT_TRUE(is_file_mapping(f.data() + 1, page - 2));
  EXPECT_EQ(release_file_pages(f.data() + 1, page - 2), 0u);
  EXPECT_FALSE(is_file_mapping(f.data(), 0));
}

TEST(HugeBuffer, AlignedZeroedMovable) {
  HugeBuffer b(5 * kMiB + 123);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 5 * kMiB + 123);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (2 * kMiB), 0u);
  EXPECT_TRUE(std::all_of(b.data(), b.data() + b.size(), [](uint8_t v) { return v == 0; }));
  std::memset(b.data(), 0xAB, b.size());
  uint8_t* const p = b.data();
  HugeBuffer moved(std::move(b));
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(moved.data(), p);
  EXPECT_EQ(moved.data()[moved.size() - 1], 0xAB);
  HugeBuffer assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), p);
  EXPECT_EQ(moved.data(), nullptr);
  // Huge-page bytes are whole 2 MiB pages of this buffer, never over its tail.
  EXPECT_EQ(assigned.huge_bytes() % (2 * kMiB), 0u);
  EXPECT_LE(assigned.huge_bytes(), 4 * kMiB);
  const HugeBuffer empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.huge_bytes(), 0u);
}

TEST(HugeBuffer, AsksTheKernelForHugePages) {
  if (!huge_pages_available()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  // With THP in "madvise" or "always" mode, touching an aligned 2 MiB range of a HugeBuffer makes
  // the kernel try a huge page: it either allocates one or counts a fallback. A buffer that did
  // not ask (no madvise, "madvise" mode) moves neither counter.
  const uint64_t before = vmstat("thp_fault_alloc") + vmstat("thp_fault_fallback");
  HugeBuffer b(8 * kMiB);
  std::memset(b.data(), 1, b.size());
  const uint64_t after = vmstat("thp_fault_alloc") + vmstat("thp_fault_fallback");
  EXPECT_GE(after - before, 1u);
  std::printf("[huge] %zu of %zu bytes on huge pages\n", static_cast<size_t>(b.huge_bytes()),
              b.size());
}

}  // namespace
}  // namespace edgefit
