// The sparse types' kernels (dot_sparse_*.cpp): every table has them, every SIMD entry equals the
// scalar twin bit for bit (random patterns, full and empty mask blocks, odd row counts, gemv and
// gemm), and the scalar twin equals an independent computation: the dequantized weights times
// the dequantized Q8_K activations, summed in double. The packed 2:4 layout (PackedQ4_2of4Block,
// repacked at load) round-trips to the same bytes and its kernels equal the scalar twin on the
// unpacked rows bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "quant/block_formats.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"

namespace edgefit::kernels {
namespace {

using namespace test_util;
using quant::BlockQ8_K;

constexpr DType kSparseTypes[] = {DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62,
                                  DType::Q4_QMASK62};
// The types with a packed layout (Q4_QMASK62's only for blocks of ≤ 48 kept per slot half).
constexpr DType kPackedSparseTypes[] = {DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62,
                                        DType::Q4_QMASK62};

int capacity_of(DType t) {
  return t == DType::Q4_MASK62 || t == DType::Q4_QMASK62 ? 96 : 128;
}

// rows × n floats whose exact zeros follow type t's pattern: 2:4 (random positions, some groups
// keeping fewer than 2), or per 256-block a random count up to the capacity (0 and the capacity
// itself included) at random positions.
std::vector<float> pruned_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng) {
  std::vector<float> w = random_floats(rng, rows * n, 0.05f);
  std::uniform_int_distribution<int> u4(0, 3);
  for (int64_t b = 0; b < rows * n / 256; ++b) {
    float* blk = w.data() + b * 256;
    if (t == DType::Q4_2OF4) {
      for (int g = 0; g < 64; ++g) {
        const int keep_a = u4(rng), keep_b = g % 7 == 0 ? keep_a : u4(rng);
        for (int k = 0; k < 4; ++k)
          if (k != keep_a && k != keep_b) blk[4 * g + k] = 0.f;
      }
      continue;
    }
    const int cap = capacity_of(t);
    const int keep = b % 5 == 0 || (t == DType::Q4_QMASK62 && b % 5 == 2) ? cap
                     : b % 5 == 1                                         ? 0
                                  : std::uniform_int_distribution<int>(1, cap)(rng);
    std::vector<int> idx(256);
    for (int i = 0; i < 256; ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    if (t == DType::Q4_QMASK62 && b % 5 == 2) {
      // a full mask word (64 kept slots: its levels straddle the two nibble halves) and 32 others;
      // word v holds weights 16v … 16v + 15 of every quarter (q_sparse.h, slot order)
      const int v = static_cast<int>(b / 5 % 4);
      std::stable_partition(idx.begin(), idx.end(), [v](int i) { return i % 64 / 16 == v; });
      std::shuffle(idx.begin() + 64, idx.end(), rng);
    }
    for (int i = keep; i < 256; ++i) blk[idx[i]] = 0.f;
  }
  return w;
}

// The same for Q4_QMASK62 blocks that its packing holds: at most 48 kept in each slot half (half
// h = weights 64q + 32h … 64q + 32h + 31 of every quarter q; mask word w = weights 64q + 16w …
// 64q + 16w + 15). Per block: both halves full, none kept, one word of each half holding all of
// its half's 48 (words 0 and 3: a word after an empty one starts at byte 0, word 1 after 48
// levels), or random counts up to 48 per half at random positions.
std::vector<float> qmask62_packable_rows(int64_t rows, int64_t n, std::mt19937& rng) {
  std::vector<float> w = random_floats(rng, rows * n, 0.05f);
  for (int64_t b = 0; b < rows * n / 256; ++b) {
    float* blk = w.data() + b * 256;
    for (int h = 0; h < 2; ++h) {
      std::vector<int> idx;  // the half's weights, the kept ones first
      if (b % 5 == 2) {      // word 2h (h = 0) or 2h + 1 (h = 1) first: 48 of its 64
        const int word = h == 0 ? 0 : 3;
        for (int q = 0; q < 4; ++q)
          for (int j = 0; j < 16; ++j) idx.push_back(64 * q + 16 * word + j);
        std::shuffle(idx.begin(), idx.end(), rng);
        for (int q = 0; q < 4; ++q)
          for (int j = 0; j < 16; ++j) idx.push_back(64 * q + 16 * (word ^ 1) + j);
      } else {
        for (int q = 0; q < 4; ++q)
          for (int j = 0; j < 32; ++j) idx.push_back(64 * q + 32 * h + j);
        std::shuffle(idx.begin(), idx.end(), rng);
      }
      const int keep = b % 5 == 0 || b % 5 == 2 ? 48
                       : b % 5 == 1             ? 0
                                                : std::uniform_int_distribution<int>(1, 48)(rng);
      for (size_t i = static_cast<size_t>(keep); i < idx.size(); ++i) blk[idx[i]] = 0.f;
    }
  }
  return w;
}

// Type t's blocks for rows × n weights; packable: Q4_QMASK62 blocks its packing holds.
std::vector<uint8_t> sparse_rows(DType t, int64_t rows, int64_t n, std::mt19937& rng,
                                 bool packable = false) {
  const std::vector<float> w = packable && t == DType::Q4_QMASK62
                                   ? qmask62_packable_rows(rows, n, rng)
                                   : pruned_rows(t, rows, n, rng);
  std::vector<uint8_t> out(quant_row_size(t, n) * rows);
  quantize_tensor(t, w.data(), rows, n, out.data(), nullptr);
  return out;
}

// n_tok random activation rows prepared by fk and by the scalar twin rk, 64-byte aligned.
struct PreparedActs {
  std::vector<uint8_t> buf, ref_buf;  // storage
  uint8_t* act = nullptr;             // fk's rows, act_bytes apart
  uint8_t* ref = nullptr;             // rk's rows, ref_bytes apart
  size_t act_bytes = 0, ref_bytes = 0;
};
PreparedActs prepare_acts(const FormatKernels& fk, const FormatKernels& rk, int64_t n,
                          int64_t n_tok, std::mt19937& rng) {
  PreparedActs p;
  p.act_bytes = fk.act_row_bytes(n);
  p.ref_bytes = rk.act_row_bytes(n);
  p.buf.resize(p.act_bytes * n_tok + 64);
  p.ref_buf.resize(p.ref_bytes * n_tok + 64);
  p.act = aligned64(p.buf.data());
  p.ref = aligned64(p.ref_buf.data());
  for (int64_t k = 0; k < n_tok; ++k) {
    const auto x = random_floats(rng, n);
    fk.prepare_act(x.data(), n, p.act + k * p.act_bytes);
    rk.prepare_act(x.data(), n, p.ref + k * p.ref_bytes);
  }
  return p;
}

TEST(SparseKernels, EveryTableHasThemInTheirSlots) {
  for (Isa isa : supported_isas())
    for (DType t : kSparseTypes) {
      const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
      ASSERT_NE(fk, nullptr) << dtype_name(t) << " on " << isa_name(isa);
      EXPECT_EQ(fk->weight_type, t);
      EXPECT_EQ(fk->act_type, DType::Q8_K);
      EXPECT_EQ(kernel_slot_info(*kernel_slot(t)).weight_type, t);
    }
}

// The SIMD tables run their own sparse kernels (not the scalar twins): 2:4 and masks on AVX2
// and AVX-512 on x86, the tbl kernels on both NEON tables.
TEST(SparseKernels, SimdTablesRunTheirOwnTwoOfFourKernel) {
  const VecDotFn scalar = kernel_dispatch_for(Isa::kScalar).find(DType::Q4_2OF4)->vec_dot;
  int tables = 0;
  for (Isa isa : simd_isas()) {
    EXPECT_NE(kernel_dispatch_for(isa).find(DType::Q4_2OF4)->vec_dot, scalar) << isa_name(isa);
    // and the mask types (AVX2 pshufb, AVX-512 compress, NEON tbl)
    for (DType t : {DType::Q4_MASK50, DType::Q4_MASK62})
      EXPECT_NE(kernel_dispatch_for(isa).find(t)->vec_dot,
                kernel_dispatch_for(Isa::kScalar).find(t)->vec_dot)
          << isa_name(isa) << " " << dtype_name(t);
    ++tables;
  }
  EXPECT_GE(tables, 1);
}

// Q4_QMASK62 has its own kernel on every SIMD table: vpexpandb per mask word on AVX-512 hosts with
// VBMI2, a pshufb control per mask byte on AVX2 and AVX-VNNI (and AVX-512 without VBMI2), tbl on
// both NEON tables; each prepares its own slot-order activations.
TEST(SparseKernels, QMask62RunsItsOwnKernelOnEverySimdTable) {
  const FormatKernels* rk = kernel_dispatch_for(Isa::kScalar).find(DType::Q4_QMASK62);
  for (Isa isa : simd_isas()) {
    const FormatKernels* fk = kernel_dispatch_for(isa).find(DType::Q4_QMASK62);
    ASSERT_NE(fk, nullptr);
    EXPECT_NE(fk->vec_dot, rk->vec_dot) << isa_name(isa);
    EXPECT_NE(fk->prepare_act, rk->prepare_act) << isa_name(isa);
  }
}

// Hand-made Q4_QMASK62 blocks at the table kernels' edges: mask bytes of 8 kept (a shuffle's
// whole 16-byte source), of 0, runs that put the 96th level last in a word, levels at 0 and 15
// (the extreme products) against activations at their extremes; every table bit for bit equal
// to the scalar twin.
TEST(SparseKernels, QMask62EdgePatternsEqualScalarOnEveryTable) {
  using Q62 = BlockQ4_QMask62;
  std::mt19937 rng(15);
  const int64_t n = 1024, nb = n / 256;
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  std::vector<float> x = random_floats(rng, n);
  for (int64_t i = 0; i < n; i += 37) x[i] = i % 2 ? 3.f : -3.f;  // the block maxima: quants ±127
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::vector<Q62> w(nb);
    for (int64_t b = 0; b < nb; ++b) {
      Q62& blk = w[b];
      std::memset(blk.mask, 0, sizeof blk.mask);
      for (int j = 0; j < 32; ++j) {
        // 0: the first 96 slots; 1: the last 96 (the 96th level last in a word); 2: 3 of every
        // word's 8 bytes; 3: every 4th byte full and another 2 of 8, shifted by block
        const int r = (j + static_cast<int>(b)) % 4;
        const bool full = pattern == 0   ? j < 12
                          : pattern == 1 ? j >= 20
                          : pattern == 2 ? j % 8 < 3
                                         : r == 0;
        blk.mask[j] = full ? 0xFF : pattern == 3 && r == 2 ? 0x81 : 0;
      }
      int kept = 0;
      for (uint8_t m : blk.mask) kept += std::popcount(m);
      ASSERT_LE(kept, Q62::capacity);
      for (int q = 0; q < 4; ++q) blk.d[q] = fp32_to_fp16(0.01f * static_cast<float>(q + 1 + b));
      for (int j = 0; j < Q62::kHalf; ++j)
        blk.qs[j] = static_cast<uint8_t>((j + b) % 3 == 0 ? 0xF0 : (j + b) % 3 == 1 ? 0x0F : rng());
    }
    const FormatKernels* rk = ref.find(DType::Q4_QMASK62);
    for (Isa isa : simd_isas()) {
      const FormatKernels* fk = kernel_dispatch_for(isa).find(DType::Q4_QMASK62);
      std::vector<uint8_t> act(fk->act_row_bytes(n) + 64), ref_act(rk->act_row_bytes(n));
      uint8_t* a = aligned64(act.data());
      fk->prepare_act(x.data(), n, a);
      rk->prepare_act(x.data(), n, ref_act.data());
      const float want = rk->vec_dot(n, w.data(), ref_act.data());
      EXPECT_EQ(std::bit_cast<uint32_t>(fk->vec_dot(n, w.data(), a)), std::bit_cast<uint32_t>(want))
          << isa_name(isa) << " pattern " << pattern;
    }
  }
}

// The scalar twin against dequantize-then-dot in double: the integer sums are exact, so only the
// float accumulation differs.
TEST(SparseKernels, ScalarTwinEqualsDequantizedDot) {
  std::mt19937 rng(11);
  const KernelDispatch& kd = kernel_dispatch_for(Isa::kScalar);
  for (DType t : kSparseTypes) {
    const int64_t n = 2048, rows = 9;
    const auto w = sparse_rows(t, rows, n, rng);
    const auto x = random_floats(rng, n);
    std::vector<BlockQ8_K> act(n / 256);
    quantize_act_q8_k(x.data(), act.data(), n);
    std::vector<float> xq(n), wf(n);
    for (int64_t i = 0; i < n; ++i) xq[i] = act[i / 256].d * act[i / 256].qs[i % 256];
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = w.data() + r * quant_row_size(t, n);
      quant_traits(t)->dequantize_row(row, wf.data(), n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += static_cast<double>(wf[i]) * xq[i];
        mag += std::fabs(static_cast<double>(wf[i]) * xq[i]);
      }
      const float got = kd.find(t)->vec_dot(n, row, act.data());
      EXPECT_NEAR(got, want, 1e-5 * mag + 1e-30) << dtype_name(t) << " row " << r;
    }
  }
}

