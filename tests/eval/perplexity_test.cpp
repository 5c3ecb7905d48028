// Perplexity and KL-divergence against llama-perplexity (../shared/ref/logits/perplexity).
#include "eval/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::shared_path;

const std::string kText = shared_path("ref/logits/perplexity/TinyStories-valid.head31k.txt");
const std::string kF32 = shared_path("models/stories260K/gguf/stories260K-f32.gguf");
const std::string kF16 = shared_path("models/stories260K/gguf/stories260K-f16.gguf");

double ref_ppl(const std::string& run, const char* field = "ppl") {
  std::ifstream f(shared_path("ref/logits/perplexity/stories260K_ctx128.json"));
  return nlohmann::json::parse(f)["runs"][run][field].get<double>();
}

EvalOptions quiet(int ctx) {
  EvalOptions o;
  o.ctx = ctx;
  o.progress = false;
  return o;
}

void check_stories(const std::string& path, const std::string& run) {
  Model m = load_model(path);
  Transformer tf(m);
  auto tok = load_model_tokenizer(path, "", tf.vocab_size());
  const EvalResult r = evaluate_text(tf, nullptr, *tok, read_file(kText), kText, quiet(128));
  std::printf("[ppl] %s: %.4f +/- %.5f over %lld tokens, %lld chunks (llama.cpp %.4f)\n",
              run.c_str(), r.model.ppl(), r.model.ppl_stderr(),
              static_cast<long long>(r.model.count), static_cast<long long>(r.n_chunks),
              ref_ppl(run));
  EXPECT_EQ(r.n_chunks, 121);  // as in llama-perplexity's log
  EXPECT_EQ(r.model.count, 121 * 63);
  EXPECT_NEAR(r.model.ppl(), ref_ppl(run), 0.001 * ref_ppl(run));
  if (run == "f32") {
    EXPECT_NEAR(r.model.ppl_stderr(), ref_ppl(run, "ppl_stderr"), 0.002);
  }
}

TEST(Perplexity, Stories260KF32MatchesLlamaCpp) {
  check_stories(kF32, "f32");
}
TEST(Perplexity, Stories260KF16MatchesLlamaCpp) {
  check_stories(kF16, "f16");
}

TEST(Perplexity, StderrFollowsLlamaCpp) {
  NllStats s;
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(v);
  // mean 2.5, raw variance 1.25, stderr = sqrt(1.25 / 3) · e^2.5
  EXPECT_NEAR(s.ppl(), std::exp(2.5), 1e-9);
  EXPECT_NEAR(s.ppl_stderr(), std::sqrt(1.25 / 3.0) * std::exp(2.5), 1e-9);
}

TEST(KLDivergence, SelfComparisonIsZero) {
  Model m = load_model(kF32);
  Transformer a(m), b(m);
  auto tok = load_model_tokenizer(kF32, "", a.vocab_size());
  EvalOptions o = quiet(128);
  o.max_chunks = 4;
  const EvalResult r = evaluate_text(a, &b, *tok, read_file(kText), kText, o);
  ASSERT_TRUE(r.kld && r.base);
  EXPECT_EQ(r.kld->count(), 4 * 63);
  EXPECT_NEAR(r.kld->mean(), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.kld->top1_agreement(), 1.0);
  EXPECT_NEAR(r.kld->mean_abs_dp(), 0.0, 1e-9);
  EXPECT_NEAR(delta_ppl_percent(r), 0.0, 1e-9);
}

