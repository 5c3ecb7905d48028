// imatrix files: llama.cpp's legacy .dat (the reference one from llama-imatrix b4748), our GGUF
// layout, round trips between them, and hostile input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "methods/imatrix_file.h"
#include "test_data.h"

namespace edgefit {
namespace {

using test::scratch_dir;
using test::shared_path;

const std::string kDat = "ref/polyglot/imatrix-ntrex-calib.llamacpp.dat";

TEST(Imatrix, ReadsLlamaCppLegacyDat) {
  const Imatrix im = read_imatrix(shared_path(kDat));
  EXPECT_EQ(im.format, "dat");
  EXPECT_EQ(im.entries.size(), 42u);  // 6 layers × 7 matrices; llama-imatrix skips output.weight
  EXPECT_EQ(im.chunk_count, 160u);
  ASSERT_EQ(im.datasets.size(), 1u);
  EXPECT_EQ(im.datasets[0], "ntrex128-calib-12lang-interleaved.txt");
  const ImatrixEntry& e = im.entries.at("blk.5.attn_output.weight");
  ASSERT_EQ(e.mean_sq.size(), 256u);
  EXPECT_EQ(e.counts, std::vector<uint64_t>{160});
  // Stored 58.90607… = mean × ncall; llama-quantize divides by ncall (160).
  EXPECT_FLOAT_EQ(e.mean_sq[0], 58.90607452392578f / 160.0f);
  EXPECT_EQ(im.entries.at("blk.3.ffn_down.weight").mean_sq.size(), 768u);
  EXPECT_EQ(im.token_count(), 0u);  // a .dat does not record tokens per chunk
  for (const auto& [name, entry] : im.entries)
    for (float v : entry.mean_sq) EXPECT_GE(v, 0.0f) << name;
}

TEST(Imatrix, FindChecksSizes) {
  const Imatrix im = read_imatrix(shared_path(kDat));
  EXPECT_NE(im.find("blk.0.attn_q.weight", 256), nullptr);
  EXPECT_EQ(im.find("output.weight", 256), nullptr);
  EXPECT_THROW(im.find("blk.0.attn_q.weight", 512), Error);
}

TEST(Imatrix, GgufRoundTripInLlamaCppsLayout) {
  Imatrix im = read_imatrix(shared_path(kDat));
  im.chunk_size = 256;
  im.datasets.push_back("second.txt");
  const std::string path = scratch_dir("im-gguf") + "/im.gguf";
  write_imatrix_gguf(im, path);

  GgufFile g(path);
  EXPECT_EQ(g.get_string("general.type"), "imatrix");
  EXPECT_EQ(g.get_int("imatrix.chunk_count"), 160);
  EXPECT_EQ(g.get_int("imatrix.chunk_size"), 256);
  EXPECT_EQ(g.get("imatrix.datasets").arr.size(), 2u);
  ASSERT_EQ(g.tensors().size(), 84u);
  EXPECT_EQ(g.tensors()[0].name, "blk.0.attn_k.weight.in_sum2");
  EXPECT_EQ(g.tensors()[1].name, "blk.0.attn_k.weight.counts");
  EXPECT_EQ(g.tensors()[0].ne, std::vector<uint64_t>{256});
  EXPECT_EQ(g.tensors()[1].ne, std::vector<uint64_t>{1});

  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.format, "gguf");
  EXPECT_EQ(back.datasets, im.datasets);
  EXPECT_EQ(back.chunk_count, 160u);
  EXPECT_EQ(back.token_count(), 160u * 256u);
  ASSERT_EQ(back.entries.size(), im.entries.size());
  for (const auto& [name, e] : im.entries) {
    const ImatrixEntry& b = back.entries.at(name);
    ASSERT_EQ(b.mean_sq.size(), e.mean_sq.size());
    for (size_t i = 0; i < e.mean_sq.size(); ++i)
      EXPECT_NEAR(b.mean_sq[i], e.mean_sq[i], 1e-6 * e.mean_sq[i]) << name;
  }
}

TEST(Imatrix, DatRoundTrip) {
  const Imatrix im = read_imatrix(shared_path(kDat));
  const std::string path = scratch_dir("im-dat") + "/im.dat";
  write_imatrix_dat(im, path);
  // Same layout as llama-imatrix wrote it (entry order aside: we write in name order).
  EXPECT_EQ(std::filesystem::file_size(path), std::filesystem::file_size(shared_path(kDat)));
  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.chunk_count, 160u);
  EXPECT_EQ(back.datasets, im.datasets);
  for (const auto& [name, e] : im.entries)
    EXPECT_EQ(back.entries.at(name).mean_sq, e.mean_sq) << name;
}

TEST(Imatrix, HostileFilesFailWithAnError) {
  const std::string dir = scratch_dir("im-bad");
  const std::string good = test::slurp(shared_path(kDat));
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  for (size_t cut : {0ul, 3ul, 10ul, 100ul, good.size() / 2}) {
    SCOPED_TRACE(cut);
    EXPECT_THROW(read_imatrix(write("cut.dat", good.substr(0, cut))), Error);
  }
  std::string huge = good;
  const int32_t n = 0x7fffffff;
  std::memcpy(huge.data(), &n, 4);
  EXPECT_THROW(read_imatrix(write("huge.dat", huge)), Error);
  std::string badlen = good;
  const int32_t len = -5;
  std::memcpy(badlen.data() + 4, &len, 4);
  EXPECT_THROW(read_imatrix(write("len.dat", badlen)), Error);
  std::string nan = good;
  const float v = std::nanf("");
  std::memcpy(nan.data() + 4 + 4 + 24 + 8, &v, 4);  // first value of the first entry
  EXPECT_THROW(read_imatrix(write("nan.dat", nan)), Error);
  // A model GGUF is not an imatrix.
  EXPECT_THROW(read_imatrix(shared_path("ref/models/tiny-llama/gguf/tiny-llama-f32.gguf")), Error);
  EXPECT_THROW(read_imatrix(dir + "/nonexistent"), Error);
}

}  // namespace
}  // namespace edgefit
