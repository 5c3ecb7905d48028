// The sparse types as quantization types: names and block bytes, quantize (exact zeros = pruned)
// and dequantize round trips, errors naming row and block for inputs the pattern cannot hold,
// and the corrupt-block finder the loader uses.
#include "quant/q_sparse.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/fp16.h"
#include "quant/presets.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

std::vector<float> gaussian(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = nd(rng);
  return v;
}

TEST(SparseTypes, NamesIdsAndBytes) {
  EXPECT_EQ(parse_quant_type("q4_2of4"), DType::Q4_2OF4);
  EXPECT_EQ(parse_quant_type("q4_mask50"), DType::Q4_MASK50);
  EXPECT_EQ(parse_quant_type("Q4_MASK62"), DType::Q4_MASK62);
  EXPECT_EQ(static_cast<uint32_t>(DType::Q4_2OF4), 200u);
  EXPECT_EQ(dtype_info_from_ggml(202)->type, DType::Q4_MASK62);
  EXPECT_EQ(*dtype_bytes(DType::Q4_2OF4, 512), 2 * sizeof(BlockQ4_2of4));
  EXPECT_EQ(*dtype_bytes(DType::Q4_MASK50, 256), sizeof(BlockQ4_Mask50));
  EXPECT_EQ(*dtype_bytes(DType::Q4_MASK62, 256), sizeof(BlockQ4_Mask62));
  EXPECT_DOUBLE_EQ(dtype_bits_per_weight(DType::Q4_MASK62), 86 * 8.0 / 256);
  EXPECT_EQ(parse_quant_type("q4_qmask62"), DType::Q4_QMASK62);
  EXPECT_EQ(dtype_info_from_ggml(203)->type, DType::Q4_QMASK62);
  EXPECT_EQ(*dtype_bytes(DType::Q4_QMASK62, 512), 2 * sizeof(BlockQ4_QMask62));
  EXPECT_DOUBLE_EQ(dtype_bits_per_weight(DType::Q4_QMASK62), 2.75);
  EXPECT_TRUE(is_sparse_dtype(DType::Q4_QMASK62));
}

// quantize → dequantize keeps every zero and equals the scalar encoder/decoder with the zeros as
// the mask.
TEST(SparseTypes, TraitsRoundTripKeepsZeros) {
  const int64_t n = 1024;
  for (DType t : {DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62, DType::Q4_QMASK62}) {
    std::vector<float> w = gaussian(2 * n, 3);
    for (int64_t i = 0; i < 2 * n; ++i) {
      const bool prune = t == DType::Q4_2OF4 ? (i % 4 == 1 || i % 4 == 2) : (i * 7919 % 8) < 5;
      if (prune) w[i] = 0.f;
    }
    std::vector<uint8_t> q(quant_row_size(t, n) * 2);
    quantize_tensor(t, w.data(), 2, n, q.data(), nullptr);
    std::vector<float> back(2 * n);
    dequantize_tensor(t, q.data(), 2, n, back.data());
    double err = 0, ref = 0;
    for (int64_t i = 0; i < 2 * n; ++i) {
      if (w[i] == 0.f) {
        EXPECT_EQ(back[i], 0.f) << dtype_name(t) << " " << i;
      }
      err += (back[i] - w[i]) * (back[i] - w[i]);
      ref += w[i] * w[i];
    }
    EXPECT_LT(err / ref, 0.02) << dtype_name(t);  // 4-bit quantization error of the kept values
    EXPECT_EQ(find_corrupt_sparse_block(t, q.data(), 2 * n, nullptr), -1);
  }
}

