// Adapter export: llama.cpp adapter GGUFs (metadata and tensor shapes, a lossless round trip,
// the q/k row layout — an adapter trained on HF rows, exported and loaded into the same model
// read from its interleaved GGUF, gives the same loss) and PEFT folders (names, shapes, config,
// and the same layout check the other way round).
#include "train/lora_gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/hf_config.h"
#include "formats/model.h"
#include "formats/safetensors.h"
#include "test_data.h"
#include "train/lora_peft.h"
#include "train/train_model.h"

namespace edgefit::train {
namespace {

using test::shared_path;

void randomize(ParameterSet& ps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (Parameter& p : ps.all())
    for (float& v : p.value) v = dist(rng);
}

std::vector<std::vector<float>> values(TrainModel& m) {
  std::vector<std::vector<float>> v;
  for (const Parameter& p : m.params().all()) v.push_back(p.value);
  return v;
}

LoraConfig config() {
  LoraConfig c;
  c.rank = 4;
  c.alpha = 12;
  return c;
}

TEST(LoraGguf, WritesLlamaCppAdapterLayoutAndRoundTrips) {
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  TrainModel a(m, config());
  randomize(a.params(), 1);
  const std::string path = test::scratch_dir("lora-gguf") + "/adapter.gguf";
  write_lora_gguf(path, a.params(), m.config, 12.0);

  GgufFile f(path);
  EXPECT_EQ(f.get_string("general.type"), "adapter");
  EXPECT_EQ(f.get_string("adapter.type"), "lora");
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_double("adapter.lora.alpha"), 12.0);
  EXPECT_EQ(f.tensors().size(), 2u * 7 * m.config.n_layers);
  const GgufTensorInfo* qa = f.find_tensor("blk.0.attn_q.weight.lora_a");
  const GgufTensorInfo* qb = f.find_tensor("blk.0.attn_q.weight.lora_b");
  const GgufTensorInfo* db = f.find_tensor("blk.4.ffn_down.weight.lora_b");
  ASSERT_TRUE(qa && qb && db);
  // llama.cpp: a.ne[0] = the weight's ne[0] (n_in), b.ne[1] = its ne[1] (n_out), a.ne[1] = b.ne[0].
  const uint64_t d = m.config.d_model, ff = m.config.d_ff;
  EXPECT_EQ(qa->ne, (std::vector<uint64_t>{d, 4}));
  EXPECT_EQ(qb->ne, (std::vector<uint64_t>{4, d}));
  EXPECT_EQ(db->ne, (std::vector<uint64_t>{4, d}));
  EXPECT_EQ(f.find_tensor("blk.4.ffn_down.weight.lora_a")->ne, (std::vector<uint64_t>{ff, 4}));

