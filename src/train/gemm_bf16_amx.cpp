// Training's bf16 product table for AMX-BF16 (train/gemm_bf16.h): tdpbf16ps on blocks of
// 32 × 32 (four C tiles; 16-row and 16-column strips at the edges) stepping 16 k pairs at a time;
// the packed layouts of gemm_bf16.h are exactly AMX's (A rows of 16 pairs = 64 bytes, B rows of 16
// columns' pairs = 64 bytes), so tiles load straight from them. What is left over (rows past the
// last multiple of 16, columns past the last of 16, k pairs past the last of 16) goes through the
// AVX-512 table. Float order: fixed by the shapes (the split into AMX blocks and leftovers
// depends on m, n and k only), so deterministic for any thread count; AMX adds each pair's even
// product before the odd one, the scalar twin the reverse, hence "equal within float-order
// tolerance".
#include <immintrin.h>

#include <cstdint>

#include "kernels/amx_tiles.h"
#include "train/gemm_bf16.h"

namespace edgefit::train {
namespace {

// Every tile is 16 rows of 64 bytes: C 16 rows × 16 f32, A 16 rows × 16 pairs, B 16 pairs × 16
// columns' pairs. block() uses tmm0, tmm1 (C), tmm2 (A), tmm3, tmm4 (B); block_2x2() tmm0-3 (C),
// tmm4, tmm5 (A), tmm6, tmm7 (B).
void load_config() {
  kernels::TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// C[16 rows, 16 or 32 columns] (+)= A[16 rows, kp pairs] · B[kp pairs, columns], kp a multiple
// of 16. Strides in bytes.
void block(int64_t kp, const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, float* c,
           int64_t ldc, bool two, bool accumulate) {
  const int64_t sa = lda * 4, sb = ldb * 4, sc = ldc * 4;
  if (accumulate) {
    _tile_loadd(0, c, sc);
    if (two) _tile_loadd(1, c + 16, sc);
  } else {
    _tile_zero(0);
    _tile_zero(1);
  }
  for (int64_t p = 0; p < kp; p += 16) {
    _tile_loadd(2, a + p, sa);
    _tile_loadd(3, b + p * ldb, sb);
    _tile_dpbf16ps(0, 2, 3);
    if (two) {
      _tile_loadd(4, b + p * ldb + 16, sb);
      _tile_dpbf16ps(1, 2, 4);
    }
  }
  _tile_stored(0, c, sc);
  if (two) _tile_stored(1, c + 16, sc);
}

// C[32 rows, 32 columns] (+)= A · B: four C tiles, each A and B tile loaded once per k step for
// two products (half the loads of block() per product).
void block_2x2(int64_t kp, const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, float* c,
               int64_t ldc, bool accumulate) {
  const int64_t sa = lda * 4, sb = ldb * 4, sc = ldc * 4;
  float* c1 = c + 16 * ldc;
  if (accumulate) {
    _tile_loadd(0, c, sc);
    _tile_loadd(1, c + 16, sc);
    _tile_loadd(2, c1, sc);
    _tile_loadd(3, c1 + 16, sc);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t p = 0; p < kp; p += 16) {
    _tile_loadd(4, a + p, sa);
    _tile_loadd(5, a + 16 * lda + p, sa);
    _tile_loadd(6, b + p * ldb, sb);
    _tile_loadd(7, b + p * ldb + 16, sb);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, sc);
  _tile_stored(1, c + 16, sc);
  _tile_stored(2, c1, sc);
  _tile_stored(3, c1 + 16, sc);
}

void nn(int64_t m, int64_t n, int64_t k_pairs, const uint32_t* a, int64_t lda, const uint32_t* b,
        int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  const Bf16GemmTable& avx = bf16_gemm_table_avx512();
  const int64_t m16 = m / 16 * 16, n16 = n / 16 * 16, kp16 = k_pairs / 16 * 16;
  if (m16 == 0 || n16 == 0 || kp16 == 0) {
    avx.nn(m, n, k_pairs, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  load_config();
  const int64_t m32 = m16 / 32 * 32, n32 = n16 / 32 * 32;
  for (int64_t i = 0; i < m32; i += 32)
    for (int64_t j = 0; j < n32; j += 32)
      block_2x2(kp16, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, accumulate);
  // The 16-row strip and the 16-column strip the 32 × 32 blocks leave.
  for (int64_t i = m32; i < m16; i += 16)
    for (int64_t j = 0; j < n16; j += 32)
      block(kp16, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, j + 32 <= n16, accumulate);
  if (n32 < n16)
    for (int64_t i = 0; i < m32; i += 16)
      block(kp16, a + i * lda, lda, b + n32, ldb, c + i * ldc + n32, ldc, false, accumulate);
  _tile_release();  // the tile state is large: do not keep it across context switches
  // The leftovers: k pairs past kp16 on the AMX blocks, the columns past n16 (all rows), the rows
  // past m16 (the first n16 columns).
  if (kp16 < k_pairs)
    avx.nn(m16, n16, k_pairs - kp16, a + kp16, lda, b + kp16 * ldb, ldb, c, ldc, true);
  if (n16 < n) avx.nn(m, n - n16, k_pairs, a, lda, b + n16, ldb, c + n16, ldc, accumulate);
  if (m16 < m)
    avx.nn(m - m16, n16, k_pairs, a + m16 * lda, lda, b, ldb, c + m16 * ldc, ldc, accumulate);
}

}  // namespace

const Bf16GemmTable& bf16_gemm_table_amx() {
  const Bf16GemmTable& avx = bf16_gemm_table_avx512();
  static const Bf16GemmTable table{avx.pack_b, nn, avx.pack_b_quant, "amxbf16"};
  return table;
}

}  // namespace edgefit::train
