// quantize_model: byte equality with llama-quantize (b4748) where it used no imatrix, the HF
// export (keys, tensors, q/k permutation), the imatrix path against llama.cpp's own
// imatrix-quantized file, provenance, and the errors.
#include "methods/quantize_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "formats/gguf.h"
#include "methods/imatrix_file.h"
#include "quant/quant_traits.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using test::scratch_dir;
using test::shared_path;

const std::string kPolyF32 = "models/polyglot/gguf/polyglot-f32.gguf";
const std::string kPolyQ4_0 = "ref/polyglot/polyglot-q4_0.llamacpp.gguf";
const std::string kPolyQ4KMImat = "ref/polyglot/polyglot-q4_k_m-imatrix.llamacpp.gguf";
const std::string kPolyImatrix = "ref/polyglot/imatrix-ntrex-calib.llamacpp.dat";

QuantizeResult quantize(const std::string& in, const std::string& out, const std::string& preset,
                        bool provenance = false, const Imatrix* im = nullptr,
                        const std::string& im_path = "") {
  QuantizeOptions o;
  o.preset = preset;
  o.provenance = provenance;
  o.imatrix = im;
  o.imatrix_path = im_path;
  return quantize_model(in, out, o);
}

// Every tensor of `ref` is in `ours` with the same type (and, if `bytes`, the same bytes);
// returns the names whose bytes differ.
std::vector<std::string> compare_tensors(const GgufFile& ours, const GgufFile& ref, bool bytes,
                                         const std::set<std::string>& skip = {}) {
  std::vector<std::string> differ;
  for (const auto& t : ref.tensors()) {
    if (skip.count(t.name)) continue;
    const GgufTensorInfo* o = ours.find_tensor(t.name);
    if (!o) {
      ADD_FAILURE() << "missing tensor " << t.name;
      continue;
    }
    EXPECT_EQ(o->type, t.type) << t.name;
    EXPECT_EQ(o->ne, t.ne) << t.name;
    if (bytes && o->type == t.type && o->nbytes == t.nbytes &&
        std::memcmp(ours.tensor_data(*o), ref.tensor_data(t), t.nbytes) != 0)
      differ.push_back(t.name);
  }
  return differ;
}

TEST(QuantizeModel, PolyglotQ4_0IsByteIdenticalToLlamaQuantize) {
  const std::string out = scratch_dir("q4_0") + "/polyglot-q4_0.gguf";
  const QuantizeResult r = quantize(shared_path(kPolyF32), out, "q4_0");
  EXPECT_EQ(test::slurp(out), test::slurp(shared_path(kPolyQ4_0)));
  EXPECT_EQ(r.file_bytes, fs::file_size(shared_path(kPolyQ4_0)));
  EXPECT_EQ(r.ftype, 2u);
  EXPECT_NEAR(r.bits_per_weight(), 4.995, 0.005);  // Q4_0 + a Q6_K output + F32 norms
}

// Every reference llama.cpp made without an imatrix: same types and same blocks, tensor by tensor.
// The b4748 files are also byte-identical as whole files (metadata handling included).
TEST(QuantizeModel, EveryNoImatrixReferenceMatchesBlockForBlock) {
  struct Case {
    std::string source, ref, preset;
    bool whole_file;  // b4748 llama-quantize output (tiny-qwen3 came from v0.5.0's library call)
  };
  const std::vector<Case> cases = {
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q2_K.gguf", "q2_k", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q3_K_M.gguf", "q3_k_m", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf", "q4_k_m", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q4_K_S.gguf", "q4_k_s", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q5_K_M.gguf", "q5_k_m", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/quantized/stories260K-Q6_K.gguf", "q6_k", true},
      {"models/stories260K/gguf/stories260K-f32.gguf",
       "models/stories260K/gguf/stories260K-f16.gguf", "f16", true},
      {"ref/models/tiny-llama/gguf/tiny-llama-f32.gguf",
       "ref/models/tiny-llama/gguf/tiny-llama-Q8_0.gguf", "q8_0", true},
      {"ref/models/tiny-llama/gguf/tiny-llama-f32.gguf",
       "ref/models/tiny-llama/gguf/tiny-llama-Q4_K_M.gguf", "q4_k_m", true},
      {"ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf",
       "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q8_0.gguf", "q8_0", false},
      {"ref/models/tiny-qwen3/gguf/tiny-qwen3-f32.gguf",
       "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf", "q4_k_m", false},
  };
  const std::string dir = scratch_dir("refs");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ref);
    const std::string out = dir + "/" + fs::path(c.ref).filename().string();
    quantize(shared_path(c.source), out, c.preset);
    GgufFile ours(out), ref(shared_path(c.ref));
    ASSERT_EQ(ours.tensors().size(), ref.tensors().size());
    EXPECT_EQ(compare_tensors(ours, ref, true), std::vector<std::string>{});
    if (c.whole_file) {
      EXPECT_TRUE(test::slurp(out) == test::slurp(shared_path(c.ref)));
    }
  }
}