  LoraConfig other = config();
  other.seed = 99;  // different initial A
  TrainModel b(m, other);
  EXPECT_NE(values(b), values(a));
  EXPECT_EQ(read_lora_gguf(path, b.params(), m.config), 12.0);
  EXPECT_EQ(values(b), values(a));
}

TEST(LoraGguf, HfRowsArePermutedForTheGgufBase) {
  Model hf = load_model(shared_path("ref/models/tiny-llama/hf"));
  Model gguf = load_model(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"));
  ASSERT_FALSE(hf.config.rope_interleaved);
  ASSERT_TRUE(gguf.config.rope_interleaved);
  TrainModel on_hf(hf, config());
  randomize(on_hf.params(), 2);
  const std::string path = test::scratch_dir("lora-gguf-layout") + "/adapter.gguf";
  write_lora_gguf(path, on_hf.params(), hf.config, 12.0);
  TrainModel on_gguf(gguf, config());
  read_lora_gguf(path, on_gguf.params(), gguf.config);
  std::vector<int32_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back((i * 53 + 5) % hf.config.vocab_size);
  const double l_hf = on_hf.loss(ids, {}), l_gguf = on_gguf.loss(ids, {});
  EXPECT_NEAR(l_gguf, l_hf, 1e-5 * l_hf);
  // Without the permutation the functions differ (the check above can fail).
  TrainModel unpermuted(gguf, config());
  size_t k = 0;
  for (Parameter& p : unpermuted.params().all()) p.value = on_hf.params().all()[k++].value;
  EXPECT_GT(std::abs(unpermuted.loss(ids, {}) - l_hf), 1e-4 * l_hf);
}

TEST(LoraGguf, RefusesMismatchedAdapters) {
  Model m = load_model(shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  TrainModel a(m, config());
  const std::string dir = test::scratch_dir("lora-gguf-bad");
  write_lora_gguf(dir + "/a.gguf", a.params(), m.config, 12.0);
  LoraConfig more = config();
  more.rank = 2;
  TrainModel other_rank(m, more);
  const auto before = values(other_rank);
  EXPECT_THROW(read_lora_gguf(dir + "/a.gguf", other_rank.params(), m.config), Error);
  EXPECT_EQ(values(other_rank), before);
  ArchConfig qwen = m.config;
  qwen.architecture = "qwen3";
  EXPECT_THROW(read_lora_gguf(dir + "/a.gguf", a.params(), qwen), Error);
  LoraConfig fewer = config();
  fewer.targets = {"q"};
  TrainModel subset(m, fewer);
  EXPECT_THROW(read_lora_gguf(dir + "/a.gguf", subset.params(), m.config), Error);
  EXPECT_THROW(read_lora_gguf(shared_path("models/stories260K/gguf/stories260K-f32.gguf"),
                              a.params(), m.config),
               Error);
}

TEST(LoraPeft, HfNamesShapesConfigAndRows) {
  // Adapters trained on tiny-llama's interleaved GGUF, exported for PEFT, then read (as PEFT
  // would) into a LoRA model of the same weights in HF row order: the same loss.
  Model gguf = load_model(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf"));
  Model hf = load_model(shared_path("ref/models/tiny-llama/hf"));
  TrainModel on_gguf(gguf, config());
  randomize(on_gguf.params(), 4);
  const std::string dir = test::scratch_dir("lora-peft") + "/peft";
  write_lora_peft(dir, on_gguf.params(), gguf.config, config(), "tiny-llama");

  const nlohmann::json cfg = nlohmann::json::parse(test::slurp(dir + "/adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 12.0);
  EXPECT_EQ(cfg["target_modules"],
            (std::vector<std::string>{"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj",
                                      "up_proj", "v_proj"}));
  SafetensorsFile st(dir + "/adapter_model.safetensors");
  EXPECT_EQ(st.tensors().size(), 2u * 7 * gguf.config.n_layers);
  const SafetensorsEntry* qa =
      st.find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
  const SafetensorsEntry* db =
      st.find("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
  ASSERT_TRUE(qa && db);
  EXPECT_EQ(qa->shape, (std::vector<int64_t>{4, gguf.config.d_model}));
  EXPECT_EQ(db->shape, (std::vector<int64_t>{gguf.config.d_model, 4}));

  TrainModel on_hf(hf, config());
  for (Parameter& p : on_hf.params().all()) {
    const std::string weight = p.name.substr(0, p.name.size() - 7);
    const std::string module =
        gguf_to_hf_name(weight)->substr(0, gguf_to_hf_name(weight)->size() - 7);
    const SafetensorsEntry* e =
        st.find("base_model.model." + module +
                (p.name.ends_with(".lora_a") ? ".lora_A.weight" : ".lora_B.weight"));
    ASSERT_NE(e, nullptr) << p.name;
    ASSERT_EQ(e->nbytes, p.value.size() * 4);
    std::memcpy(p.value.data(), st.data(*e), e->nbytes);
  }
  std::vector<int32_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back((i * 71 + 9) % hf.config.vocab_size);
  const double l_gguf = on_gguf.loss(ids, {});
  EXPECT_NEAR(on_hf.loss(ids, {}), l_gguf, 1e-5 * l_gguf);
}

}  // namespace
}  // namespace edgefit::train
