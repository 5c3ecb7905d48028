// Core utilities: dtype table, tensor views, atomic files, progress output, thread pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "core/atomic_file.h"
#include "core/dtype.h"
#include "core/progress.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "core/utf8.h"
#include "test_data.h"

namespace edgefit {
namespace {

// Block sizes and bytes per block as ggml defines them (ggml-common.h / ggml.c type traits);
// these decide every GGUF offset, so they are spelled out independently of src/core/dtype.cpp.
TEST(DType, GgmlBlockSizesMatchGgml) {
  struct Row {
    uint32_t id;
    uint32_t block;
    uint32_t bytes;
  };
  const Row rows[] = {
      {0, 1, 4},      {1, 1, 2},      {2, 32, 18},   {3, 32, 20},    {6, 32, 22},    {7, 32, 24},
      {8, 32, 34},    {9, 32, 36},    {10, 256, 84}, {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
      {14, 256, 210}, {15, 256, 292}, {16, 256, 66}, {17, 256, 74},  {18, 256, 98},  {19, 256, 50},
      {20, 32, 18},   {21, 256, 110}, {22, 256, 82}, {23, 256, 136}, {24, 1, 1},     {25, 1, 2},
      {26, 1, 4},     {27, 1, 8},     {28, 1, 8},    {29, 256, 56},  {30, 1, 2},     {34, 256, 54},
      {35, 256, 66},  {39, 32, 17}};
  for (const Row& r : rows) {
    const DTypeInfo* info = dtype_info_from_ggml(r.id);
    ASSERT_NE(info, nullptr) << r.id;
    EXPECT_EQ(info->block_size, r.block) << info->name;
    EXPECT_EQ(info->type_size, r.bytes) << info->name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 1000u, 0xffffffffu})
    EXPECT_EQ(dtype_info_from_ggml(removed), nullptr) << removed;
  EXPECT_EQ(*dtype_bytes(DType::Q4_K, 512), 288u);
  EXPECT_FALSE(dtype_bytes(DType::Q4_K, 100));
  EXPECT_EQ(dtype_from_name("q6_k"), DType::Q6_K);
  EXPECT_DOUBLE_EQ(dtype_bits_per_weight(DType::Q4_0), 4.5);
}

TEST(TensorView, ContiguousRowsAndBytes) {
  std::vector<float> data(2 * 3 * 4);
  std::iota(data.begin(), data.end(), 0.f);
  const int64_t shape[] = {2, 3, 4};
  const TensorView v = TensorView::contiguous(DType::F32, shape, data.data());
  EXPECT_EQ(v.numel(), 24);
  EXPECT_EQ(v.n_rows(), 6);
  EXPECT_EQ(v.row_bytes(), 16u);
  EXPECT_EQ(v.nbytes(), 96u);
  EXPECT_TRUE(v.is_contiguous());
  EXPECT_EQ(reinterpret_cast<const float*>(v.row(5))[0], 20.f);
  EXPECT_EQ(v.shape_string(), "[2, 3, 4]");
  const int64_t qshape[] = {3, 64};
  EXPECT_EQ(TensorView::contiguous(DType::Q8_0, qshape, nullptr).nbytes(), 3u * 2 * 34);
}

TEST(AtomicFile, AppearsOnlyOnCommit) {
  const std::string dir = test::scratch_dir("atomic");
  const std::string path = dir + "/out.bin";
  {
    AtomicFileWriter w(path);
    w.write("hello");
    EXPECT_FALSE(std::filesystem::exists(path));
  }  // abandoned: nothing left behind
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  write_file_atomic(path, "data");
  EXPECT_EQ(read_file(path), "data");
  EXPECT_THROW(read_file(dir + "/missing"), Error);
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  const std::string path = test::scratch_dir("progress") + "/log.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  {
    Progress p("quantize", 10, "MB", f);
    for (int i = 0; i < 10; ++i) p.advance();
  }
  std::fclose(f);
  const std::string log = read_file(path);
  EXPECT_NE(log.find("quantize: 10/10 (100%)"), std::string::npos) << log;
  EXPECT_NE(log.find("done in"), std::string::npos) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << "no bar redraws in a log";
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(65), "1m05s");
}

TEST(ThreadPool, CoversEveryIndexOnceAndPropagatesErrors) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(1000);
    for (int rep = 0; rep < 20; ++rep)
      pool.parallel_for(1000, 7, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
    for (auto& h : hits) EXPECT_EQ(h.load(), 20);
    EXPECT_THROW(pool.parallel_for(100, 1,
                                   [](int64_t b, int64_t e) {
                                     if (b <= 50 && 50 < e) throw Error("boom");
                                   }),
                 Error);
    // The pool is still usable after an exception.
    std::atomic<int64_t> sum{0};
    pool.parallel_for(10, 1, [&](int64_t b, int64_t e) { sum += e - b; });
    EXPECT_EQ(sum.load(), 10);
  }
}