std::map<std::string, const GgufValue*> key_map(const GgufFile& g) {
  std::map<std::string, const GgufValue*> m;
  for (const auto& kv : g.kvs()) m[kv.key] = &kv.value;
  return m;
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case GgufType::STRING:
      return a.str == b.str;
    case GgufType::ARRAY:
      if (a.elem_type != b.elem_type || a.arr.size() != b.arr.size()) return false;
      for (size_t i = 0; i < a.arr.size(); ++i)
        if (!same_value(a.arr[i], b.arr[i])) return false;
      return true;
    case GgufType::F32:
    case GgufType::F64:
      return a.f == b.f;
    default:
      return a.u == b.u && a.i == b.i;
  }
}

TEST(QuantizeModel, PolyglotFromHfHasLlamaCppsKeysTensorsAndWeights) {
  const std::string dir = scratch_dir("hf-poly");
  // f32: every tensor equals the f32 GGUF's bytes, so the q/k permutation is right.
  quantize(shared_path("models/polyglot/hf"), dir + "/f32.gguf", "f32");
  GgufFile ours(dir + "/f32.gguf"), ref(shared_path(kPolyF32));
  EXPECT_EQ(ours.tensors().size(), ref.tensors().size());
  EXPECT_EQ(compare_tensors(ours, ref, true), std::vector<std::string>{});
  const auto ok = key_map(ours), rk = key_map(ref);
  for (const auto& [key, value] : rk) {
    auto it = ok.find(key);
    if (it == ok.end()) {
      ADD_FAILURE() << "missing key " << key;
      continue;
    }
    if (key == "general.name")
      continue;  // the folder's name; llama.cpp's file names the training run
    EXPECT_TRUE(same_value(*it->second, *value))
        << key << ": ours " << it->second->to_display() << " llama.cpp " << value->to_display();
  }
  EXPECT_EQ(ours.get_string("general.name"), "polyglot");

  // q4_0 from HF: the same types and blocks as llama-quantize's file from the GGUF.
  quantize(shared_path("models/polyglot/hf"), dir + "/q4_0.gguf", "q4_0");
  GgufFile q(dir + "/q4_0.gguf"), qref(shared_path(kPolyQ4_0));
  EXPECT_EQ(compare_tensors(q, qref, true), std::vector<std::string>{});
  for (const auto& [key, value] : key_map(qref)) EXPECT_TRUE(key_map(q).count(key)) << key;
}

