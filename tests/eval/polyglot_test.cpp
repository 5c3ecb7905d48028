// The polyglot model (8.9 M parameters, ctx 256) per language against llama.cpp's f32 perplexities
// in ../shared/models/polyglot/README.md. Slow (tens of seconds): label `slow`. Under
// AddressSanitizer only two windows per language run and the values are not compared.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "eval/language_table.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "model/transformer.h"
#include "test_data.h"

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

namespace edgefit {
namespace {

namespace fs = std::filesystem;

TEST(Polyglot, EnglishGermanJapaneseMatchLlamaCpp) {
  const std::map<std::string, double> want = {{"deu", 124.68}, {"eng-US", 133.21}, {"jpn", 198.52}};
  const std::string dir = test::scratch_dir("polyglot-langs");
  for (const auto& [lang, ppl] : want)
    fs::copy_file(test::shared_path("text/ntrex128/eval/" + lang + ".txt"),
                  dir + "/" + lang + ".txt");
  const std::string path = test::shared_path("models/polyglot/hf");
  Model m = load_model(path);
  Transformer tf(m);
  auto tok = load_model_tokenizer(path, "", tf.vocab_size());
  EvalOptions o;
  o.ctx = 256;
  o.progress = false;
  if (kSanitized) o.max_chunks = 2;
  const LanguageTable t = evaluate_languages(tf, nullptr, *tok, dir, o);
  std::printf("%s", format_language_table(t).c_str());
  ASSERT_EQ(t.rows.size(), 3u);
  if (kSanitized) return;
  for (const LanguageResult& r : t.rows)
    EXPECT_NEAR(r.result.model.ppl(), want.at(r.language), 0.005 * want.at(r.language))
        << r.language;
  EXPECT_EQ(t.rows[static_cast<size_t>(t.worst)].language, "jpn");
}

}  // namespace
}  // namespace edgefit
