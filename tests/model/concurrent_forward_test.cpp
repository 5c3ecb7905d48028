// Two model instances running forward at the same time on two threads (a server with two models):
// the shared thread pool must neither race nor deadlock, and each model's logits must be
// bit-identical to what it gives alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <latch>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

// One forward over `ids` from an empty cache, all positions' logits.
std::vector<float> run(Transformer& tf, const std::vector<int32_t>& ids) {
  KVCache cache = tf.make_cache(static_cast<int64_t>(ids.size()));
  return tf.forward(ids, cache);
}

// Prefill then token-by-token decode: the decode pattern (hundreds of short parallel loops) is
// where two callers collide most often on the pool.
std::vector<float> run_decode(Transformer& tf, const std::vector<int32_t>& ids) {
  KVCache cache = tf.make_cache(static_cast<int64_t>(ids.size()));
  std::vector<float> out = tf.forward(std::span(ids).first(4), cache);
  for (size_t i = 4; i < ids.size(); ++i) {
    const std::vector<float> step = tf.forward(std::span(ids).subspan(i, 1), cache);
    out.insert(out.end(), step.begin(), step.end());
  }
  return out;
}

// Bit-identical: same length and the same bytes (a mismatch names the first differing logit
// instead of printing two vocabularies of floats).
::testing::AssertionResult same_bits(const std::vector<float>& got,
                                     const std::vector<float>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " logits, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "logit " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

std::vector<int32_t> tokens(int n, int seed, int vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = (seed + 7919 * i) % vocab;
  return ids;
}

TEST(ConcurrentForward, TwoModelsOnTwoThreadsMatchSequentialRuns) {
  ASSERT_GT(ThreadPool::global().size(), 1) << "needs a pool with workers to share";
  // Two separately loaded models in two formats, so the threads run different kernels.
  const Model fp = load_model(test::shared_path("models/polyglot/gguf/polyglot-f16.gguf"));
  const Model q4 = load_model(test::shared_path("ref/polyglot/polyglot-q4_0.llamacpp.gguf"));
  Transformer a(fp), b(q4);
  const std::vector<int32_t> ids_a = tokens(24, 11, a.vocab_size());
  const std::vector<int32_t> ids_b = tokens(24, 5, b.vocab_size());
  const std::vector<float> want_a = run(a, ids_a), want_b = run(b, ids_b);
  const std::vector<float> want_da = run_decode(a, ids_a), want_db = run_decode(b, ids_b);

  constexpr int kRounds = 3;
  std::vector<std::vector<float>> got_a, got_b, got_da, got_db;
  std::latch start(2);  // both threads enter forward together
  const auto worker = [&](Transformer& tf, const std::vector<int32_t>& ids,
                          std::vector<std::vector<float>>& got,
                          std::vector<std::vector<float>>& got_d) {
    start.arrive_and_wait();
    for (int r = 0; r < kRounds; ++r) {
      got.push_back(run(tf, ids));
      got_d.push_back(run_decode(tf, ids));
    }
  };
  std::thread other(worker, std::ref(b), std::cref(ids_b), std::ref(got_b), std::ref(got_db));
  worker(a, ids_a, got_a, got_da);
  other.join();

  for (int r = 0; r < kRounds; ++r) {
    EXPECT_TRUE(same_bits(got_a[r], want_a)) << "f16 prefill, round " << r;
    EXPECT_TRUE(same_bits(got_b[r], want_b)) << "q4_0 prefill, round " << r;
    EXPECT_TRUE(same_bits(got_da[r], want_da)) << "f16 decode, round " << r;
    EXPECT_TRUE(same_bits(got_db[r], want_db)) << "q4_0 decode, round " << r;
  }
}

}  // namespace
}  // namespace edgefit
