// Presets: our per-tensor type choices equal llama.cpp's in every reference quantized GGUF
// (stories260K Q2_K…Q6_K with their fallbacks, polyglot q4_0 and q4_k_m+imatrix, tiny-llama and
// tiny-qwen3 Q8_0/Q4_K_M), plus the override rules and their errors.
#include "quant/presets.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_arch.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::shared_path;

struct Source {
  std::vector<TensorDesc> tensors;  // the f32 file's tensors
  TypeChoiceModel model;            // its facts for the rules
};

Source load_source(const std::string& rel) {
  GgufFile g(shared_path(rel));
  Source s;
  const ArchConfig c = arch_config_from_gguf(g);
  s.model = {gguf_arch_name(c), c.n_layers, c.n_heads, c.n_kv_heads};
  for (const auto& t : g.tensors()) s.tensors.push_back({t.name, t.ne, t.type});
  return s;
}

std::map<std::string, DType> types_of(const std::string& rel) {
  GgufFile g(shared_path(rel));
  std::map<std::string, DType> m;
  for (const auto& t : g.tensors()) m[t.name] = t.type;
  return m;
}

std::map<std::string, DType> choose(const Source& s, const std::string& preset,
                                    bool imatrix = false, TypeChoiceOptions o = {}) {
  o.preset = find_quant_preset(preset);
  EXPECT_NE(o.preset, nullptr) << preset;
  o.has_imatrix = imatrix;
  const auto choices = choose_tensor_types(s.tensors, s.model, o);
  std::map<std::string, DType> m;
  for (size_t i = 0; i < choices.size(); ++i) m[s.tensors[i].name] = choices[i].type;
  return m;
}

