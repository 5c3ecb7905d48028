// Structured pruning on whole models (prune/structured_apply.h, structured_export.h), on the
// real stories260K model (GQA 8/4, head_dim 8) in both RoPE layouts:
// - exactness: the sliced model's logits equal the original's with the removed heads, channels
//   and blocks zeroed instead (mask_model), which needs no peer and no reference file;
// - export: the GGUF (llama or deci) and the HF folder load back with the same logits, and a
//   deci GGUF whose tensor contradicts its per-layer widths is refused naming both.
#include "prune/structured_apply.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/transformer.h"
#include "prune/structured_export.h"
#include "test_data.h"

namespace edgefit {
namespace {

const std::string kGguf = "models/stories260K/gguf/stories260K-f32.gguf";
const std::string kHf = "models/stories260K/hf";

std::vector<int32_t> tokens(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t = {1};
  while (static_cast<int>(t.size()) < n) t.push_back(static_cast<int32_t>(3 + rng() % 500));
  return t;
}

std::vector<float> logits(const Model& m, const std::vector<int32_t>& t) {
  Transformer tr(m);
  KVCache cache = tr.make_cache(static_cast<int64_t>(t.size()));
  return tr.forward(t, cache);
}

// max |a - b| relative to max |a|.
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    d = std::max(d, double(std::fabs(a[i] - b[i])));
    m = std::max(m, double(std::fabs(a[i])));
  }
  return d / m;
}

CalibrationWindows windows(int n, int len) {
  CalibrationWindows w;
  for (int i = 0; i < n; ++i) {
    w.windows.push_back(tokens(len, 100 + i));
    w.file_of.push_back(0);
  }
  w.per_file = {static_cast<size_t>(n)};
  return w;
}

// A keep-list by hand: per layer two of the four KV groups (different ones), every third FFN
// channel removed, block 2 dropped.
StructuredKeep hand_keep(const ArchConfig& c) {
  StructuredKeep k;
  for (int l = 0; l < c.n_layers; ++l) {
    if (l == 2) continue;
    LayerKeep lk;
    lk.source_layer = l;
    lk.kv_groups = l % 2 ? std::vector<int64_t>{0, 3} : std::vector<int64_t>{1, 2};
    for (int64_t j = 0; j < c.ff(l); ++j)
      if (j % 3 != l % 3) lk.ffn_channels.push_back(j);
    k.layers.push_back(lk);
  }
  return k;
}

TEST(StructuredApply, SlicedLogitsEqualMaskedLogitsInBothLayouts) {
  for (const std::string& rel : {kGguf, kHf}) {
    SCOPED_TRACE(rel);
    const Model m = load_model(test::shared_path(rel));
    const StructuredKeep k = hand_keep(m.config);
    const Model sliced = slice_model(m, k);
    EXPECT_EQ(sliced.config.n_layers, m.config.n_layers - 1);
    EXPECT_EQ(sliced.config.n_heads, 4);
    EXPECT_EQ(sliced.config.n_kv_heads, 2);
    EXPECT_FALSE(sliced.config.uniform_widths());  // 114 or 115 of the 172 channels per layer
    const Model masked = mask_model(m, k);
    const auto t = tokens(48, 7);
    const auto a = logits(sliced, t), b = logits(masked, t), orig = logits(m, t);
    EXPECT_LT(rel_diff(b, a), 1e-5);
    EXPECT_GT(rel_diff(orig, a), 1e-3);  // the pruning did change the model
  }
}

TEST(StructuredApply, ScoredKeepListsAreExactToo) {
  const Model m = load_model(test::shared_path(kGguf));
  const auto scores = score_structured(m, windows(4, 64), /*progress=*/false);
  ASSERT_EQ(scores.size(), size_t(m.config.n_layers));
  for (const LayerScores& s : scores) {
    EXPECT_EQ(s.kv_groups.size(), 4u);
    EXPECT_EQ(s.ffn_channels.size(), 172u);
    EXPECT_GT(s.block_influence, 0);
    for (double x : s.ffn_channels) EXPECT_GE(x, 0);
  }
  for (const char* spec :
       {"heads=0.25,ffn=0.25", "ffn_global=0.3", "layers=1", "layers=2,heads=0.5"}) {
    SCOPED_TRACE(spec);
    const StructuredKeep k = select_structured(scores, parse_structured_spec(spec), m.config);
    const auto t = tokens(40, 11);
    EXPECT_LT(rel_diff(logits(mask_model(m, k), t), logits(slice_model(m, k), t)), 1e-5);
  }
}