TEST(SparseTypes, PatternViolationsNameRowAndBlock) {
  const int64_t n = 512;
  std::vector<float> w = gaussian(2 * n, 4);
  for (int64_t i = 0; i < 2 * n; ++i)
    if (i % 4 >= 2) w[i] = 0.f;
  w[n + 256 + 4 * 5 + 2] = 0.5f;  // row 1, block 1, group 5 keeps 3
  std::vector<uint8_t> q(quant_row_size(DType::Q4_2OF4, n) * 2);
  try {
    quantize_tensor(DType::Q4_2OF4, w.data(), 2, n, q.data(), nullptr);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("row 1"), std::string::npos) << m;
    EXPECT_NE(m.find("block 1 group 5"), std::string::npos) << m;
  }
  // 129 nonzeros in one block: over Mask50's capacity; 97 over Mask62's.
  std::vector<float> m = gaussian(256, 5);
  for (int i = 129; i < 256; ++i) m[i] = 0.f;
  std::vector<uint8_t> q50(sizeof(BlockQ4_Mask50));
  EXPECT_THROW(quantize_tensor(DType::Q4_MASK50, m.data(), 1, 256, q50.data(), nullptr), Error);
  m[128] = 0.f;
  EXPECT_NO_THROW(quantize_tensor(DType::Q4_MASK50, m.data(), 1, 256, q50.data(), nullptr));
  for (int i = 97; i < 256; ++i) m[i] = 0.f;
  std::vector<uint8_t> q62(sizeof(BlockQ4_Mask62));
  EXPECT_THROW(quantize_tensor(DType::Q4_MASK62, m.data(), 1, 256, q62.data(), nullptr), Error);
  std::vector<uint8_t> qq(sizeof(BlockQ4_QMask62));
  EXPECT_THROW(quantize_tensor(DType::Q4_QMASK62, m.data(), 1, 256, qq.data(), nullptr), Error);
  m[96] = 0.f;
  EXPECT_NO_THROW(quantize_tensor(DType::Q4_QMASK62, m.data(), 1, 256, qq.data(), nullptr));
}

TEST(SparseTypes, CorruptBlocksAreFound) {
  const int64_t n = 768;
  std::vector<float> w = gaussian(n, 6);
  for (int64_t i = 0; i < n; ++i)
    if (i % 4 == 0 || i % 4 == 3) w[i] = 0.f;
  std::vector<BlockQ4_2of4> b(3);
  quantize_tensor(DType::Q4_2OF4, w.data(), 1, n, b.data(), nullptr);
  b[2].idx[7] = static_cast<uint8_t>((b[2].idx[7] & 0x0F) | (0x5 << 4));  // p0 = p1 = 1
  std::string why;
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_2OF4, b.data(), n, &why), 2);
  EXPECT_NE(why.find("group 15"), std::string::npos) << why;
  std::vector<float> out(n);
  EXPECT_THROW(dequantize_tensor(DType::Q4_2OF4, b.data(), 1, n, out.data()), Error);

  std::vector<BlockQ4_Mask62> m(3);
  for (int64_t i = 0; i < n; ++i)
    if (i % 3 != 0) w[i] = 0.f;
  quantize_tensor(DType::Q4_MASK62, w.data(), 1, n, m.data(), nullptr);
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_MASK62, m.data(), n, nullptr), -1);
  for (int k = 0; k < 13; ++k) m[1].mask[k] = 0xFF;  // 104 bits set > 96
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_MASK62, m.data(), n, &why), 1);
  EXPECT_NE(why.find("holds 96"), std::string::npos) << why;

  std::vector<BlockQ4_QMask62> qm(3);
  quantize_tensor(DType::Q4_QMASK62, w.data(), 1, n, qm.data(), nullptr);
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_QMASK62, qm.data(), n, nullptr), -1);
  qm[2].mask[31] = 0xFF;  // 86 + 5 more kept: still within 96
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_QMASK62, qm.data(), n, nullptr), -1);
  for (int k = 0; k < 13; ++k) qm[2].mask[k] = 0xFF;  // ≥ 104 bits set > 96
  EXPECT_EQ(find_corrupt_sparse_block(DType::Q4_QMASK62, qm.data(), n, &why), 2);
  EXPECT_NE(why.find("holds 96"), std::string::npos) << why;
  EXPECT_THROW(dequantize_tensor(DType::Q4_QMASK62, qm.data(), 1, n, out.data()), Error);
}