void expect_same_types(const std::map<std::string, DType>& ours,
                       const std::map<std::string, DType>& ref, const std::string& what) {
  ASSERT_EQ(ours.size(), ref.size()) << what;
  int mismatches = 0;
  for (const auto& [name, type] : ref) {
    auto it = ours.find(name);
    ASSERT_NE(it, ours.end()) << what << ": " << name;
    if (it->second != type) {
      ++mismatches;
      ADD_FAILURE() << what << ": " << name << " ours " << dtype_name(it->second) << " llama.cpp "
                    << dtype_name(type);
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
}

struct RefCase {
  const char* source;  // f32 GGUF quantized by llama.cpp
  const char* ref;     // llama.cpp's output
  const char* preset;  // our preset name
  bool imatrix;        // llama.cpp was given an imatrix
};

const RefCase kRefCases[] = {
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q2_K.gguf", "q2_k", false},
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q3_K_M.gguf", "q3_k_m", false},
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf", "q4_k_m", false},
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q4_K_S.gguf", "q4_k_s", false},
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q5_K_M.gguf", "q5_k_m", false},
    {"models/stories260K/gguf/stories260K-f32.gguf",
     "models/stories260K/gguf/quantized/stories260K-Q6_K.gguf", "q6_k", false},
    {"models/stories260K/gguf/stories260K-f32.gguf", "models/stories260K/gguf/stories260K-f16.gguf",
     "f16", false},
    {"models/polyglot/gguf/polyglot-f32.gguf", "ref/polyglot/polyglot-q4_0.llamacpp.gguf", "q4_0",
     false},
    {"models/polyglot/gguf/polyglot-f32.gguf", "ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf",
     "q4_k_m", true},
    {"models/polyglot/gguf/polyglot-f32.gguf", "models/polyglot/gguf/polyglot-f16.gguf", "f16",
     false},
    {"ref/models/tiny-llama/gguf/tiny-llama-f32.gguf",
     "ref/models/tiny-llama/gguf/tiny-llama-Q8_0.gguf", "q8_0", false},
    {"ref/models/tiny-llama/gguf/tiny-llama-f32.gguf",
     "ref/models/tiny-llama/gguf/tiny-llama-Q4_K_M.gguf", "q4_k_m", false},
    {"ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf",
     "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q8_0.gguf", "q8_0", false},
    {"ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf",
     "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf", "q4_k_m", false},
};

TEST(Presets, TypeChoicesEqualLlamaCppInEveryReferenceFile) {
  for (const auto& c : kRefCases) {
    SCOPED_TRACE(c.ref);
    const Source s = load_source(c.source);
    expect_same_types(choose(s, c.preset, c.imatrix), types_of(c.ref), c.ref);
  }
}

TEST(Presets, FileTypeNumbersAreLlamaCpps) {
  // general.file_type of llama.cpp's own outputs.
  for (const auto& c : kRefCases) {
    GgufFile g(shared_path(c.ref));
    EXPECT_EQ(g.get_int("general.file_type"), find_quant_preset(c.preset)->ftype) << c.ref;
  }
  EXPECT_EQ(find_quant_preset("Q4_K_M"), find_quant_preset("q4_k_m"));
  EXPECT_EQ(find_quant_preset("q9_k"), nullptr);
}

// Names as llama-quantize's QUANT_OPTIONS take them (examples/quantize/quantize.cpp, b4748):
// any case, the k-quant family names as aliases of their _M mix, and llama_ftype numbers (the
// LLAMA_FTYPE_MOSTLY_* values of llama.h, written out here, not taken from our table).
TEST(Presets, NamesAsLlamaQuantizeTakesThem) {
  const std::pair<const char*, const char*> same[] = {
      {"Q4_K", "q4_k_m"}, {"q5_k", "q5_k_m"}, {"Q3_K", "q3_k_m"}, {"Q6_K", "q6_k"},
      {"0", "f32"},       {"1", "f16"},       {"2", "q4_0"},      {"3", "q4_1"},
      {"7", "q8_0"},      {"8", "q5_0"},      {"9", "q5_1"},      {"10", "q2_k"},
      {"11", "q3_k_s"},   {"12", "q3_k_m"},   {"13", "q3_k_l"},   {"14", "q4_k_s"},
      {"15", "q4_k_m"},   {"16", "q5_k_s"},   {"17", "q5_k_m"},   {"18", "q6_k"},
      {"25", "iq4_nl"},   {"32", "bf16"}};
  for (const auto& [alias, name] : same) {
    ASSERT_NE(find_quant_preset(alias), nullptr) << alias;
    EXPECT_EQ(find_quant_preset(alias)->name, name) << alias;
  }
  for (const char* bad : {"4", "q4", "q4_k_x", "1000", "-15", "15x", ""})
    EXPECT_EQ(find_quant_preset(bad), nullptr) << bad;
}

TEST(Presets, LegacyTypesFailOnRowsNotMultipleOf32LikeLlamaCpp) {
  // llama-quantize: "Unsupported tensor size encountered" for Q8_0/Q4_0/Q5_0/IQ4_NL (ff 172).
  const Source s = load_source("models/stories260K/gguf/stories260K-f32.gguf");
  for (const char* p : {"q8_0", "q4_0", "q5_0", "iq4_nl"}) {
    try {
      choose(s, p);
      ADD_FAILURE() << p << " should fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("ffn_down"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("172"), std::string::npos) << e.what();
    }
  }
  // A user override that fits makes it work.
  TypeChoiceOptions o;
  o.overrides.push_back(parse_tensor_type_override("ffn_down=f16"));
  const auto m = choose(s, "q8_0", false, o);
  EXPECT_EQ(m.at("blk.0.ffn_down.weight"), DType::F16);
  EXPECT_EQ(m.at("blk.0.ffn_up.weight"), DType::Q8_0);
}

TEST(Presets, NormsAndOneDimensionalTensorsStayF32) {
  const Source s = load_source("ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf");
  const auto m = choose(s, "q2_k");
  EXPECT_EQ(m.at("output_norm.weight"), DType::F32);
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight"), DType::F32);
  EXPECT_EQ(m.at("blk.1.ffn_norm.weight"), DType::F32);
}

TEST(Presets, OverridesLaterOnesWinAndRegexWorks) {
  const Source s = load_source("models/polyglot/gguf/polyglot-f32.gguf");
  TypeChoiceOptions o;
  o.overrides.push_back(parse_tensor_type_override("ffn_down=q6_k"));
  o.overrides.push_back(parse_tensor_type_override(R"(blk\.[01]\.ffn_down=q8_0)"));
  o.overrides.push_back(parse_tensor_type_override("attn_[qk]\\.weight=Q5_K"));
  o.token_embedding_type = DType::Q8_0;
  o.output_tensor_type = DType::F16;
  const auto m = choose(s, "q4_0", false, o);
  EXPECT_EQ(m.at("blk.0.ffn_down.weight"), DType::Q8_0);
  EXPECT_EQ(m.at("blk.1.ffn_down.weight"), DType::Q8_0);
  EXPECT_EQ(m.at("blk.2.ffn_down.weight"), DType::Q6_K);
  EXPECT_EQ(m.at("blk.3.attn_q.weight"), DType::Q5_K);
  EXPECT_EQ(m.at("blk.3.attn_k.weight"), DType::Q5_K);
  EXPECT_EQ(m.at("blk.3.attn_v.weight"), DType::Q4_0);
  EXPECT_EQ(m.at("token_embd.weight"), DType::Q8_0);
  EXPECT_EQ(m.at("output.weight"), DType::F16);
  EXPECT_EQ(m.at("output_norm.weight"), DType::F32);  // a pattern never quantizes a norm
}

TEST(Presets, PureUsesTheBaseTypeEverywhere) {
  const Source s = load_source("models/polyglot/gguf/polyglot-f32.gguf");
  TypeChoiceOptions o;
  o.pure = true;
  for (const auto& [name, t] : choose(s, "q4_k_m", false, o)) {
    if (!name.ends_with("norm.weight")) {
      EXPECT_EQ(t, DType::Q4_K) << name;
    }
  }
  // …and errors instead of falling back where the base type does not fit.
  const Source st = load_source("models/stories260K/gguf/stories260K-f32.gguf");
  EXPECT_THROW(choose(st, "q4_k_m", false, o), Error);
}

TEST(Presets, ForcedTypeThatDoesNotFitTheRowIsAnError) {
  const Source s = load_source("models/stories260K/gguf/stories260K-f32.gguf");
  TypeChoiceOptions o;
  o.overrides.push_back(parse_tensor_type_override("attn_q=q4_k"));  // row 64 < 256
  try {
    choose(s, "q6_k", false, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attn_q"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  TypeChoiceOptions o2;
  o2.output_tensor_type = DType::Q6_K;
  EXPECT_THROW(choose(s, "q6_k", false, o2), Error);
}

TEST(Presets, ParseErrors) {
  EXPECT_THROW(parse_tensor_type_override("ffn_down"), UsageError);
  EXPECT_THROW(parse_tensor_type_override("=q4_0"), UsageError);
  EXPECT_THROW(parse_tensor_type_override("ffn_down="), UsageError);
  EXPECT_THROW(parse_tensor_type_override("ffn_down=q9_9"), UsageError);
  EXPECT_THROW(parse_tensor_type_override("ffn_(down=q4_0"), UsageError);
  EXPECT_THROW(parse_quant_type("iq2_xxs"), UsageError);  // a type we cannot produce
  EXPECT_EQ(parse_quant_type("Q6_K"), DType::Q6_K);
  EXPECT_EQ(parse_quant_type("bf16"), DType::BF16);
}

TEST(Presets, LlamaQuantizeTensorOrder) {
  std::vector<std::string> names = {"blk.10.attn_q.weight", "token_embd.weight",
                                    "blk.2.ffn_up.weight",  "output.weight",
                                    "blk.2.attn_k.weight",  "output_norm.weight"};
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return llama_tensor_order_less(a, b); });
  const std::vector<std::string> want = {"output.weight",       "output_norm.weight",
                                         "token_embd.weight",   "blk.2.attn_k.weight",
                                         "blk.2.ffn_up.weight", "blk.10.attn_q.weight"};
  EXPECT_EQ(names, want);
}

TEST(Presets, BitsPerWeightOfThePresetsDecrease) {
  // Sanity of the table: q8_0 > q6_k > q5_k_m > q4_k_m > q3_k_m > q2_k in the base type's bpw.
  const char* order[] = {"q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"};
  double last = 100;
  for (const char* p : order) {
    const double bpw = dtype_bits_per_weight(find_quant_preset(p)->base);
    EXPECT_LT(bpw, last) << p;
    last = bpw;
  }
  EXPECT_FALSE(quant_preset_names().empty());
}

}  // namespace
}  // namespace edgefit