TEST(StructuredApply, PrunedUnitsMatterLessThanKeptOnes) {
  // Removing the lowest-scored quarter of the FFN channels moves the logits less than removing
  // the highest-scored quarter: the scores rank by effect.
  const Model m = load_model(test::shared_path(kGguf));
  const auto scores = score_structured(m, windows(4, 64), false);
  StructuredKeep low = select_structured(scores, parse_structured_spec("ffn=0.25"), m.config);
  auto inverted = scores;
  for (auto& s : inverted)
    for (double& x : s.ffn_channels) x = -x;
  StructuredKeep high = select_structured(inverted, parse_structured_spec("ffn=0.25"), m.config);
  const auto t = tokens(64, 3);
  const auto orig = logits(m, t);
  EXPECT_LT(rel_diff(orig, logits(slice_model(m, low), t)),
            rel_diff(orig, logits(slice_model(m, high), t)));
}

TEST(StructuredExport, GgufAndHfFolderLoadBackWithTheSameLogits) {
  const std::string dir = test::scratch_dir("structured-export");
  for (const std::string& rel : {kGguf, kHf}) {
    SCOPED_TRACE(rel);
    const Model m = load_model(test::shared_path(rel));
    StructuredKeep uniform, per_layer = hand_keep(m.config);
    for (int l = 0; l < m.config.n_layers; ++l) {
      LayerKeep lk{l, {0, 2, 3}, {}};
      for (int64_t j = 0; j < 150; ++j) lk.ffn_channels.push_back(j);
      uniform.layers.push_back(lk);
    }
    per_layer.layers[1].ffn_channels.resize(100);  // widths now differ: deci
    for (const auto& [keep, arch] : {std::pair{&uniform, "llama"}, std::pair{&per_layer, "deci"}}) {
      SCOPED_TRACE(arch);
      const Model sliced = slice_model(m, *keep);
      StructuredExportInfo info;
      info.source = test::shared_path(rel);
      info.spec = "test";
      const std::string gguf = dir + "/" + arch + ".gguf";
      write_structured_gguf(sliced, gguf, info);
      EXPECT_EQ(GgufFile(gguf).get_string("general.architecture"), arch);
      const auto t = tokens(32, 5);
      const auto want = logits(sliced, t);
      EXPECT_LT(rel_diff(want, logits(load_model(gguf), t)), 1e-5);
      const std::string hf = dir + "/" + arch + "-hf";
      write_structured_hf(sliced, hf, info);
      const Model back = load_model(hf);
      EXPECT_EQ(back.config.uniform_widths(), std::string(arch) == "llama");
      if (rel == kHf) {
        EXPECT_LT(rel_diff(want, logits(back, t)), 1e-5);
      }
      EXPECT_FALSE(std::filesystem::exists(hf + ".edgefit-tmp-" + std::to_string(::getpid())));
    }
  }
}

TEST(StructuredExport, DeciTensorAgainstItsLayerWidthIsAnError) {
  const std::string dir = test::scratch_dir("structured-deci-bad");
  const Model m = load_model(test::shared_path(kGguf));
  StructuredKeep k = hand_keep(m.config);
  k.layers[1].ffn_channels.resize(100);
  StructuredExportInfo info;
  info.source = test::shared_path(kGguf);
  write_structured_gguf(slice_model(m, k), dir + "/ok.gguf", info);
  const GgufFile ok(dir + "/ok.gguf");
  GgufWriter w = gguf_writer_from(ok);
  GgufValue ff = ok.get("deci.feed_forward_length");
  ff.arr[1].i = 120;  // the tensors of layer 1 have 100 channels
  w.set("deci.feed_forward_length", ff);
  w.write(dir + "/bad.gguf");
  try {
    load_model(dir + "/bad.gguf");
    ADD_FAILURE() << "loaded a deci GGUF whose ffn tensors contradict its widths";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.1.ffn_gate.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("deci.feed_forward_length'[1]"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace edgefit