TEST(SparseKernels, EveryTableEqualsScalarBitForBit) {
  std::mt19937 rng(12);
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  for (Isa isa : simd_isas())
    for (DType t : kSparseTypes)
      for (int64_t n : {256, 768, 2048, 5632}) {
        const int64_t rows = 7, n_tok = 3;  // odd row and token counts
        const auto w = sparse_rows(t, rows, n, rng);
        const size_t rb = quant_row_size(t, n);
        const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
        const FormatKernels* rk = ref.find(t);
        ASSERT_NE(fk, nullptr);
        // Each table prepares its own activations (the AVX-512 2:4 kernel reorders the quants).
        const PreparedActs pa = prepare_acts(*fk, *rk, n, n_tok, rng);
        const uint8_t *act = pa.act, *ref_act = pa.ref;
        const size_t ab = pa.act_bytes, rab = pa.ref_bytes;
        std::vector<float> y(rows * n_tok), y_ref(rows * n_tok);
        fk->gemm(n, w.data(), rb, rows, act, ab, n_tok, y.data(), rows);
        rk->gemm(n, w.data(), rb, rows, ref_act, rab, n_tok, y_ref.data(), rows);
        for (int64_t k = 0; k < n_tok; ++k)
          for (int64_t r = 0; r < rows; ++r) {
            const float want = y_ref[k * rows + r];
            const float dot = fk->vec_dot(n, w.data() + r * rb, act + k * ab);
            EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
                << isa_name(isa) << " " << dtype_name(t) << " n=" << n << " row " << r;
            EXPECT_EQ(std::bit_cast<uint32_t>(dot), std::bit_cast<uint32_t>(want));
          }
      }
}

