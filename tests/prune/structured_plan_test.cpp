// Structured pruning plans (prune/structured_plan.h): the spec's parser and its errors, the
// keep-lists chosen from constructed scores (per layer, global, whole layers) and their checks.
#include "prune/structured_plan.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace edgefit {
namespace {

ArchConfig config(int layers, int heads, int kv, int ff) {
  ArchConfig c;
  c.architecture = "llama";
  c.n_layers = layers;
  c.d_model = 16;
  c.n_heads = heads;
  c.n_kv_heads = kv;
  c.head_dim = 4;
  c.d_ff = ff;
  return c;
}

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(StructuredSpec, ParsesEveryKeyInAnyOrder) {
  const StructuredSpec s = parse_structured_spec("layers=2,ffn=0.25,heads=0.5");
  EXPECT_DOUBLE_EQ(s.heads, 0.5);
  EXPECT_DOUBLE_EQ(s.ffn, 0.25);
  EXPECT_EQ(s.layers, 2);
  EXPECT_DOUBLE_EQ(parse_structured_spec("ffn_global=0.3").ffn_global, 0.3);
  EXPECT_EQ(parse_structured_spec("ffn=0.1").align, 32);  // whole Q8_0/Q4_0 blocks by default
  EXPECT_EQ(parse_structured_spec("ffn=0.1,align=256").align, 256);
}

TEST(StructuredSpec, ErrorsNameTheField) {
  expect_error([] { parse_structured_spec("heads=1"); }, "heads=1 is outside [0, 1)");
  expect_error([] { parse_structured_spec("ffn=-0.1"); }, "ffn=-0.1 is outside [0, 1)");
  expect_error([] { parse_structured_spec("ffn=abc"); }, "ffn='abc' is not a number");
  expect_error([] { parse_structured_spec("layers=-1"); }, "layers='-1'");
  expect_error([] { parse_structured_spec("width=0.5"); }, "unknown key 'width'");
  expect_error([] { parse_structured_spec("heads=0.1,heads=0.2"); }, "heads is given twice");
  expect_error([] { parse_structured_spec("ffn=0.1,ffn_global=0.2"); }, "exclude each other");
  expect_error([] { parse_structured_spec("heads"); }, "not key=value");
  expect_error([] { parse_structured_spec("align=0"); }, "align='0' is not a channel count");
}

TEST(SelectStructured, PerLayerFractionsKeepEqualWidths) {
  const ArchConfig c = config(2, 4, 2, 8);
  std::vector<LayerScores> s(2);
  s[0] = {{5, 1}, {8, 7, 6, 5, 4, 3, 2, 1}, 0.5};
  s[1] = {{1, 5}, {1, 2, 3, 4, 5, 6, 7, 8}, 0.4};
  const StructuredKeep k =
      select_structured(s, parse_structured_spec("heads=0.5,ffn=0.25,align=1"), c);
  ASSERT_EQ(k.layers.size(), 2u);
  EXPECT_EQ(k.layers[0].kv_groups, (std::vector<int64_t>{0}));
  EXPECT_EQ(k.layers[1].kv_groups, (std::vector<int64_t>{1}));
  EXPECT_EQ(k.layers[0].ffn_channels, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(k.layers[1].ffn_channels, (std::vector<int64_t>{2, 3, 4, 5, 6, 7}));
  const ArchConfig out = structured_config(c, k);
  EXPECT_TRUE(out.uniform_widths());
  EXPECT_EQ(out.n_heads, 2);  // one KV group of two query heads
  EXPECT_EQ(out.n_kv_heads, 1);
  EXPECT_EQ(out.d_ff, 6);
}

TEST(SelectStructured, GlobalFfnRanksAcrossLayersAndKeepsOnePerLayer) {
  const ArchConfig c = config(2, 2, 2, 4);
  std::vector<LayerScores> s(2);
  s[0] = {{1, 1}, {1, 2, 3, 4}, 0.5};
  s[1] = {{1, 1}, {10, 20, 30, 40}, 0.5};
  // 50 % of 8 channels = 4: the four of layer 0 are lowest, but its last one must stay.
  const StructuredKeep k = select_structured(s, parse_structured_spec("ffn_global=0.5,align=1"), c);
  EXPECT_EQ(k.layers[0].ffn_channels, (std::vector<int64_t>{3}));
  EXPECT_EQ(k.layers[1].ffn_channels, (std::vector<int64_t>{1, 2, 3}));
  const ArchConfig out = structured_config(c, k);
  EXPECT_FALSE(out.uniform_widths());
  EXPECT_EQ(out.ff(0), 1);
  EXPECT_EQ(out.ff(1), 3);
  EXPECT_EQ(out.d_ff, 3);  // the scalar holds the largest width
}

TEST(SelectStructured, KeptChannelsAreRoundedUpToTheAlignment) {
  // 100 channels, ffn=0.5 wants 50 kept: align 32 keeps 64 (the 64 best), align 1 keeps 50;
  // a layer narrower than the alignment keeps all of its channels.
  ArchConfig c = config(2, 2, 2, 100);
  c.set_layer_widths({2, 2}, {2, 2}, {100, 20});
  std::vector<LayerScores> s(2);
  for (int j = 0; j < 100; ++j) s[0].ffn_channels.push_back(j);
  for (int j = 0; j < 20; ++j) s[1].ffn_channels.push_back(j);
  s[0].kv_groups = s[1].kv_groups = {1, 1};
  const StructuredKeep a = select_structured(s, parse_structured_spec("ffn=0.5"), c);
  ASSERT_EQ(a.layers[0].ffn_channels.size(), 64u);
  EXPECT_EQ(a.layers[0].ffn_channels.front(), 36);
  EXPECT_EQ(a.layers[1].ffn_channels.size(), 20u);
  EXPECT_EQ(select_structured(s, parse_structured_spec("ffn=0.5,align=1"), c)
                .layers[0]
                .ffn_channels.size(),
            50u);
  const StructuredKeep g = select_structured(s, parse_structured_spec("ffn_global=0.5"), c);
  EXPECT_EQ(g.layers[0].ffn_channels.size() % 32, 0u);
}

TEST(SelectStructured, LayersDropTheLowestBlockInfluence) {
  const ArchConfig c = config(4, 2, 1, 2);
  std::vector<LayerScores> s(4);
  const double bi[4] = {0.9, 0.05, 0.3, 0.02};
  for (int l = 0; l < 4; ++l) s[size_t(l)] = {{1}, {1, 2}, bi[l]};
  const StructuredKeep k = select_structured(s, parse_structured_spec("layers=2"), c);
  ASSERT_EQ(k.layers.size(), 2u);
  EXPECT_EQ(k.layers[0].source_layer, 0);
  EXPECT_EQ(k.layers[1].source_layer, 2);
  expect_error([&] { select_structured(s, parse_structured_spec("layers=4"), c); },
               "layers=4 must be less than the model's 4 blocks");
}

TEST(CheckStructuredKeep, OutOfRangeListsNameTheLayerAndList) {
  const ArchConfig c = config(2, 4, 2, 8);
  StructuredKeep k;
  k.layers.push_back({0, {0, 1}, {0, 1, 2}});
  k.layers.push_back({1, {2}, {0}});
  expect_error([&] { check_structured_keep(k, c); },
               "keep-list of KV groups of layer 1: index 2 is out of range [0, 2)");
  k.layers[1] = {1, {1}, {7, 8}};
  expect_error([&] { check_structured_keep(k, c); },
               "keep-list of FFN channels of layer 1: index 8 is out of range [0, 8)");
  k.layers[1] = {2, {1}, {0}};
  expect_error([&] { check_structured_keep(k, c); }, "layers[1] = 2 is out of range [0, 2)");
  k.layers[1] = {0, {1}, {0}};
  expect_error([&] { check_structured_keep(k, c); }, "does not follow 0 in increasing order");
  k.layers[1] = {1, {}, {0}};
  expect_error([&] { check_structured_keep(k, c); }, "keep-list of KV groups of layer 1 is empty");
}

}  // namespace
}  // namespace edgefit
