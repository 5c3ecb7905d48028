// Reading a GGUF and writing it back must give the same bytes, for every GGUF in ../shared:
// models written by gguf-py, files quantized by llama.cpp, and llama.cpp's vocab-only files.
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> all_shared_ggufs() {
  std::vector<std::string> out;
  for (const char* dir : {"models", "ref"})
    for (const auto& e : fs::recursive_directory_iterator(test::shared_path(dir))) {
      const std::string p = e.path().string();
      if (p.ends_with(".gguf") || p.ends_with(".gguf.gz")) out.push_back(p);
    }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GgufRoundTrip, EverySharedFileIsByteIdentical) {
  const auto files = all_shared_ggufs();
  ASSERT_GE(files.size(), 25u) << "expected the GGUFs of ../shared";
  const std::string dir = test::scratch_dir("gguf_roundtrip");
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    std::string src = path;
    if (path.ends_with(".gz")) {
      src = dir + "/" + fs::path(path).stem().string();
      test::gunzip_file(path, src);
    }
    GgufFile f(src);
    EXPECT_EQ(f.version(), 3u);
    const std::string out = dir + "/out.gguf";
    gguf_writer_from(f).write(out);
    const std::string a = test::slurp(src), b = test::slurp(out);
    ASSERT_EQ(a.size(), b.size());
    const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin());
    EXPECT_TRUE(mismatch.first == a.end())
        << "first difference at byte " << (mismatch.first - a.begin());
    if (src != path) fs::remove(src);
  }
}

TEST(GgufReader, ReadsMetadataAndTensorsOfStories) {
  GgufFile f(test::shared_path("models/stories260K/gguf/stories260K-f32.gguf"));
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 5);
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").arr.size(), 512u);
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").arr[1].str, "<s>");
  const GgufTensorInfo* t = f.find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<uint64_t>{172, 64}));
  const TensorView v = f.view(*t);
  EXPECT_EQ(v.shape[0], 64);
  EXPECT_EQ(v.shape[1], 172);
  EXPECT_EQ(v.nbytes(), 64u * 172 * 4);
  EXPECT_THROW(f.get_string("llama.block_count"), Error);  // wrong type names the key
  EXPECT_THROW(f.get("no.such.key"), Error);
}

TEST(GgufWriter, NestedArraysAndEveryValueTypeRoundTrip) {
  GgufWriter w;
  w.set("u8", [] {
    GgufValue v;
    v.type = GgufType::U8;
    v.u = 200;
    return v;
  }());
  w.set("i8", [] {
    GgufValue v;
    v.type = GgufType::I8;
    v.i = -100;
    return v;
  }());
  w.set("u16", [] {
    GgufValue v;
    v.type = GgufType::U16;
    v.u = 60000;
    return v;
  }());
  w.set("i16", [] {
    GgufValue v;
    v.type = GgufType::I16;
    v.i = -30000;
    return v;
  }());
  w.set("u32", GgufValue::make_u32(4000000000u));
  w.set("i32", GgufValue::make_i32(-2000000000));
  w.set("f32", GgufValue::make_f32(1.5f));
  w.set("bool", GgufValue::make_bool(true));
  w.set("str", GgufValue::make_string("héllo"));
  w.set("u64", GgufValue::make_u64(1ull << 60));
  w.set("i64", [] {
    GgufValue v;
    v.type = GgufType::I64;
    v.i = -(1ll << 60);
    return v;
  }());
  w.set("f64", [] {
    GgufValue v;
    v.type = GgufType::F64;
    v.f = 0.1;
    return v;
  }());
  w.set("strs", GgufValue::make_string_array({"a", "", "ccc"}));
  w.set("nested", GgufValue::make_array(GgufType::ARRAY, {GgufValue::make_i32_array({1, 2}),
                                                          GgufValue::make_i32_array({})}));
  const float data[64] = {1, 2, 3};
  w.add_tensor("t", DType::F32, {32, 2}, data);
  const std::string path = test::scratch_dir("gguf_types") + "/t.gguf";
  w.write(path);
  GgufFile f(path);
  EXPECT_EQ(f.get("u8").u, 200u);
  EXPECT_EQ(f.get("i8").i, -100);
  EXPECT_EQ(f.get("u16").u, 60000u);
  EXPECT_EQ(f.get("i16").i, -30000);
  EXPECT_EQ(f.get_int("u32"), 4000000000ll);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.get_double("f32"), 1.5);
  EXPECT_EQ(f.get("bool").u, 1u);
  EXPECT_EQ(f.get_string("str"), "héllo");
  EXPECT_EQ(f.get("u64").u, 1ull << 60);
  EXPECT_EQ(f.get("i64").i, -(1ll << 60));
  EXPECT_EQ(f.get_double("f64"), 0.1);
  EXPECT_EQ(f.get("strs").arr[2].str, "ccc");
  EXPECT_EQ(f.get("nested").arr[0].arr[1].i, 2);
  EXPECT_TRUE(f.get("nested").arr[1].arr.empty());
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(reinterpret_cast<const float*>(f.tensor_data(f.tensors()[0]))[2], 3.0f);
}

TEST(GgufWriter, CustomAlignmentIsHonoured) {
  GgufWriter w;
  w.set("general.alignment", GgufValue::make_u32(64));
  const uint8_t q[18 * 2] = {};
  w.add_tensor("a", DType::Q4_0, {32}, q);
  w.add_tensor("b", DType::Q4_0, {64}, q);
  const std::string path = test::scratch_dir("gguf_align") + "/a.gguf";
  w.write(path);
  GgufFile f(path);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, 64u);
}

TEST(GgufWriter, FailedWriteLeavesNoFile) {
  GgufWriter w;
  w.add_tensor({"bad", DType::F32, {4}, [](AtomicFileWriter& out) { out.write("xx", 2); }});
  const std::string path = test::scratch_dir("gguf_fail") + "/x.gguf";
  EXPECT_THROW(w.write(path), Error);
  EXPECT_FALSE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace edgefit