// A one-token gemm (decode) takes its own path where a kernel streams its rows (the AVX-512
// Q4_QMASK62 gemv unpacks levels a few blocks ahead across row ends): bit for bit the scalar
// twin's vec_dot, also for rows shorter than that distance (n = 256: one block per row).
TEST(SparseKernels, OneTokenGemmEqualsScalarBitForBit) {
  std::mt19937 rng(17);
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  for (Isa isa : simd_isas())
    for (DType t : kSparseTypes)
      for (int64_t n : {256, 768, 2048}) {
        const int64_t rows = 9;
        const auto w = sparse_rows(t, rows, n, rng);
        const size_t rb = quant_row_size(t, n);
        const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
        const FormatKernels* rk = ref.find(t);
        ASSERT_NE(fk, nullptr);
        const PreparedActs pa = prepare_acts(*fk, *rk, n, 1, rng);
        std::vector<float> y(rows);
        fk->gemm(n, w.data(), rb, rows, pa.act, pa.act_bytes, 1, y.data(), rows);
        for (int64_t r = 0; r < rows; ++r) {
          const float want = rk->vec_dot(n, w.data() + r * rb, pa.ref);
          EXPECT_EQ(std::bit_cast<uint32_t>(y[r]), std::bit_cast<uint32_t>(want))
              << isa_name(isa) << " " << dtype_name(t) << " n=" << n << " row " << r;
        }
      }
}