// The Q4_QMASK62 layout by hand (not by the encoder): per quarter the Q4_0 reference on its kept
// values (largest magnitude → level 0, d = it / −8); mask and levels in slot order (slot
// 64w + 4l + i = weight 64(l % 4) + 16w + 4(l / 4) + i), level k in the low nibble of byte k
// (k < 48) or the high nibble of byte k − 48, level 8 past the count and in a quarter without
// kept weights (scale 0).
TEST(SparseTypes, QMask62LayoutByHand) {
  std::vector<float> w(256, 0.f);
  w[3] = -8.f, w[17] = 4.f, w[63] = 2.f;  // quarter 0: d = 1, levels 0, 12, 10
  w[64] = 3.f, w[100] = -1.5f;            // quarter 1: d = −0.375, levels 0, 12
  w[255] = 0.25f;                         // quarter 3: d = −0.03125, level 0; quarter 2 empty
  BlockQ4_QMask62 b;
  quantize_tensor(DType::Q4_QMASK62, w.data(), 1, 256, &b, nullptr);
  // weight → slot: 3 → 3 (word 0, lane 0), 64 → 4 (word 0, lane 1), 17 → 65 (word 1, lane 0),
  // 100 → 148 (word 2, lane 5), 63 → 243 (word 3, lane 12), 255 → 255 (word 3, lane 15)
  uint8_t mask_bytes[32] = {};
  for (int s : {3, 4, 65, 148, 243, 255}) mask_bytes[s / 8] |= static_cast<uint8_t>(1 << (s % 8));
  EXPECT_EQ(0, std::memcmp(b.mask, mask_bytes, 32));
  EXPECT_EQ(fp16_to_fp32(b.d[0]), 1.f);
  EXPECT_EQ(fp16_to_fp32(b.d[1]), -0.375f);
  EXPECT_EQ(fp16_to_fp32(b.d[2]), 0.f);
  EXPECT_EQ(fp16_to_fp32(b.d[3]), -0.03125f);
  const uint8_t levels[6] = {0, 0, 12, 12, 10, 0};  // weights 3, 64, 17, 100, 63, 255
  for (int j = 0; j < 48; ++j) EXPECT_EQ(b.qs[j], (j < 6 ? levels[j] : 8) | 8 << 4) << "byte " << j;
  std::vector<float> back(256);
  dequantize_tensor(DType::Q4_QMASK62, &b, 1, 256, back.data());
  EXPECT_EQ(back, w);  // every value here is exact at 4 bits
  // a level in the high half: level 50 = high nibble of byte 2
  b.qs[2] = static_cast<uint8_t>((b.qs[2] & 0x0F) | 0xF << 4);
  EXPECT_EQ(qmask62_level(b, 50), 15);
  EXPECT_EQ(qmask62_level(b, 2), 12);
}

// With importances, every quarter keeps the better of ggml's search and the reference under the
// importance-weighted error, so the whole row's weighted error is never above the reference's.
TEST(SparseTypes, QMask62ImportanceNeverWorseThanReference) {
  const int64_t n = 2048;
  std::vector<float> w = gaussian(n, 8), imp(n);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(0.01f, 2.f);
  for (int64_t i = 0; i < n; ++i) {
    imp[i] = u(rng);
    const bool prune =
        i / 256 == 3 ? i % 256 >= 64 : i * 7919 % 8 < 5;  // block 3: one full quarter
    if (prune) w[i] = 0.f;
  }
  std::vector<BlockQ4_QMask62> with(n / 256), without(n / 256);
  quantize_tensor(DType::Q4_QMASK62, w.data(), 1, n, with.data(), imp.data());
  quantize_tensor(DType::Q4_QMASK62, w.data(), 1, n, without.data(), nullptr);
  std::vector<float> a(n), b(n);
  dequantize_tensor(DType::Q4_QMASK62, with.data(), 1, n, a.data());
  dequantize_tensor(DType::Q4_QMASK62, without.data(), 1, n, b.data());
  double ea = 0, eb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ea += imp[i] * (a[i] - w[i]) * (a[i] - w[i]);
    eb += imp[i] * (b[i] - w[i]) * (b[i] - w[i]);
    if (w[i] == 0.f) {
      EXPECT_EQ(a[i], 0.f);
    }
  }
  EXPECT_LE(ea, eb);
  EXPECT_LT(ea, 0.99 * eb) << "the search should find something better somewhere";
}

}  // namespace
}  // namespace edgefit
