// The forward pass against llama.cpp's logits in ../shared/ref/logits: every model, every
// position of every sequence, from every format the model ships in.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/model.h"
#include "model/matmul.h"
#include "model/sampler.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::shared_path;

struct Case {
  std::string ref;    // folder under ref/logits
  std::string model;  // model path relative to ../shared
  double tol;         // max |Δ| accepted at every logit
  bool argmax_ok;     // quantized: a position passes if its argmax agrees, whatever the error
};

std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

struct Result {
  double max_err = 0;   // largest |Δ| over all logits
  double max_ref = 0;   // largest |reference logit|, the scale max_err is relative to
  int argmax_miss = 0;  // positions whose argmax differs from the reference
  int positions = 0;    // positions compared
};

// Runs every sequence of ref/logits/<ref> through `model_path` and compares.
Result compare(const std::string& ref, const std::string& model_path) {
  const std::string dir = shared_path("ref/logits/" + ref);
  const nlohmann::json man = read_json(dir + "/manifest.json");
  Model m = load_model(shared_path(model_path));
  Transformer tf(m);
  Result r;
  for (const auto& [name, seq] : man["sequences"].items()) {
    const std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
    const std::vector<float> want = read_f32(dir + "/" + seq["file"].get<std::string>());
    KVCache cache = tf.make_cache(static_cast<int64_t>(ids.size()));
    const std::vector<float> got = tf.forward(ids, cache);
    EXPECT_EQ(got.size(), want.size()) << ref << " " << name;
    if (got.size() != want.size()) continue;
    const size_t V = static_cast<size_t>(tf.vocab_size());
    for (size_t p = 0; p < ids.size(); ++p) {
      std::span<const float> g(got.data() + p * V, V), w(want.data() + p * V, V);
      for (size_t i = 0; i < V; ++i) {
        r.max_err = std::max(r.max_err, double(std::fabs(g[i] - w[i])));
        r.max_ref = std::max(r.max_ref, double(std::fabs(w[i])));
      }
      if (argmax(g) != argmax(w)) ++r.argmax_miss;
      ++r.positions;
    }
  }
  return r;
}

class LogitsTest : public ::testing::TestWithParam<Case> {};

TEST_P(LogitsTest, MatchesLlamaCpp) {
  const Case& c = GetParam();
  const Result r = compare(c.ref, c.model);
  std::printf("[logits] %-22s %-55s max|err| %.3g (rel %.2g), argmax misses %d/%d\n", c.ref.c_str(),
              c.model.c_str(), r.max_err, r.max_err / r.max_ref, r.argmax_miss, r.positions);
  EXPECT_GT(r.positions, 0);
  if (c.argmax_ok)
    EXPECT_TRUE(r.max_err <= c.tol || r.argmax_miss == 0) << r.max_err;
  else
    EXPECT_LE(r.max_err, c.tol);
  if (c.tol <= 1e-4) {
    EXPECT_LE(r.max_err / r.max_ref, 1e-4);  // f32: also relative to the logit scale
  }
}

const char* kStoriesGguf = "models/stories260K/gguf/";
const char* kRefModels = "ref/models/";

INSTANTIATE_TEST_SUITE_P(
    F32, LogitsTest,
    ::testing::Values(
        Case{"stories260K", std::string(kStoriesGguf) + "stories260K-f32.gguf", 1e-4, false},
        Case{"stories260K", "models/stories260K/hf", 1e-4, false},
        Case{"stories260K", "models/stories260K/llama2c/stories260K.bin", 1e-4, false},
        Case{"tiny-llama", std::string(kRefModels) + "tiny-llama/gguf/tiny-llama-f32.gguf", 1e-4,
             false},
        Case{"tiny-llama", std::string(kRefModels) + "tiny-llama/hf", 1e-4, false},
        Case{"tiny-qwen2", std::string(kRefModels) + "tiny-qwen2/gguf/tiny-qwen2-f32.gguf", 1e-4,
             false},
        Case{"tiny-qwen2", std::string(kRefModels) + "tiny-qwen2/hf", 1e-4, false},
        Case{"tiny-qwen3", std::string(kRefModels) + "tiny-qwen3/gguf/tiny-qwen3-f32.gguf", 1e-4,
             false},
        Case{"tiny-qwen3", std::string(kRefModels) + "tiny-qwen3/hf", 1e-4, false}));

INSTANTIATE_TEST_SUITE_P(F16, LogitsTest,
                         ::testing::Values(Case{"stories260K-f16",
                                                std::string(kStoriesGguf) + "stories260K-f16.gguf",
                                                0.05, false}));