// Through matmul_with (activation preparation, row tasks, threads) on every table: each output
// equals the scalar twin's vec_dot of that row and token bit for bit.
TEST(SparseKernels, MatmulEqualsScalarVecDotOnEveryTable) {
  std::mt19937 rng(13);
  const KernelDispatch& ref = kernel_dispatch_for(Isa::kScalar);
  const std::pair<DType, bool> kData[] = {{DType::Q4_2OF4, false},
                                          {DType::Q4_MASK50, false},
                                          {DType::Q4_MASK62, false},
                                          {DType::Q4_QMASK62, false},
                                          {DType::Q4_QMASK62, true}};
  for (const auto& [t, packable] : kData) {
    const int64_t n = 1024, rows = 37, n_tok = 2;
    const auto w = sparse_rows(t, rows, n, rng, packable);
    const auto x = random_floats(rng, n * n_tok);
    const int64_t shape[2] = {rows, n};
    const TensorView v = TensorView::contiguous(t, shape, w.data());
    const FormatKernels* rk = ref.find(t);
    std::vector<uint8_t> act(rk->act_row_bytes(n) * n_tok);
    for (int64_t k = 0; k < n_tok; ++k)
      rk->prepare_act(x.data() + k * n, n, act.data() + k * rk->act_row_bytes(n));
    std::vector<uint8_t> packed(w.size());
    for (Isa isa : supported_isas()) {
      const KernelDispatch& kd = kernel_dispatch_for(isa);
      // the weights as stored, and repacked where this table reads a packing of them
      std::vector<TensorView> views = {v};
      if (can_repack(kd, v)) views.push_back(repack_weight(v, packed.data()));
      for (const TensorView& view : views) {
        std::vector<float> y(rows * n_tok);
        matmul_with(kd, view, x.data(), n_tok, y.data());
        for (int64_t k = 0; k < n_tok; ++k)
          for (int64_t r = 0; r < rows; ++r) {
            const float want = rk->vec_dot(n, w.data() + r * quant_row_size(t, n),
                                           act.data() + k * rk->act_row_bytes(n));
            EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
                << isa_name(isa) << " " << dtype_name(t) << " packing " << int{view.packing}
                << " row " << r << " token " << k;
          }
      }
    }
  }
}

