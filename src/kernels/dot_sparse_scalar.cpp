// Scalar reference kernels of the sparse types (kernels.h, "The sparse types"), and the
// registration of the sparse slots in every table. The reference gathers the Q8_K activation
// quants at the kept positions of a block (zeros past a mask block's count), then takes each
// value block's exact integer dot with them, as the SIMD kernels do with compress instructions.
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/fp16.h"
#include "kernels/isa_tables.h"
#include "kernels/kernels.h"
#include "kernels/panel.h"
#include "kernels/qmask_act.h"
#include "kernels/sparse_gemm.h"
#include "quant/q_sparse.h"

namespace edgefit::kernels::detail {

using quant::BlockQ4_0;
using quant::BlockQ8_K;

namespace {

// The activations at the 128 kept positions of a 2:4 block, in weight order.
void gather_2of4(const BlockQ4_2of4& w, const int8_t* qs, int8_t* out) {
  for (int g = 0; g < kSparseBlock / 4; ++g) {
    const int nib = (w.idx[g / 2] >> (g % 2 ? 4 : 0)) & 0xF;
    out[2 * g] = qs[4 * g + (nib & 3)];
    out[2 * g + 1] = qs[4 * g + (nib >> 2)];
  }
}

// The activations at a mask block's kept positions, in weight order, then zeros up to capacity.
template <int kCapacity>
void gather_mask(const BlockQ4_Mask<kCapacity>& w, const int8_t* qs, int8_t* out) {
  int k = 0;
  for (int i = 0; i < kSparseBlock && k < kCapacity; ++i)
    if ((w.mask[i / 8] >> (i % 8)) & 1) out[k++] = qs[i];
  while (k < kCapacity) out[k++] = 0;
}

// The canonical sparse dot: value block v of the row (kVB per block) goes to lane v % 16.
template <typename Block, int kVB, void (*Gather)(const Block&, const int8_t*, int8_t*)>
float dot_sparse(int64_t n, const void* w_row, const void* act_row) {
  const auto* w = static_cast<const Block*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  int64_t v = 0;
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    int8_t g[kVB * quant::kQK];
    Gather(w[b], a[b].qs, g);
    for (int j = 0; j < kVB; ++j, ++v) {
      const BlockQ4_0& vb = w[b].values[j];
      const int8_t* x = g + quant::kQK * j;
      int32_t isum = 0;
      for (int i = 0; i < quant::kQK / 2; ++i)
        isum += ((vb.qs[i] & 0xF) - 8) * x[i] + ((vb.qs[i] >> 4) - 8) * x[i + 16];
      const float s = fp16_to_fp32(vb.d) * a[b].d;
      float& lane = acc[v % kLanes];
      lane = std::fma(s, static_cast<float>(isum), lane);
    }
  }
  return reduce16(acc);
}

size_t q8_k_act_bytes(int64_t n) {
  return static_cast<size_t>(n / quant::kQK_K) * sizeof(BlockQ8_K);
}
void prep_q8_k_act(const float* x, int64_t n, void* out) {
  quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n);
}

template <VecDotFn Dot>
constexpr FormatKernels sparse_kernels(DType t) {
  return {
      t, 0, DType::Q8_K, kSparseBlock, q8_k_act_bytes, prep_q8_k_act, Dot, sparse_gemm_rows<Dot>};
}

// Packed rows (kernels.h PackedQ4_2of4Block, PackedQ4_MaskBlock): the row back in ggml's layout,
// then the twin.
template <DType kType, uint8_t kPacking, VecDotFn Plain>
float ref_dot_packed(int64_t n, const void* w, const void* a) {
  const int64_t shape[2] = {1, n};
  TensorView v = TensorView::contiguous(kType, shape, w);
  v.packing = kPacking;
  thread_local std::vector<uint8_t> row;
  row.resize(v.row_bytes());
  unpack_packed_row(v, 0, row.data());
  return Plain(n, row.data(), a);
}

template <DType kType, uint8_t kPacking, VecDotFn Plain>
FormatKernels packed_twin() {
  FormatKernels k = sparse_kernels<ref_dot_packed<kType, kPacking, Plain>>(kType);
  k.packing = kPacking;
  return k;
}

}  // namespace

float ref_dot_q4_2of4(int64_t n, const void* w, const void* a) {
  return dot_sparse<BlockQ4_2of4, 4, gather_2of4>(n, w, a);
}
float ref_dot_q4_mask50(int64_t n, const void* w, const void* a) {
  return dot_sparse<BlockQ4_Mask50, 4, gather_mask<128>>(n, w, a);
}
float ref_dot_q4_mask62(int64_t n, const void* w, const void* a) {
  return dot_sparse<BlockQ4_Mask62, 3, gather_mask<96>>(n, w, a);
}

// Q4_QMASK62 in its canonical order (kernels.h, "The sparse types"): per block, lane l sums the
// exact integer products of the kept slots 64w + 4l … 64w + 4l + 3 of all 4 mask words w (16
// weights of quarter l % 4, q_sparse.h; pruned ones add nothing, as the SIMD kernel's level 8
// minus the activations' 8 · Σ does), then one FMA by quarter l % 4's scale into float lane l.
float ref_dot_q4_qmask62(int64_t n, const void* w_row, const void* act_row) {
  using Q62 = BlockQ4_QMask62;
  const auto* w = static_cast<const Q62*>(w_row);
  const auto* a = static_cast<const BlockQ8_K*>(act_row);
  float acc[kLanes] = {};
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    int32_t isum[kLanes] = {};
    int k = 0;  // kept slots before the current one: its level's index
    for (int slot = 0; slot < kSparseBlock; ++slot)
      if ((w[b].mask[slot / 8] >> (slot % 8)) & 1)
        isum[slot % 64 / 4] += (qmask62_level(w[b], k++) - 8) * a[b].qs[qmask62_position(slot)];
    for (int l = 0; l < kLanes; ++l)
      acc[l] = std::fma(fp16_to_fp32(w[b].d[l % 4]) * a[b].d, static_cast<float>(isum[l]), acc[l]);
  }
  return reduce16(acc);
}