INSTANTIATE_TEST_SUITE_P(
    Quantized, LogitsTest,
    ::testing::Values(
        Case{"stories260K-Q6_K", std::string(kStoriesGguf) + "quantized/stories260K-Q6_K.gguf", 0.5,
             true},
        Case{"stories260K-Q4_K_M", std::string(kStoriesGguf) + "quantized/stories260K-Q4_K_M.gguf",
             0.5, true},
        Case{"stories260K-Q2_K", std::string(kStoriesGguf) + "quantized/stories260K-Q2_K.gguf", 0.5,
             true},
        Case{"tiny-llama-Q8_0", std::string(kRefModels) + "tiny-llama/gguf/tiny-llama-Q8_0.gguf",
             0.5, true},
        Case{"tiny-llama-Q4_K_M",
             std::string(kRefModels) + "tiny-llama/gguf/tiny-llama-Q4_K_M.gguf", 0.5, true},
        Case{"tiny-qwen3-Q8_0", std::string(kRefModels) + "tiny-qwen3/gguf/tiny-qwen3-Q8_0.gguf",
             0.5, true},
        Case{"tiny-qwen3-Q4_K_M",
             std::string(kRefModels) + "tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf", 0.5, true}));

// Incremental decoding (one token at a time, and a prefill split in two) must give the logits
// of one batched pass over the whole sequence.
void check_incremental(const std::string& model_path, const std::vector<int32_t>& ids) {
  Model m = load_model(shared_path(model_path));
  Transformer tf(m);
  const size_t V = static_cast<size_t>(tf.vocab_size());
  KVCache full = tf.make_cache(static_cast<int64_t>(ids.size()));
  const std::vector<float> batched = tf.forward(ids, full);

  KVCache inc = tf.make_cache(static_cast<int64_t>(ids.size()));
  double max_err = 0;
  for (size_t p = 0; p < ids.size(); ++p) {
    const std::vector<float> row = tf.forward(std::span(ids).subspan(p, 1), inc);
    ASSERT_EQ(row.size(), V);
    for (size_t i = 0; i < V; ++i)
      max_err = std::max(max_err, double(std::fabs(row[i] - batched[p * V + i])));
  }
  EXPECT_EQ(inc.size(), static_cast<int64_t>(ids.size()));
  EXPECT_LE(max_err, 1e-5) << model_path;

  // Prefill the first part, then the rest with logits only for its last token.
  KVCache split = tf.make_cache(static_cast<int64_t>(ids.size()));
  const size_t half = ids.size() / 2;
  tf.forward(std::span(ids).first(half), split, int64_t(half));  // no logits at all
  const std::vector<float> last =
      tf.forward(std::span(ids).subspan(half), split, int64_t(ids.size() - half - 1));
  ASSERT_EQ(last.size(), V);
  double err2 = 0;
  for (size_t i = 0; i < V; ++i)
    err2 = std::max(err2, double(std::fabs(last[i] - batched[(ids.size() - 1) * V + i])));
  EXPECT_LE(err2, 1e-5);
}

std::vector<int32_t> manifest_ids(const std::string& ref, const std::string& seq) {
  return read_json(
             shared_path("ref/logits/" + ref + "/manifest.json"))["sequences"][seq]["token_ids"]
      .get<std::vector<int32_t>>();
}

TEST(KVCache, IncrementalEqualsBatchedLlama) {
  check_incremental("models/stories260K/gguf/stories260K-f32.gguf",
                    manifest_ids("stories260K", "s32"));
}
TEST(KVCache, IncrementalEqualsBatchedQwen2) {
  check_incremental("ref/models/tiny-qwen2/hf", manifest_ids("tiny-qwen2", "s32"));
}
TEST(KVCache, IncrementalEqualsBatchedQwen3) {
  check_incremental("ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf",
                    manifest_ids("tiny-qwen3", "s32"));
}

TEST(KVCache, FullCacheAndBadTokenAreErrors) {
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  Transformer tf(m);
  KVCache cache = tf.make_cache(4);
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  EXPECT_THROW(tf.forward(five, cache), Error);
  const std::vector<int32_t> bad = {1, 100000};
  EXPECT_THROW(tf.forward(bad, cache), Error);
}

// The runtime kernels and the reference matmul both give the naive product.
TEST(Matmul, MatchesNaiveProduct) {
  const int64_t n_out = 37, n_in = 45, T = 5;
  std::vector<float> w(n_out * n_in), x(T * n_in), y(T * n_out);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37 * i);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11 * i);
  const int64_t shape[2] = {n_out, n_in};
  TensorView v = TensorView::contiguous(DType::F32, shape, w.data());
  for (const MatmulChoice& choice : {MatmulChoice{}, MatmulChoice{.fn = matmul_ref}}) {
    std::fill(y.begin(), y.end(), 0.0f);
    matmul(choice, v, x.data(), T, y.data());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < n_out; ++o) {
        double s = 0;
        for (int64_t i = 0; i < n_in; ++i) s += double(w[o * n_in + i]) * x[t * n_in + i];
        EXPECT_NEAR(y[t * n_out + o], s, 1e-4) << (choice.fn ? "reference" : "runtime");
      }
  }
}

}  // namespace
}  // namespace edgefit