TensorView view_of(DType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  const int64_t shape[2] = {rows, n};
  return TensorView::contiguous(t, shape, w.data());
}

TEST(SparseKernels, PackedRowsRoundTripToTheSameBytes) {
  std::mt19937 rng(14);
  EXPECT_EQ(packing_for(DType::Q4_2OF4), kPackingQ4_2of4x1);
  EXPECT_EQ(packing_for(DType::Q4_MASK50), kPackingQ4_Mask50x1);
  EXPECT_EQ(packing_for(DType::Q4_MASK62), kPackingQ4_Mask62x1);
  EXPECT_EQ(packing_for(DType::Q4_QMASK62), kPackingQ4_QMask62x1);
  for (DType t : kPackedSparseTypes)
    for (int64_t n : {256, 768, 5632}) {
      const int64_t rows = 5;
      const auto w = sparse_rows(t, rows, n, rng, /*packable=*/true);
      std::vector<uint8_t> packed(w.size());
      const TensorView pv = repack_weight(view_of(t, w, rows, n), packed.data());
      EXPECT_EQ(pv.packing, packing_for(t));
      EXPECT_NE(packed, w) << "every block is regrouped";
      const size_t rb = pv.row_bytes();
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<uint8_t> back(rb);
        unpack_packed_row(pv, r, back.data());
        EXPECT_EQ(0, std::memcmp(back.data(), w.data() + r * rb, rb))
            << dtype_name(t) << " n=" << n << " row " << r;
      }
      if (t == DType::Q4_QMASK62) {  // mask and scales where the file has them
        EXPECT_EQ(0, std::memcmp(packed.data(), w.data(), 40)) << "n=" << n;
        continue;
      }
      // the scales come first, as in every packed chunk, and keep their values
      const auto* orig = reinterpret_cast<const quant::BlockQ4_0*>(
          w.data() + (t == DType::Q4_2OF4 ? sizeof(BlockQ4_2of4::idx) : 32));
      uint16_t d0;
      std::memcpy(&d0, packed.data(), sizeof d0);
      EXPECT_EQ(d0, orig->d) << dtype_name(t);
    }
}

// A 2:4 index nibble becomes 2 mask bits and back: every valid nibble of every group position.
TEST(SparseKernels, PackedTwoOfFourKeepsEveryIndexNibble) {
  std::mt19937 rng(16);
  auto w = sparse_rows(DType::Q4_2OF4, 1, 256, rng);
  auto* blk = reinterpret_cast<BlockQ4_2of4*>(w.data());
  constexpr int kValid[6] = {0x4, 0x8, 0xC, 0x9, 0xD, 0xE};  // p0 | p1 << 2, p0 < p1
  for (int i = 0; i < 32; ++i)
    blk->idx[i] = static_cast<uint8_t>(kValid[i % 6] | kValid[(i / 6 + i) % 6] << 4);
  std::vector<uint8_t> packed(w.size()), back(w.size());
  const TensorView pv = repack_weight(view_of(DType::Q4_2OF4, w, 1, 256), packed.data());
  const auto* p = reinterpret_cast<const PackedQ4_2of4Block*>(packed.data());
  for (int k = 0; k < 4; ++k) EXPECT_EQ(std::popcount(p->mask[k]), 32) << "register " << k;
  unpack_packed_row(pv, 0, back.data());
  EXPECT_EQ(back, w);
}

