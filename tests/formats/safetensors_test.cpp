// safetensors writer/reader round trip over every dtype, and sharded HF folders.
#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "formats/model.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

TEST(Safetensors, EveryDtypeRoundTrips) {
  const std::vector<DType> types = {DType::F64,  DType::F32,     DType::F16,    DType::BF16,
                                    DType::I64,  DType::I32,     DType::I16,    DType::I8,
                                    DType::U64,  DType::U32,     DType::U16,    DType::U8,
                                    DType::BOOL, DType::F8_E4M3, DType::F8_E5M2};
  std::vector<SafetensorsTensorSpec> specs;
  std::vector<std::string> payloads;
  for (size_t k = 0; k < types.size(); ++k) {
    const uint64_t bytes = 6 * dtype_info(types[k])->type_size;
    std::string p(bytes, '\0');
    for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<char>(k * 31 + i);
    payloads.push_back(p);
  }
  for (size_t k = 0; k < types.size(); ++k) {
    const std::string* data = &payloads[k];
    specs.push_back({"t" + std::to_string(k), types[k], {2, 3}, [data](AtomicFileWriter& w) {
                       w.write(*data);
                     }});
  }
  const std::string path = test::scratch_dir("st_dtypes") + "/all.safetensors";
  write_safetensors(path, specs, {{"format", "pt"}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.header_size() % 8, 0u);
  ASSERT_EQ(f.tensors().size(), types.size());
  for (size_t k = 0; k < types.size(); ++k) {
    const SafetensorsEntry* e = f.find("t" + std::to_string(k));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype, types[k]);
    EXPECT_EQ(e->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data(*e)), e->nbytes), payloads[k]);
  }
}

TEST(Safetensors, ReadsTheSharedFilesHeaders) {
  SafetensorsFile f(test::shared_path("models/polyglot/hf/model-bf16.safetensors"));
  const SafetensorsEntry* e = f.find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, DType::BF16);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{8192, 256}));
}

// Splits the polyglot model into two shards with an index, as transformers does for big models,
// and checks the folder loads to the same tensors.
TEST(Safetensors, ShardedFolderLoadsLikeTheSingleFile) {
  const Model one = load_model(test::shared_path("models/polyglot/hf"));
  const std::string dir = test::scratch_dir("st_sharded");
  fs::copy_file(test::shared_path("models/polyglot/hf/config.json"), dir + "/config.json");
  SafetensorsFile src(test::shared_path("models/polyglot/hf/model.safetensors"));
  std::vector<SafetensorsTensorSpec> shard[2];
  std::string index = R"({"metadata":{},"weight_map":{)";
  for (size_t k = 0; k < src.tensors().size(); ++k) {
    const SafetensorsEntry& e = src.tensors()[k];
    const int s = k < src.tensors().size() / 2 ? 0 : 1;
    shard[s].push_back({e.name, e.dtype, e.shape,
                        [&src, &e](AtomicFileWriter& w) { w.write(src.data(e), e.nbytes); }});
    index += (k ? "," : "") + std::string("\"") + e.name + "\":\"model-0000" +
             std::to_string(s + 1) + "-of-00002.safetensors\"";
  }
  index += "}}";
  write_safetensors(dir + "/model-00001-of-00002.safetensors", shard[0]);
  write_safetensors(dir + "/model-00002-of-00002.safetensors", shard[1]);
  std::ofstream(dir + "/model.safetensors.index.json") << index;
  const Model sharded = load_model(dir);
  ASSERT_EQ(sharded.tensors.size(), one.tensors.size());
  for (const auto& t : one.tensors) {
    const ModelTensor* s = sharded.find(t.name);
    ASSERT_NE(s, nullptr) << t.name;
    EXPECT_EQ(s->view.shape_string(), t.view.shape_string());
    EXPECT_EQ(std::memcmp(s->view.data, t.view.data, t.view.nbytes()), 0) << t.name;
  }
  // An index naming a file outside the folder is refused.
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"weight_map":{"a":"../x.safetensors"}})";
  EXPECT_THROW(load_model(dir), Error);
}

}  // namespace
}  // namespace edgefit
