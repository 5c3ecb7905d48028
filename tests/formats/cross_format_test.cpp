// The same model read from different formats must hold the same numbers: GGUF vs safetensors vs
// llama2.c, f32 vs its f16/bf16 conversions, with the llama q/k row permutation between HF and
// GGUF.
#include <gtest/gtest.h>

#include <cstring>

#include "core/fp16.h"
#include "formats/model.h"
#include "formats/qk_permute.h"
#include "test_data.h"

namespace edgefit {
namespace {

// Values of a plain float tensor as f32 (F32/F16/BF16).
std::vector<float> to_f32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (v.dtype) {
      case DType::F32:
        std::memcpy(&out[i], v.data + 4 * i, 4);
        break;
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
        break;
      }
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out[i] = bf16_to_fp32(h);
        break;
      }
      default:
        ADD_FAILURE() << "unexpected dtype " << dtype_name(v.dtype);
    }
  }
  return out;
}

bool is_qk(const std::string& name) {
  return name.find("attn_q.weight") != std::string::npos ||
         name.find("attn_k.weight") != std::string::npos;
}

// Tensor `name` of `hf` (HF layout) in the GGUF layout when the architecture permutes q/k.
std::vector<float> hf_in_gguf_layout(const Model& hf, const std::string& name, bool permute) {
  const TensorView& v = hf.get(name).view;
  std::vector<float> x = to_f32(v);
  if (!permute || !is_qk(name)) return x;
  std::vector<float> y(x.size());
  qk_permute_rows_hf_to_gguf(x.data(), y.data(), v.shape[0], v.shape[1] * 4, hf.config.head_dim);
  return y;
}

void expect_same_weights(const Model& gguf, const Model& hf) {
  const bool permute = hf.config.architecture == "llama" || hf.config.architecture == "mistral";
  size_t compared = 0;
  for (const auto& t : gguf.tensors) {
    SCOPED_TRACE(t.name);
    std::string name = t.name;
    if (!hf.find(name) && name == "output.weight" && hf.config.tied_embeddings)
      name = "token_embd.weight";
    ASSERT_NE(hf.find(name), nullptr) << "missing in " << hf.path;
    EXPECT_EQ(t.view.shape_string(), hf.get(name).view.shape_string());
    EXPECT_EQ(to_f32(t.view), hf_in_gguf_layout(hf, name, permute));
    ++compared;
  }
  EXPECT_GE(compared, hf.tensors.size());
}

TEST(CrossFormat, Stories260KGgufEqualsSafetensorsAndLlama2c) {
  const Model gguf = load_model(test::shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  const Model hf = load_model(test::shared_path("models/stories260K/hf"));
  const Model l2c = load_model(test::shared_path("models/stories260K/llama2c/stories260K.bin"));
  EXPECT_TRUE(gguf.config.rope_interleaved);
  EXPECT_FALSE(hf.config.rope_interleaved);
  EXPECT_TRUE(l2c.config.rope_interleaved);
  EXPECT_EQ(gguf.n_params() - 512 * 64, hf.n_params());  // the GGUF stores the tied output again
  expect_same_weights(gguf, hf);
  // llama2.c uses llama.cpp's interleaved layout: no permutation at all.
  for (const auto& t : gguf.tensors) {
    SCOPED_TRACE(t.name);
    const std::string name = t.name == "output.weight" ? "token_embd.weight" : t.name;
    EXPECT_EQ(to_f32(t.view), to_f32(l2c.get(name).view));
  }
}

TEST(CrossFormat, PolyglotGgufEqualsSafetensors) {
  const Model gguf = load_model(test::shared_path("models/polyglot/gguf/polyglot-f32.gguf"));
  const Model hf = load_model(test::shared_path("models/polyglot/hf"));
  EXPECT_EQ(gguf.config.n_layers, 6);
  EXPECT_EQ(hf.config.vocab_size, 8192);
  expect_same_weights(gguf, hf);
}

TEST(CrossFormat, TinyRandomModelsGgufEqualsSafetensors) {
  for (const char* name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    const std::string base = test::shared_path(std::string("ref/models/") + name);
    const Model gguf = load_model(base + "/gguf/" + name + "-f32.gguf");
    const Model hf = load_model(base + "/hf");
    EXPECT_EQ(gguf.config.architecture, hf.config.architecture);
    EXPECT_EQ(gguf.config.head_dim, hf.config.head_dim);
    EXPECT_EQ(gguf.config.qkv_bias, hf.config.qkv_bias);
    EXPECT_EQ(gguf.config.qk_norm, hf.config.qk_norm);
    EXPECT_EQ(gguf.config.tied_embeddings, hf.config.tied_embeddings);
    expect_same_weights(gguf, hf);
  }
}

// Half-precision files are the f32 weights rounded to nearest even: checks our fp16/bf16
// conversion against the converters that wrote them (numpy for GGUF, PyTorch for safetensors).
TEST(CrossFormat, HalfPrecisionFilesAreRoundedF32) {
  struct Pair {
    const char* f32;
    const char* half;
  };
  for (const Pair& p :
       {Pair{"models/stories260K/gguf/stories260K-f32.gguf",
             "models/stories260K/gguf/stories260K-f16.gguf"},
        Pair{"models/polyglot/gguf/polyglot-f32.gguf", "models/polyglot/gguf/polyglot-f16.gguf"},
        Pair{"models/polyglot/hf/model.safetensors",
             "models/polyglot/hf/model-bf16.safetensors"}}) {
    SCOPED_TRACE(p.half);
    const Model full = load_model(test::shared_path(p.f32));
    const Model half = load_model(test::shared_path(p.half));
    int converted = 0;
    for (const auto& t : half.tensors) {
      SCOPED_TRACE(t.name);
      const std::vector<float> ref = to_f32(full.get(t.name).view);
      if (t.view.dtype == DType::F32) {
        EXPECT_EQ(to_f32(t.view), ref);
        continue;
      }
      ++converted;
      std::vector<uint16_t> expect(ref.size());
      for (size_t i = 0; i < ref.size(); ++i)
        expect[i] = t.view.dtype == DType::F16 ? fp32_to_fp16(ref[i]) : fp32_to_bf16(ref[i]);
      EXPECT_EQ(std::memcmp(expect.data(), t.view.data, expect.size() * 2), 0);
    }
    EXPECT_GT(converted, 10);
  }
}

TEST(QkPermute, MappingIsABijectionAndMatchesTheConverterFormula) {
  const int64_t hd = 8, heads = 3;
  std::vector<int> seen(hd * heads, 0);
  for (int64_t r = 0; r < hd * heads; ++r) {
    const int64_t hf = qk_hf_row_for_gguf_row(r, hd);
    ++seen[hf];
    EXPECT_EQ(qk_gguf_row_for_hf_row(hf, hd), r);
  }
  for (int c : seen) EXPECT_EQ(c, 1);
  // W.reshape(n_head, 2, hd/2, d).swapaxes(1, 2): GGUF row h*hd + 2j + s holds HF row h*hd + s*hd/2
  // + j.
  EXPECT_EQ(qk_hf_row_for_gguf_row(1, hd), 4);
  EXPECT_EQ(qk_hf_row_for_gguf_row(2, hd), 1);
  EXPECT_EQ(qk_hf_row_for_gguf_row(8 + 7, hd), 8 + 7);
  EXPECT_EQ(qk_hf_row_for_gguf_row(8 + 6, hd), 8 + 3);
}

}  // namespace
}  // namespace edgefit