// Padding slots (past a mask block's count) read as level 0 after repacking whatever the file
// holds there, so the packed kernels (whose gathered rows hold stale quants there) still equal
// the scalar twin, which multiplies them by 0.
TEST(SparseKernels, PackedMaskClearsPadding) {
  std::mt19937 rng(17);
  auto w = sparse_rows(DType::Q4_MASK50, 1, 256, rng);
  auto* blk = reinterpret_cast<BlockQ4_Mask50*>(w.data());
  std::memset(blk->mask, 0, sizeof blk->mask);
  blk->mask[0] = 0xFF;  // 8 kept: slots 8 … 127 are padding
  for (auto& v : blk->values) std::memset(v.qs, 0x3C, sizeof v.qs);
  std::vector<uint8_t> packed(w.size());
  repack_weight(view_of(DType::Q4_MASK50, w, 1, 256), packed.data());
  const auto* p = reinterpret_cast<const PackedQ4_MaskBlock<4>*>(packed.data());
  EXPECT_EQ(p->qs[0][0], 0x8C) << "kept slot 0 (low nibble) as stored, padding slot 16 level 0";
  EXPECT_EQ(p->qs[0][8], 0x88) << "slots 8 and 24 are padding";
  EXPECT_EQ(p->qs[3][15], 0x88);
}

// Q4_QMASK62 levels move between the nibble halves when packed: half 0's levels stay the low
// nibbles from byte 0, half 1's (the file's levels c01 …) become the high nibbles from byte 0,
// and 8 fills both past their counts. A weight with one block of 49 kept in a half is not
// repacked (it runs as stored) and repack_weight refuses it.
TEST(SparseKernels, PackedQMask62SplitsTheLevelsByHalf) {
  BlockQ4_QMask62 b{};
  b.mask[0] = 0x07;   // slots 0-2 kept (half 0: 3 levels)
  b.mask[16] = 0x03;  // slots 128-129 kept (half 1: 2 levels)
  b.d[0] = 0x3C00;
  for (int k = 0; k < 48; ++k) b.qs[k] = 0x88;
  b.qs[0] = 0x81, b.qs[1] = 0x82, b.qs[2] = 0x83, b.qs[3] = 0x84, b.qs[4] = 0x85;  // levels 1-5
  std::vector<uint8_t> w(sizeof b);
  std::memcpy(w.data(), &b, sizeof b);
  std::vector<uint8_t> packed(w.size()), back(w.size());
  const TensorView pv = repack_weight(view_of(DType::Q4_QMASK62, w, 1, 256), packed.data());
  const auto* p = reinterpret_cast<const PackedQ4_QMask62Block*>(packed.data());
  EXPECT_EQ(p->qs[0], 0x41) << "level 0 of half 0 low, level 0 of half 1 (file level 3) high";
  EXPECT_EQ(p->qs[1], 0x52);
  EXPECT_EQ(p->qs[2], 0x83) << "half 1 has only 2 levels: 8 above";
  EXPECT_EQ(p->qs[3], 0x88);
  unpack_packed_row(pv, 0, back.data());
  EXPECT_EQ(back, w);

  std::mt19937 rng(18);
  auto big = sparse_rows(DType::Q4_QMASK62, 3, 512, rng, /*packable=*/true);
  auto* last = reinterpret_cast<BlockQ4_QMask62*>(big.data()) + 5;
  std::memset(last->mask, 0, sizeof last->mask);
  std::memset(last->mask, 0xFF, 6);  // 48 kept in word 0 …
  last->mask[8] = 0x01;              // … and 1 in word 1: 49 in half 0
  const TensorView v = view_of(DType::Q4_QMASK62, big, 3, 512);
  for (Isa isa : supported_isas()) EXPECT_FALSE(can_repack(kernel_dispatch_for(isa), v));
  EXPECT_THROW(repack_weight(v, packed.data()), Error);
}