size_t qmask_slot_act_bytes(int64_t n) {
  return static_cast<size_t>(n / kSparseBlock) * sizeof(QMaskSlotAct);
}

void qmask_slot_act_from_q8_k(const BlockQ8_K& q, QMaskSlotAct* out) {
  for (int s = 0; s < kSparseBlock; ++s) out->qs[s] = q.qs[qmask62_position(s)];
  for (int l = 0; l < kLanes; ++l) {
    int32_t sum = 0;
    for (int w = 0; w < 4; ++w)
      for (int i = 0; i < 4; ++i) sum += out->qs[64 * w + 4 * l + i];
    out->start[l] = -8 * sum;
  }
  out->d = q.d;
}

void prep_qmask_slot_act_via(const float* x, int64_t n, void* out, PrepareActFn q8_k) {
  auto* a = static_cast<QMaskSlotAct*>(out);
  for (int64_t b = 0; b < n / kSparseBlock; ++b) {
    BlockQ8_K q;
    q8_k(x + b * kSparseBlock, kSparseBlock, &q);
    qmask_slot_act_from_q8_k(q, &a[b]);
  }
}
void prep_qmask_slot_act(const float* x, int64_t n, void* out) {
  prep_qmask_slot_act_via(x, n, out, prep_q8_k_act);
}

void add_sparse_kernels(KernelDispatch& kd) {
  using S = KernelSlot;
  kd.set(S::kQ4_2of4, sparse_kernels<ref_dot_q4_2of4>(DType::Q4_2OF4))
      .set(S::kQ4_Mask50, sparse_kernels<ref_dot_q4_mask50>(DType::Q4_MASK50))
      .set(S::kQ4_Mask62, sparse_kernels<ref_dot_q4_mask62>(DType::Q4_MASK62))
      .set(S::kQ4_QMask62, sparse_kernels<ref_dot_q4_qmask62>(DType::Q4_QMASK62));
  // The packed layouts pay only where the AVX-512 kernels read them (below); the scalar table
  // has their twins, as for every packing, so the tests can compare against them.
  if (kd.isa == Isa::kScalar) {
    kd.set(S::kQ4_2of4x1, packed_twin<DType::Q4_2OF4, kPackingQ4_2of4x1, ref_dot_q4_2of4>())
        .set(S::kQ4_Mask50x1,
             packed_twin<DType::Q4_MASK50, kPackingQ4_Mask50x1, ref_dot_q4_mask50>())
        .set(S::kQ4_Mask62x1,
             packed_twin<DType::Q4_MASK62, kPackingQ4_Mask62x1, ref_dot_q4_mask62>())
        .set(S::kQ4_QMask62x1,
             packed_twin<DType::Q4_QMASK62, kPackingQ4_QMask62x1, ref_dot_q4_qmask62>());
  }
#if defined(__x86_64__)
  // Every x86 SIMD table runs only where AVX2 does: the AVX2 2:4 kernel (table gathers) serves
  // them all; AVX-512 hosts with VBMI2 (vpcompressb gathers) and VBMI (vpermb places them: Ice
  // Lake, Sapphire Rapids, Zen 4) get the AVX-512 kernels of every sparse type instead.
  // Q4_QMASK62 expands each mask byte's levels with one pshufb control on AVX2 (vpexpandb per
  // mask word on AVX-512 VBMI2).
  const CpuFeatures& cpu = cpu_features();
  if (kd.isa != Isa::kScalar) {
    kd.set(S::kQ4_2of4, avx2_sparse_2of4_kernels(kd.at(S::kQ4_2of4)));
    for (const S s : {S::kQ4_Mask50, S::kQ4_Mask62}) kd.set(s, avx2_sparse_mask_kernels(kd.at(s)));
    kd.set(S::kQ4_QMask62, avx2_sparse_qmask62_kernels(kd.at(S::kQ4_QMask62)));
  }
  if ((kd.isa == Isa::kAvx512Vnni || kd.isa == Isa::kAvx512Amx) && cpu.avx512_vbmi2 &&
      cpu.avx512_vbmi && cpu.gfni) {
    for (const S s : {S::kQ4_2of4, S::kQ4_Mask50, S::kQ4_Mask62, S::kQ4_2of4x1, S::kQ4_Mask50x1,
                      S::kQ4_Mask62x1, S::kQ4_QMask62, S::kQ4_QMask62x1})
      kd.set(s, avx512_sparse_kernels(s));
  }
#endif
#if defined(__aarch64__)
  if (kd.isa == Isa::kNeon || kd.isa == Isa::kNeonDotprod) {
    kd.set(S::kQ4_2of4, neon_sparse_2of4_kernels(kd.at(S::kQ4_2of4)));
    for (const S s : {S::kQ4_Mask50, S::kQ4_Mask62}) kd.set(s, neon_sparse_mask_kernels(kd.at(s)));
    const FormatKernels& twin = kd.at(S::kQ4_QMask62);
    kd.set(S::kQ4_QMask62, kd.isa == Isa::kNeonDotprod ? neon_dotprod_sparse_qmask62_kernels(twin)
                                                       : neon_sparse_qmask62_kernels(twin));
  }
#endif
}

}  // namespace edgefit::kernels::detail