TEST(QuantizeModel, Stories260KFromHfHasLlamaCppsKeysAndWeights) {
  const std::string dir = scratch_dir("hf-stories");
  quantize(shared_path("models/stories260K/hf"), dir + "/f32.gguf", "f32");
  GgufFile ours(dir + "/f32.gguf"),
      ref(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  // The HF checkpoint ties its embeddings (no lm_head), so llama.cpp reads token_embd for the
  // output there; the llama2.c-converted reference carries an untied copy instead.
  EXPECT_EQ(ours.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(compare_tensors(ours, ref, true, {"output.weight"}), std::vector<std::string>{});
  const GgufTensorInfo* out_ref = ref.find_tensor("output.weight");
  const GgufTensorInfo* emb = ours.find_tensor("token_embd.weight");
  ASSERT_TRUE(out_ref && emb);
  EXPECT_EQ(std::memcmp(ref.tensor_data(*out_ref), ours.tensor_data(*emb), emb->nbytes), 0);
  const auto ok = key_map(ours);
  // llama2.c's converter writes separator/padding ids of -1 (no such token); an HF export has
  // neither token and so writes neither key.
  const std::set<std::string> not_in_hf = {"tokenizer.ggml.seperator_token_id",
                                           "tokenizer.ggml.padding_token_id"};
  for (const auto& [key, value] : key_map(ref)) {
    if (not_in_hf.count(key)) continue;
    EXPECT_TRUE(ok.count(key)) << "missing key " << key;
  }
  for (const char* k : {"general.file_type", "general.quantization_version", "llama.vocab_size",
                        "llama.rope.dimension_count"})
    EXPECT_TRUE(ok.count(k)) << k;
}

TEST(QuantizeModel, TinyModelsFromHfEqualLlamaCppsQuantizations) {
  // tiny-llama needs the q/k permutation, tiny-qwen3 (q/k norms, head_dim 64) must not get it.
  struct Case {
    std::string hf, ref, preset;
  };
  const std::vector<Case> cases = {
      {"ref/models/tiny-llama/hf", "ref/models/tiny-llama/gguf/tiny-llama-Q4_K_M.gguf", "q4_k_m"},
      {"ref/models/tiny-llama/hf", "ref/models/tiny-llama/gguf/tiny-llama-Q8_0.gguf", "q8_0"},
      {"ref/models/tiny-qwen3/hf", "ref/models/tiny-qwen3/gguf/tiny-qwen3-Q4_K_M.gguf", "q4_k_m"},
      {"ref/models/tiny-qwen2/hf", "ref/models/tiny-qwen2/gguf/tiny-qwen2-f32.gguf", "f32"},
  };
  const std::string dir = scratch_dir("hf-tiny");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ref);
    const std::string out = dir + "/" + fs::path(c.ref).filename().string();
    quantize(shared_path(c.hf), out, c.preset);
    GgufFile ours(out), ref(shared_path(c.ref));
    EXPECT_EQ(ours.tensors().size(), ref.tensors().size());
    EXPECT_EQ(compare_tensors(ours, ref, true), std::vector<std::string>{});
    const auto ok = key_map(ours);
    for (const auto& [key, value] : key_map(ref)) {
      auto it = ok.find(key);
      if (it == ok.end()) {
        ADD_FAILURE() << "missing key " << key;
      } else if (key == "tokenizer.ggml.eos_token_id" && c.hf.find("qwen3") != std::string::npos) {
        // tiny-qwen3's tokenizer_config.json names <|endoftext|> (509) as eos and its config.json
        // 511; convert_hf_to_gguf (and we) take tokenizer_config.json first, while the reference
        // was written by a gguf-py script from config.json.
        EXPECT_EQ(it->second->as_int(), 509);
      } else if (key != "general.name") {
        EXPECT_TRUE(same_value(*it->second, *value))
            << key << ": ours " << it->second->to_display() << " llama.cpp " << value->to_display();
      }
    }
  }
}

double weighted_sq_error(const float* w, const float* deq, int64_t n_rows, int64_t row_len,
                         const float* imp) {
  double e = 0;
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t j = 0; j < row_len; ++j) {
      const double d = static_cast<double>(w[r * row_len + j]) - deq[r * row_len + j];
      e += (imp ? imp[j] : 1.0) * d * d;
    }
  return e;
}

