// Damaged and hostile files must give one Error with the byte offset — never a crash, a hang or
// an allocation larger than the file justifies. (The libFuzzer targets in fuzz/ explore further.)
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>

#include "formats/gguf.h"
#include "formats/hf_config.h"
#include "formats/llama2c.h"
#include "formats/safetensors.h"
#include "test_data.h"

// Largest single heap allocation, to check parsers never reserve what the file cannot hold.
// (Not under ASan, which supplies its own operator new.)
#if !defined(__SANITIZE_ADDRESS__)
// GCC 12 cannot see that these malloc/free pairs belong together.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static size_t g_largest_alloc = 0;
void* operator new(size_t n) {
  if (n > g_largest_alloc) g_largest_alloc = n;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}
#define EDGEFIT_TRACK_ALLOCS 1
#endif

namespace edgefit {
namespace {

namespace fs = std::filesystem;

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::string s;
  template <typename T>
  Bytes& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& str(const std::string& x) {
    put<uint64_t>(x.size());
    s += x;
    return *this;
  }
};

std::string write_tmp(const std::string& name, const std::string& bytes) {
  static const std::string dir = test::scratch_dir("hostile");
  const std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

// Expects GgufFile to reject the bytes with an Error whose text contains `what`.
void expect_gguf_error(const std::string& bytes, const std::string& what) {
  const std::string p = write_tmp("case.gguf", bytes);
  try {
    GgufFile f(p);
    ADD_FAILURE() << "accepted a file that should fail with: " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "error must be one line";
  }
}

Bytes header(uint64_t n_tensors, uint64_t n_kv) {
  Bytes b;
  b.s = "GGUF";
  b.put<uint32_t>(3).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  return b;
}

// One F32 tensor of `n` floats at data offset `off`, file padded to hold `data_bytes`.
std::string one_tensor_file(uint64_t ne0, uint32_t type, uint64_t off, size_t data_bytes) {
  Bytes b = header(1, 0);
  b.str("t").put<uint32_t>(1).put<uint64_t>(ne0).put<uint32_t>(type).put<uint64_t>(off);
  b.s.resize((b.s.size() + 31) / 32 * 32, '\0');
  b.s.resize(b.s.size() + data_bytes, '\0');
  return b.s;
}

TEST(HostileGguf, SpecificDefectsAreNamedWithTheirOffset) {
  expect_gguf_error("GGUX" + std::string(20, '\0'), "bad magic");
  expect_gguf_error("GG", "truncated");
  expect_gguf_error(Bytes{"GGUF"}.put<uint32_t>(1).s + std::string(16, '\0'),
                    "unsupported GGUF version 1");
  expect_gguf_error(header(0, 1ull << 60).s, "metadata count");
  expect_gguf_error(header(1ull << 60, 0).s, "tensor count");
  expect_gguf_error(header(0, 1).put<uint64_t>(1ull << 62).s,
                    "exceeds the file");  // huge key length
  expect_gguf_error(header(0, 1).str("k").put<uint32_t>(99).s, "unknown type 99");
  expect_gguf_error(
      header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 40).s,
      "array of 1099511627776 elements exceeds the file");
  expect_gguf_error(header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1000).s,
                    "exceeds the file");
  expect_gguf_error(header(0, 1).str("\xff\xfe").put<uint32_t>(4).put<uint32_t>(1).s,
                    "not valid UTF-8");
  expect_gguf_error(header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(7).s, "bool value 7");
  expect_gguf_error(header(0, 2)
                        .str("k")
                        .put<uint32_t>(4)
                        .put<uint32_t>(1)
                        .str("k")
                        .put<uint32_t>(4)
                        .put<uint32_t>(1)
                        .s,
                    "duplicate metadata key");
  {  // arrays nested deeper than the limit
    Bytes b = header(0, 1).str("k");
    b.put<uint32_t>(9);
    for (int d = 0; d < 20; ++d) b.put<uint32_t>(9).put<uint64_t>(1);
    b.s.resize(b.s.size() + 64, '\0');
    expect_gguf_error(b.s, "nested");
  }
  {  // general.alignment of 0 would divide by zero
    Bytes b = header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(0);
    expect_gguf_error(b.s, "general.alignment");
  }
  expect_gguf_error(one_tensor_file(8, 0, 0, 16), "lies past the end");  // 32 bytes needed
  expect_gguf_error(one_tensor_file(8, 0, 7, 64), "not aligned");
  expect_gguf_error(one_tensor_file(8, 77, 0, 64), "unknown ggml type 77");
  expect_gguf_error(one_tensor_file(1ull << 45, 0, 0, 64), "absurd extent");
  expect_gguf_error(one_tensor_file(33, 2, 0, 64), "not a multiple");  // Q4_0 rows of 33
  expect_gguf_error(one_tensor_file(8, 0, 1ull << 62, 64), "lies past the end");
  {  // five dimensions
    Bytes b = header(1, 0).str("t").put<uint32_t>(5);
    for (int d = 0; d < 5; ++d) b.put<uint64_t>(1);
    b.put<uint32_t>(0).put<uint64_t>(0);
    expect_gguf_error(b.s, "5 dimensions");
  }
  {  // two tensors sharing bytes
    Bytes b = header(2, 0);
    b.str("a").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(0);
    b.str("b").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(32);
    b.s.resize((b.s.size() + 31) / 32 * 32 + 128, '\0');
    expect_gguf_error(b.s, "overlap");
  }
}