// The guided split: chunks tile [0, n) in shrinking order (1/(2·threads) of what is left, at
// least the grain and ~1/16 of a thread's share, the last one possibly shorter), and the split is
// the same every run whichever thread takes which chunk.
TEST(ThreadPool, ChunksShrinkTowardsTheEndAndRepeatRunToRun) {
  ThreadPool pool(2);
  const auto split = [&](int64_t n, int64_t grain) {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
      std::lock_guard lock(mu);
      chunks.emplace_back(b, e);
    });
    std::sort(chunks.begin(), chunks.end());
    return chunks;
  };
  const auto chunks = split(1000, 7);
  ASSERT_GE(chunks.size(), 8u);
  EXPECT_EQ(chunks.front(), std::make_pair(int64_t{0}, int64_t{250}));  // a quarter of 1000
  int64_t at = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto [b, e] = chunks[i];
    EXPECT_EQ(b, at) << "chunk " << i;
    if (i + 1 < chunks.size()) {
      EXPECT_GE(e - b, 32) << "at least 1000 / 32, chunk " << i;
      if (i > 0) {
        EXPECT_LE(e - b, chunks[i - 1].second - chunks[i - 1].first) << "chunk " << i;
      }
    }
    at = e;
  }
  EXPECT_EQ(at, 1000);
  for (int rep = 0; rep < 5; ++rep) EXPECT_EQ(split(1000, 7), chunks) << "rep " << rep;
  for (const auto& [b, e] : split(100, 40)) {  // the grain bounds the shortest chunk
    if (e < 100) {
      EXPECT_GE(e - b, 40);
    }
  }
}

// Workers spin for a while after a job, then sleep: jobs must run correctly in both states, and
// back-to-back jobs (the decode pattern: hundreds of short loops) must not lose or repeat work.
TEST(ThreadPool, WakesSpinningAndSleepingWorkers) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 6; ++rep) {
    if (rep % 2 == 1)  // long enough for every worker to stop spinning and block
      std::this_thread::sleep_for(std::chrono::duration<double>(5 * ThreadPool::kSpinSeconds));
    std::atomic<int64_t> sum{0};
    std::set<std::thread::id> ids;
    std::mutex mu;
    pool.parallel_for(300, 1, [&](int64_t b, int64_t e) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      {
        std::lock_guard lock(mu);
        ids.insert(std::this_thread::get_id());
      }
      // The thread with the first chunk waits (up to 5 s) for a second thread to show up, so a
      // loaded host that schedules the woken workers late cannot let one thread finish the job
      // alone: only workers that never wake fail this.
      if (b == 0) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
          {
            std::lock_guard lock(mu);
            if (ids.size() > 1) break;
          }
          if (std::chrono::steady_clock::now() > deadline) break;
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      }
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    EXPECT_EQ(sum.load(), 300 * 299 / 2) << "rep " << rep;
    EXPECT_GT(ids.size(), 1u) << "workers took part, rep " << rep;
  }
  std::atomic<int64_t> count{0};
  for (int job = 0; job < 20000; ++job)
    pool.parallel_for(8, 1, [&](int64_t b, int64_t e) { count += e - b; });
  EXPECT_EQ(count.load(), 8 * 20000);
}

// Two threads sharing one pool (two models on a server) and a loop body that itself calls
// parallel_for: every index still runs exactly once, and nothing deadlocks. The second caller
// finds the pool busy and runs its range inline.
TEST(ThreadPool, ConcurrentAndNestedCallersEachCoverTheirRange) {
  ThreadPool pool(3);
  constexpr int kReps = 2000;
  std::vector<std::atomic<int>> a(64), b(64);
  const auto hammer = [&](std::vector<std::atomic<int>>& hits) {
    for (int rep = 0; rep < kReps; ++rep)
      pool.parallel_for(64, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) hits[i]++;
      });
  };
  std::thread other([&] { hammer(b); });
  hammer(a);
  other.join();
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(a[i].load(), kReps) << i;
    EXPECT_EQ(b[i].load(), kReps) << i;
  }
  std::vector<std::atomic<int>> inner(16 * 16);
  pool.parallel_for(16, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      pool.parallel_for(16, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) inner[r * 16 + c]++;
      });
  });
  for (auto& h : inner) EXPECT_EQ(h.load(), 1);
}

TEST(Utf8, AcceptsTextRejectsMalformed) {
  EXPECT_TRUE(is_valid_utf8("héllo, 世界 🦙"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

}  // namespace
}  // namespace edgefit