TEST(QuantizeModel, ImatrixQ4_K_MMatchesLlamaCppsTypesAndIsAtLeastAsAccurate) {
  const Imatrix im = read_imatrix(shared_path(kPolyImatrix));
  const std::string out = scratch_dir("imat") + "/q4_k_m.gguf";
  quantize(shared_path(kPolyF32), out, "q4_k_m", false, &im, shared_path(kPolyImatrix));
  GgufFile ours(out), ref(shared_path(kPolyQ4KMImat)), src(shared_path(kPolyF32));
  // Same types; llama.cpp used no imatrix for output/token_embd (no entries), so those are equal.
  const auto differ = compare_tensors(ours, ref, true);
  for (const auto& name : differ)
    EXPECT_TRUE(im.entries.count(name)) << name << " differs without an imatrix";
  // Same metadata keys and values as llama-quantize --imatrix (the file name is the basename).
  const auto ok = key_map(ours);
  for (const auto& [key, value] : key_map(ref)) {
    ASSERT_TRUE(ok.count(key)) << key;
    EXPECT_TRUE(same_value(*ok.at(key), *value)) << key;
  }
  // Importance-weighted squared error per tensor, ours vs llama.cpp's.
  int better_or_equal = 0, total = 0;
  double sum_ours = 0, sum_ref = 0;
  for (const auto& [name, e] : im.entries) {
    const GgufTensorInfo* s = src.find_tensor(name);
    const GgufTensorInfo* a = ours.find_tensor(name);
    const GgufTensorInfo* b = ref.find_tensor(name);
    ASSERT_TRUE(s && a && b) << name;
    const int64_t row = static_cast<int64_t>(s->ne[0]), rows = static_cast<int64_t>(s->ne[1]);
    const float* w = reinterpret_cast<const float*>(src.tensor_data(*s));
    std::vector<float> da(row * rows), db(row * rows);
    dequantize_tensor(a->type, ours.tensor_data(*a), rows, row, da.data());
    dequantize_tensor(b->type, ref.tensor_data(*b), rows, row, db.data());
    const double ea = weighted_sq_error(w, da.data(), rows, row, e.mean_sq.data());
    const double eb = weighted_sq_error(w, db.data(), rows, row, e.mean_sq.data());
    sum_ours += ea;
    sum_ref += eb;
    ++total;
    if (ea <= eb * (1 + 1e-9)) ++better_or_equal;
    std::printf("  %-28s %-5s ours %.6g llama.cpp %.6g ratio %.4f\n", name.c_str(),
                std::string(dtype_name(a->type)).c_str(), ea, eb, ea / eb);
  }
  std::printf(
      "imatrix-weighted squared error: ours %.6g, llama.cpp %.6g (ratio %.4f); ours <= on %d/%d "
      "tensors\n",
      sum_ours, sum_ref, sum_ours / sum_ref, better_or_equal, total);
  EXPECT_LE(sum_ours, sum_ref);
  EXPECT_GE(better_or_equal, total * 3 / 4);
}

TEST(QuantizeModel, GgufImatrixGivesTheSameOutputAsTheDat) {
  const Imatrix dat = read_imatrix(shared_path(kPolyImatrix));
  const std::string dir = scratch_dir("imat-gguf");
  write_imatrix_gguf(dat, dir + "/im.gguf");
  const Imatrix gg = read_imatrix(dir + "/im.gguf");
  // Same importance values (to float rounding of sum/count) → same blocks, on polyglot's q4_k_m.
  quantize(shared_path(kPolyF32), dir + "/dat.gguf", "q4_k_m", false, &dat, "x.dat");
  quantize(shared_path(kPolyF32), dir + "/gguf.gguf", "q4_k_m", false, &gg, "x.dat");
  GgufFile a(dir + "/dat.gguf"), b(dir + "/gguf.gguf");
  const auto differ = compare_tensors(a, b, true);
  EXPECT_LE(differ.size(), 2u) << "importance round trip changed many tensors";
}

TEST(QuantizeModel, ProvenanceKeysByDefault) {
  const Imatrix im = read_imatrix(shared_path(kPolyImatrix));
  const std::string out = scratch_dir("prov") + "/p.gguf";
  QuantizeOptions o;
  o.preset = "q8_0";
  o.imatrix = &im;
  o.imatrix_path = "/some/where/imatrix-ntrex-calib.llamacpp.dat";
  o.extra_metadata.push_back({"edgefit.test", GgufValue::make_u32(7)});
  quantize_model(shared_path(kPolyF32), out, o);
  GgufFile g(out);
  EXPECT_EQ(g.get_string("edgefit.method"), "rtn");
  EXPECT_EQ(g.get_string("edgefit.preset"), "q8_0");
  EXPECT_FALSE(g.get_string("edgefit.version").empty());
  EXPECT_EQ(g.get_string("edgefit.imatrix.file"), "imatrix-ntrex-calib.llamacpp.dat");
  EXPECT_EQ(g.get("edgefit.imatrix.datasets").arr.at(0).str,
            "ntrex128-calib-12lang-interleaved.txt");
  EXPECT_EQ(g.get_int("edgefit.calibration.chunks"), 160);
  EXPECT_EQ(g.get_int("edgefit.test"), 7);
  EXPECT_EQ(g.get_string("quantize.imatrix.file"), "imatrix-ntrex-calib.llamacpp.dat");
  EXPECT_EQ(g.get_int("general.file_type"), 7);

  // Requantizing our own output drops the stale provenance and imatrix keys.
  const std::string out2 = scratch_dir("prov2") + "/p2.gguf";
  quantize(out, out2, "q4_0");
  GgufFile g2(out2);
  EXPECT_EQ(g2.find("edgefit.method"), nullptr);
  EXPECT_EQ(g2.find("quantize.imatrix.file"), nullptr);
  EXPECT_EQ(g2.get_int("general.file_type"), 2);
}