TEST(KLDivergence, F16AgainstF32IsSmall) {
  Model m16 = load_model(kF16), m32 = load_model(kF32);
  Transformer model(m16), base(m32);
  auto tok = load_model_tokenizer(kF32, "", base.vocab_size());
  EvalOptions o = quiet(128);
  o.max_chunks = 20;
  const EvalResult r = evaluate_text(model, &base, *tok, read_file(kText), kText, o);
  ASSERT_TRUE(r.kld);
  std::printf("[kld] f16 vs f32: mean %.3g median %.3g p99 %.3g top1 %.4f |dp| %.3g\n",
              r.kld->mean(), r.kld->quantile(0.5), r.kld->quantile(0.99), r.kld->top1_agreement(),
              r.kld->mean_abs_dp());
  EXPECT_GT(r.kld->mean(), 0.0);
  EXPECT_LT(r.kld->mean(), 1e-3);
  EXPECT_LE(r.kld->quantile(0.5), r.kld->quantile(0.99));
  EXPECT_GT(r.kld->top1_agreement(), 0.97);
  EXPECT_LT(r.kld->mean_abs_dp(), 0.01);
}

TEST(KldStats, Quantiles) {
  KldStats k;
  for (int i = 1; i <= 100; ++i) k.kld.push_back(static_cast<float>(i));
  EXPECT_DOUBLE_EQ(k.quantile(0.5), 50.0);
  EXPECT_DOUBLE_EQ(k.quantile(0.99), 99.0);
  EXPECT_DOUBLE_EQ(k.mean(), 50.5);
}

// --- bad input ---

TEST(EvalErrors, EmptyText) {
  Model m = load_model(kF32);
  Transformer tf(m);
  auto tok = load_model_tokenizer(kF32, "", tf.vocab_size());
  EXPECT_THROW(evaluate_text(tf, nullptr, *tok, "", "empty.txt", quiet(128)), Error);
}

TEST(EvalErrors, TextShorterThanOneWindow) {
  Model m = load_model(kF32);
  Transformer tf(m);
  auto tok = load_model_tokenizer(kF32, "", tf.vocab_size());
  try {
    evaluate_text(tf, nullptr, *tok, "Once upon a time there was a cat.", "short.txt", quiet(128));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "short.txt");
    EXPECT_NE(e.message().find("fewer than one window"), std::string::npos) << e.what();
  }
}

TEST(EvalErrors, VocabularyMismatch) {
  Model m = load_model(kF32);
  Model other = load_model(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"));
  Model poly = load_model(shared_path("models/polyglot/gguf/polyglot-f32.gguf"));
  Transformer a(m), b(other), c(poly);
  EXPECT_NO_THROW(check_comparable(a, b, "tiny-llama"));  // both 512: comparable by size
  EXPECT_THROW(check_comparable(a, c, "polyglot"), Error);
  auto tok = load_model_tokenizer(kF32, "", a.vocab_size());
  EXPECT_THROW(evaluate_text(a, &c, *tok, read_file(kText), kText, quiet(128)), Error);
}

TEST(EvalErrors, EmptyLanguageDirectory) {
  const std::string dir = test::scratch_dir("eval-empty-langs");
  Model m = load_model(kF32);
  Transformer tf(m);
  auto tok = load_model_tokenizer(kF32, "", tf.vocab_size());
  EXPECT_THROW(evaluate_languages(tf, nullptr, *tok, dir, quiet(128)), Error);
  write_file_atomic(dir + "/xx.txt", "");
  EXPECT_THROW(evaluate_languages(tf, nullptr, *tok, dir, quiet(128)), Error);
}

TEST(ModelTokenizer, FindsTokenizerForEveryFormat) {
  EXPECT_EQ(tokenizer_path_for_model(kF32, ""), kF32);
  const std::string hf = shared_path("models/stories260K/hf");
  EXPECT_EQ(tokenizer_path_for_model(hf, ""), hf);
  EXPECT_EQ(tokenizer_path_for_model(shared_path("models/stories260K/llama2c/stories260K.bin"), ""),
            shared_path("models/stories260K/llama2c/tok512.bin"));
  EXPECT_EQ(tokenizer_path_for_model(kF32, "x.json"), "x.json");
  const std::string dir = test::scratch_dir("eval-no-tokenizer");
  write_file_atomic(dir + "/model.bin", "xxxx");
  EXPECT_THROW(tokenizer_path_for_model(dir + "/model.bin", ""), Error);
}

}  // namespace
}  // namespace edgefit