TEST(HostileGguf, EveryTruncationOfARealFileFailsCleanly) {
  const std::string full =
      test::slurp(test::shared_path("models/stories260K/gguf/stories260K-f16.gguf"));
  GgufFile ok(test::shared_path("models/stories260K/gguf/stories260K-f16.gguf"));
  const uint64_t data = ok.data_offset();
  std::vector<uint64_t> cuts;
  for (uint64_t n = 0; n < data; n += (n < 600 ? 1 : 37)) cuts.push_back(n);
  for (uint64_t n = data; n < full.size(); n += full.size() / 50) cuts.push_back(n);
  cuts.push_back(full.size() - 1);
  for (uint64_t n : cuts) {
    const std::string p = write_tmp("trunc.gguf", full.substr(0, n));
    try {
      GgufFile f(p);
      ADD_FAILURE() << "accepted a file truncated to " << n << " bytes";
    } catch (const Error& e) {
      EXPECT_TRUE(std::string(e.what()).find("at byte") != std::string::npos ||
                  std::string(e.what()).find("past the end") != std::string::npos)
          << n << ": " << e.what();
    }
  }
}

TEST(HostileGguf, RandomByteCorruptionNeverCrashes) {
  const std::string full =
      test::slurp(test::shared_path("models/stories260K/gguf/stories260K-f16.gguf"));
  GgufFile ok(test::shared_path("models/stories260K/gguf/stories260K-f16.gguf"));
  std::mt19937_64 rng(12345);
  int rejected = 0;
#ifdef EDGEFIT_TRACK_ALLOCS
  g_largest_alloc = 0;
#endif
  for (int iter = 0; iter < 300; ++iter) {
    std::string b = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % ok.data_offset();  // corrupt the header, where parsing happens
      b[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : rng());
    }
    const std::string p = write_tmp("flip.gguf", b);
    try {
      GgufFile f(p);
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 50);
#ifdef EDGEFIT_TRACK_ALLOCS
  // An array is only reserved when the remaining bytes could hold its elements at their smallest
  // encoding (8 bytes for a string), and a parsed GgufValue takes about 12× that: so no single
  // allocation may exceed ~12× the file, whatever a corrupted count says.
  EXPECT_LT(g_largest_alloc, full.size() * 16) << "an allocation exceeded what the file justifies";
#endif
}

TEST(HostileSafetensors, DefectsAreNamed) {
  auto make = [](const std::string& json, size_t data_bytes) {
    Bytes b;
    b.put<uint64_t>(json.size());
    b.s += json;
    b.s.resize(b.s.size() + data_bytes, '\0');
    return b.s;
  };
  struct Case {
    std::string bytes;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"abc", "truncated"},
      {Bytes{}.put<uint64_t>(1ull << 40).s, "header length"},
      {make("{not json", 0), "not valid JSON"},
      {make("[1,2]", 0), "not a JSON object"},
      {make(R"({"w":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype 'Q9'"},
      {make(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}})", 8), "outside"},
      {make(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "its shape needs 12"},
      {make(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative"},
      {make(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {make(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})",
            8),
       "absurd"},
      {make(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlap"},
      {make(R"({"__metadata__":{"k":1}})", 0), "not a string"},
  };
  for (const auto& c : cases) {
    const std::string p = write_tmp("case.safetensors", c.bytes);
    try {
      SafetensorsFile f(p);
      ADD_FAILURE() << "accepted: " << c.what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.what), std::string::npos) << e.what();
    }
  }
}

TEST(HostileLlama2c, TruncatedAndAbsurdHeaders) {
  const std::string full =
      test::slurp(test::shared_path("models/stories260K/llama2c/stories260K.bin"));
  for (size_t n : {size_t{0}, size_t{27}, size_t{28}, size_t{1000}, full.size() - 4}) {
    const std::string p = write_tmp("trunc.bin", full.substr(0, n));
    EXPECT_THROW(load_llama2c(p), Error) << n;
  }
  std::string bad = full;
  const int32_t huge = 1 << 30;
  std::memcpy(&bad[8], &huge, 4);  // n_layers
  EXPECT_THROW(load_llama2c(write_tmp("bad.bin", bad)), Error);
  EXPECT_THROW(load_llama2c(write_tmp("extra.bin", full + "junk")), Error);
}

}  // namespace
}  // namespace edgefit