TEST(QuantizeModel, RequantizingAQuantizedInputDequantizesFirst) {
  const std::string dir = scratch_dir("requant");
  quantize(shared_path(kPolyQ4_0), dir + "/q8.gguf", "q8_0");
  GgufFile g(dir + "/q8.gguf"), src(shared_path(kPolyQ4_0));
  const GgufTensorInfo* t = g.find_tensor("blk.0.attn_q.weight");
  ASSERT_EQ(t->type, DType::Q8_0);
  std::vector<float> a(256 * 256), b(256 * 256);
  dequantize_tensor(DType::Q8_0, g.tensor_data(*t), 256, 256, a.data());
  dequantize_tensor(DType::Q4_0, src.tensor_data(*src.find_tensor("blk.0.attn_q.weight")), 256, 256,
                    b.data());
  double max_err = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(b[i])));
  }
  EXPECT_LT(max_err, max_abs / 100);
  // Tensors already in the target type are copied unchanged (output.weight is Q6_K in both).
  quantize(shared_path(kPolyQ4_0), dir + "/q4_0-again.gguf", "q4_0");
  EXPECT_EQ(test::slurp(dir + "/q4_0-again.gguf"), test::slurp(shared_path(kPolyQ4_0)));
}

TEST(QuantizeModel, Errors) {
  const std::string dir = scratch_dir("errors");
  EXPECT_THROW(quantize(shared_path(kPolyF32), dir + "/x.gguf", "q7_k"), UsageError);
  EXPECT_THROW(quantize(dir + "/missing.gguf", dir + "/x.gguf", "q4_0"), Error);
  EXPECT_THROW(quantize(shared_path("models/stories260K/gguf/stories260K-f32.gguf"),
                        dir + "/x.gguf", "q8_0"),
               Error);
  // Output over the input.
  fs::copy_file(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"), dir + "/in.gguf");
  EXPECT_THROW(quantize(dir + "/in.gguf", dir + "/in.gguf", "q8_0"), Error);
  EXPECT_EQ(fs::file_size(dir + "/in.gguf"),
            fs::file_size(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf")));
  // An imatrix for another model: names it does not have.
  const Imatrix im = read_imatrix(shared_path(kPolyImatrix));
  try {
    quantize(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"), dir + "/x.gguf",
             "q4_k_m", false, &im, "im.dat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
  // …and one whose sizes do not match.
  Imatrix bad = im;
  bad.entries.at("blk.0.ffn_up.weight").mean_sq.resize(100, 1.0f);
  try {
    quantize(shared_path(kPolyF32), dir + "/x.gguf", "q4_k_m", false, &bad, "bad.dat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir + "/x.gguf"));
}

TEST(QuantizeModel, PlanListsTypesWithoutWriting) {
  QuantizeOptions o;
  o.preset = "q4_k_m";
  const QuantizePlan p = plan_quantization(shared_path(kPolyF32), o);
  ASSERT_EQ(p.tensors.size(), 57u);
  EXPECT_EQ(p.tensors.front().name, "output.weight");
  EXPECT_EQ(p.tensors.front().to, DType::Q6_K);
  EXPECT_EQ(p.ftype, 15u);
  EXPECT_EQ(p.metadata.back().key.rfind("edgefit.", 0), 0u);
}

}  // namespace
}  // namespace edgefit