// Every table with packed sparse kernels (the scalar twins; AVX-512 with VBMI2) against the
// scalar twin on the unpacked rows, gemm and vec_dot, bit for bit: odd row and token counts,
// rows of 1, 3, 8 and 22 blocks (a partial 4-block group of lanes), every split of rows into
// gemm calls (as threads split them).
TEST(SparseKernels, PackedEqualsScalarBitForBit) {
  std::mt19937 rng(15);
  int tables = 0;
  for (DType t : kPackedSparseTypes) {
    const FormatKernels* rk = kernel_dispatch_for(Isa::kScalar).find(t);
    for (Isa isa : supported_isas()) {
      const KernelDispatch& kd = kernel_dispatch_for(isa);
      const FormatKernels* fk = packed_kernels(kd, packing_for(t));
      if (fk == nullptr) continue;
      ++tables;
      EXPECT_EQ(fk->packing, packing_for(t));
      for (int64_t n : {256, 768, 2048, 5632}) {
        const int64_t rows = 7, n_tok = 3;
        const auto w = sparse_rows(t, rows, n, rng, /*packable=*/true);
        const TensorView v = view_of(t, w, rows, n);
        ASSERT_TRUE(can_repack(kd, v)) << isa_name(isa);
        std::vector<uint8_t> packed(w.size());
        repack_weight(v, packed.data());
        const size_t rb = v.row_bytes();
        const PreparedActs pa = prepare_acts(*fk, *rk, n, n_tok, rng);
        const uint8_t *act = pa.act, *ref_act = pa.ref;
        const size_t ab = pa.act_bytes, rab = pa.ref_bytes;
        for (int64_t split = 1; split <= rows; ++split) {  // gemm calls of `split` rows each
          std::vector<float> y(rows * n_tok);
          for (int64_t r0 = 0; r0 < rows; r0 += split)
            fk->gemm(n, packed.data() + r0 * rb, rb, std::min(split, rows - r0), act, ab, n_tok,
                     y.data() + r0, rows);
          for (int64_t k = 0; k < n_tok; ++k)
            for (int64_t r = 0; r < rows; ++r) {
              const float want = rk->vec_dot(n, w.data() + r * rb, ref_act + k * rab);
              EXPECT_EQ(std::bit_cast<uint32_t>(y[k * rows + r]), std::bit_cast<uint32_t>(want))
                  << isa_name(isa) << " " << dtype_name(t) << " n=" << n << " row " << r
                  << " split " << split;
              if (split == 1) {
                const float dot = fk->vec_dot(n, packed.data() + r * rb, act + k * ab);
                EXPECT_EQ(std::bit_cast<uint32_t>(dot), std::bit_cast<uint32_t>(want));
              }
            }
        }
      }
    }
  }
  EXPECT_GE(tables, 4) << "the scalar table always has the packed twins";
  const CpuFeatures& cpu = cpu_features();
  if (isa_supported(Isa::kAvx512Vnni) && cpu.avx512_vbmi && cpu.avx512_vbmi2 && cpu.gfni) {
    for (DType t : kPackedSparseTypes)
      EXPECT_NE(packed_kernels(kernel_dispatch_for(Isa::kAvx512Vnni), packing_for(t)), nullptr);
  }
}

// The mask types' activations are ggml's own Q8_K rows on every table (the SIMD tables quantize
// them with act_prep_*): byte for byte quantize_act_q8_k, including an all-zero block, a block
// whose largest magnitude occurs as +m then -m (the first one sets the sign of the scale), and
// quants that round half to even.
TEST(SparseKernels, MaskActivationsAreTheScalarQ8KBytes) {
  std::mt19937 rng(16);
  const int64_t n = 5 * 256;
  std::vector<float> x = random_floats(rng, n);
  std::fill(x.begin() + 256, x.begin() + 512, 0.f);  // block 1: all zero
  x[512 + 7] = 3.f;                                  // block 2: +3 first, then -3
  x[512 + 200] = -3.f;
  for (int i = 0; i < 256; ++i) x[768 + i] = 0.5f * static_cast<float>(i % 255 - 127);  // ties
  x[768 + 3] = -127.f;
  std::vector<BlockQ8_K> want(n / 256);
  quantize_act_q8_k(x.data(), want.data(), n);
  for (Isa isa : simd_isas())
    for (DType t : {DType::Q4_MASK50, DType::Q4_MASK62}) {
      const FormatKernels* fk = kernel_dispatch_for(isa).find(t);
      ASSERT_EQ(fk->act_row_bytes(n), want.size() * sizeof(BlockQ8_K));
      std::vector<BlockQ8_K> got(n / 256);
      fk->prepare_act(x.data(), n, got.data());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(BlockQ8_K)), 0)
          << isa_name(isa) << " " << dtype_name(t);
    }
}

}  // namespace
}  // namespace edgefit::kernels
