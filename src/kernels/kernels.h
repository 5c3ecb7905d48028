// Fast CPU matrix products for the forward pass: activation quantization on the fly (ggml's Q8_0 /
// Q8_K), integer dot products per weight format and ISA, and a threaded, tiled matmul.
//
// One `KernelDispatch` table of function pointers exists per instruction set (ONNX Runtime MLAS
// style), an array indexed by KernelSlot (one slot per weight format and packing).
// `kernel_dispatch()` picks the best one the CPU supports once, at first use (or the one named by
// EDGEFIT_ISA=scalar|avx2|avxvnni|avx512vnni|avx512amx|neon|neon-dotprod); `kernel_dispatch_for()`
// gives any supported one in-process, so one test binary checks every path against the scalar
// reference.
//
// Numerics. Each quantized kernel computes, per sub-block of 32 weights (16 for Q2_K, Q3_K, Q6_K),
// the exact integer dot product of the weight levels with the int8 activations, then accumulates
// in float in ONE canonical order that every ISA and every tile shape reproduces bit for bit:
// sub-block k of a row goes to float lane k % 16 (32-weight formats: block k; Q4_K, Q5_K: lane =
// sub-block index within a 2-super-block chunk; Q2_K, Q3_K, Q6_K: the 16 sub-blocks of one
// super-block), lane += (weight scale · activation scale) · isum as one fused multiply-add, then
// for the formats with a min term one more fused step: Q2_K, Q4_K, Q5_K lane -= (dmin · activation
// scale) · (sub-block min · Σ activations), Q4_1, Q5_1 lane += (block m · activation scale) ·
// Σ activations; and the 16 lanes are folded in halves the way a 512-bit register is reduced:
// 16 → 8 → 4 → 2 → 1 (panel.h reduce16). So the scalar, AVX2, AVX-VNNI, AVX-512 VNNI, NEON and
// NEON-dotprod kernels give identical floats, the gemv and gemm paths agree, and the thread count
// never changes a result. ggml pairs Q4_1/Q5_1 with Q8_1 activations, Q8_0's quants and scale plus
// s = fp16(d · Σq); the exact integer Σq is used here instead (the same blocks' quants), so their
// activations are Q8_0 blocks (act_type Q8_0). Float weights (F32/F16/BF16) use plain FMA dot
// products whose summation order differs per ISA (results agree to ~1e-6 relative).
//
// Every weight format any preset writes (quant/presets.h, odd-row fallbacks included) has kernels
// in every table (tests/kernels/kernels_presets_test.cpp); the dequantize-then-f32 fallback in
// matmul.cpp remains for GGUF types with a dequantizer but no kernel (today Q8_K weights only).
//
// The sparse types (Q4_2OF4, Q4_MASK50, Q4_MASK62; quant/q_sparse.h) store the kept weights of a
// 256-block as Q4_0 "value blocks" of 32 kept values each (4, 4 and 3 per block). Their kernels
// gather the activations at the kept positions (2:4 index or bitmask; zeros past a mask block's
// count) and take each value block's exact integer dot with them; activations are Q8_K (one
// scale per 256-block, so a value block's kept values, which span a variable number of 32-weight
// blocks, share one activation scale). Value block v of a row (counted across the row) goes to
// lane v % 16: lane += (fp16 d_v · activation d) · isum, then reduce16 as everywhere.
// Q4_QMASK62 has no value blocks but one scale per 64-weight quarter and its mask and levels in
// slot order (q_sparse.h), so its kernels expand each mask word's levels into slot order instead
// (level 8 where pruned) and need no gather: per block, lane l sums the exact integer dot of the
// kept slots 64w + 4l … 64w + 4l + 3 of all 4 words w (16 weights of quarter l % 4;
// Σ (level − 8) · quant), lane l += (fp16 d_{l % 4} · activation d) · isum, then reduce16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/dtype.h"
#include "core/tensor.h"
#include "quant/block_formats.h"

namespace edgefit {

class ThreadPool;

namespace kernels {

// Instruction sets with a kernel table. Ordered from least to most capable per architecture.
enum class Isa : int {
  kScalar = 0,       // portable C++: the bit-exact reference
  kAvx2 = 1,         // x86-64 AVX2 + FMA + F16C (maddubs/madd int8 dots)
  kAvxVnni = 2,      // x86-64 AVX2 + AVX-VNNI (256-bit VEX vpdpbusd; Alder Lake and later)
  kAvx512Vnni = 3,   // x86-64 AVX-512 F/BW/VL + VNNI (512-bit vpdpbusd)
  kNeon = 4,         // aarch64 Advanced SIMD without the dot-product extension
  kNeonDotprod = 5,  // aarch64 with ARMv8.2 dotprod (sdot / vdotq_s32)
  kAvx512Amx = 6,    // x86-64 AVX-512 VNNI + AMX-INT8 tiles for prefill (amx_tiles.h, gemm_amx.cpp)
};

inline constexpr int kNumIsas = 7;

// "scalar", "avx2", "avxvnni", "avx512vnni", "neon", "neon-dotprod", "avx512amx".
const char* isa_name(Isa isa);
// Inverse of isa_name; nullopt for an unknown name.
std::optional<Isa> isa_from_name(std::string_view name);
// True when this binary has kernels for `isa` AND the running CPU can execute them.
bool isa_supported(Isa isa);
// The most capable supported ISA.
Isa best_isa();

// Bytes of one prepared activation row of n elements (see FormatKernels::prepare_act).
using ActRowBytesFn = size_t (*)(int64_t n);
// Quantizes (or copies) n floats into one prepared activation row, laid out for this ISA's kernels.
using PrepareActFn = void (*)(const float* x, int64_t n, void* act_row);
// Dot product of one weight row (n elements, the format's raw bytes) with one prepared activation.
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* act_row);
// y[t * y_stride + r] = dot(weight row r, activation row t) for r < n_rows, t < n_tok. Weight rows
// are w_stride bytes apart, prepared activation rows act_stride bytes apart (from prepare_act).
// Single-threaded: the caller splits rows over threads. Results equal vec_dot's bit for bit.
using GemmFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* act,
                        size_t act_stride, int64_t n_tok, float* y, int64_t y_stride);

// One slot of a kernel table per (weight format, packing): the table is an array indexed by
// slot, each ISA file registers its entries by slot (KernelDispatch::set), and a test checks that
// every entry's weight_type and packing are its slot's (kernel_slot_info), so a kernel registered
// under another format's slot fails a test instead of computing garbage.
enum class KernelSlot : int {
  kQ8_0,     // Q8_0 weights × Q8_0 activations
  kQ4_0,     // Q4_0 weights × Q8_0 activations
  kQ4_1,     // Q4_1 weights × Q8_0 activations (ggml: Q8_1, see kernels.h top)
  kQ5_0,     // Q5_0 weights × Q8_0 activations
  kQ5_1,     // Q5_1 weights × Q8_0 activations (ggml: Q8_1)
  kIQ4_NL,   // IQ4_NL weights × Q8_0 activations
  kQ2_K,     // Q2_K weights × Q8_K activations
  kQ3_K,     // Q3_K weights × Q8_K activations
  kQ4_K,     // Q4_K weights × Q8_K activations
  kQ5_K,     // Q5_K weights × Q8_K activations
  kQ6_K,     // Q6_K weights × Q8_K activations
  kF16,      // F16 weights × F32 activations
  kBF16,     // BF16 weights × F32 activations
  kF32,      // F32 weights × F32 activations
  kQ4_0x16,  // Q4_0 as PackedQ4_0Chunk rows
  kQ8_0x16,  // Q8_0 as PackedQ8_0Chunk rows
  kQ4_Kx2,   // Q4_K as PackedQ4_KChunk rows
  kQ6_Kx1,   // Q6_K as PackedQ6_KChunk rows
  kF16x4,    // F16 in interleaved groups of 4 rows
  kBF16x4,   // BF16 in interleaved groups of 4 rows
  kF32x4,    // F32 in interleaved groups of 4 rows
  // edgefit's sparse types (quant/q_sparse.h, dot_sparse_*.cpp) × Q8_K activations
  kQ4_2of4,    // Q4_2OF4 weights
  kQ4_Mask50,  // Q4_MASK50 weights
  kQ4_Mask62,  // Q4_MASK62 weights
  kQ4_2of4x1,  // Q4_2OF4 as PackedQ4_2of4Block rows

  kQ4_Mask50x1,   // Q4_MASK50 as PackedQ4_MaskBlock<4> rows
  kQ4_Mask62x1,   // Q4_MASK62 as PackedQ4_MaskBlock<3> rows
  kQ4_QMask62,    // Q4_QMASK62 weights (as stored)
  kQ4_QMask62x1,  // Q4_QMASK62 as PackedQ4_QMask62Block rows (slot halves of ≤ 48 kept)
};
inline constexpr int kNumKernelSlots = static_cast<int>(KernelSlot::kQ4_QMask62x1) + 1;

// What a slot holds: the kernels of weight_type stored with packing (0 = ggml's layout).
struct KernelSlotInfo {
  DType weight_type;  // the weight format of the slot's kernels
  uint8_t packing;    // TensorView::packing of the weights they read (0: ggml's layout)
  const char* name;   // "q4_k", "q4_0_x16", … for test messages and benchmarks
};
KernelSlotInfo kernel_slot_info(KernelSlot slot);
// The slot of weights of type t stored with `packing`, or nullopt when no slot exists (formats
// that only the dequantize fallback reads).
std::optional<KernelSlot> kernel_slot(DType t, uint8_t packing = 0);

// The kernels of one weight format (and packing) on one ISA.
struct FormatKernels {
  DType weight_type = DType::F32;         // the weight format these kernels read
  uint8_t packing = 0;                    // the weight layout they read (kernels.h, 0 = ggml's)
  DType act_type = DType::F32;            // activation blocks they quantize to (Q8_0, Q8_K, F32)
  int block_size = 1;                     // n must be a multiple of this (the weight block size)
  ActRowBytesFn act_row_bytes = nullptr;  // size of a prepared activation row
  PrepareActFn prepare_act = nullptr;     // f32 → prepared activation row
  VecDotFn vec_dot = nullptr;             // one row · one activation row (nullptr for packings
                                          // that interleave rows: no row stands alone there)
  GemmFn gemm = nullptr;                  // rows × tokens, tiled (nullptr: the slot is empty)
};

// Every kernel of one ISA. Chosen once at start-up; never changes afterwards.
struct KernelDispatch {
  Isa isa = Isa::kScalar;                     // which instruction set this table uses
  const char* isa_name = "scalar";            // isa_name(isa), for logs and benchmarks
  FormatKernels slots[kNumKernelSlots] = {};  // by KernelSlot; gemm == nullptr where this ISA has
                                              // no kernels for the slot (packed slots on ISAs
                                              // where repacking does not pay: weights are then
                                              // read as stored)

  // Registers the kernels of one slot (the ISA files' builder): kd.set(KernelSlot::kQ4_0, …).
  KernelDispatch& set(KernelSlot slot, const FormatKernels& k) {
    slots[static_cast<int>(slot)] = k;
    return *this;
  }
  // The entry of a slot (possibly empty).
  const FormatKernels& at(KernelSlot slot) const { return slots[static_cast<int>(slot)]; }
  // The kernels for a weight type in ggml's layout, or nullptr when this table has none (other
  // formats fall back to dequantize-then-f32 inside kernels_matmul).
  const FormatKernels* find(DType weight_type) const;
  // The kernels for a weight view: find(dtype) for the ggml layout, the packed-format kernels for
  // a repacked view (nullptr when this table cannot read that packing).
  const FormatKernels* find(const TensorView& w) const;
};

// The process-wide table: EDGEFIT_ISA if set (throws edgefit::Error when that ISA is unknown or
// unsupported here), else best_isa(). Selected once, on first call.
const KernelDispatch& kernel_dispatch();
// The table of a specific ISA; throws edgefit::Error when it is not supported on this CPU/binary.
const KernelDispatch& kernel_dispatch_for(Isa isa);

// ---------------------------------------------------------------- weight repacking at load time
//
// ggml rows store one block after another; the int8 kernels want, for 16 sub-blocks at a time,
// "bytes 4g..4g+3 of every sub-block" side by side (panel.h), which costs the AVX-512 gemv about
// half its instructions in shuffles. Repacking stores each chunk of 16 sub-blocks already
// regrouped, in exactly the same bytes, so decode reads no more memory but the kernel only loads,
// masks and shifts. Done once at load (Transformer::repack_weights) for Q4_0, Q8_0, Q4_K and Q6_K
// weights on ISAs whose table has packed kernels. A row's last blocks that do not fill a chunk
// stay in ggml's layout at the same offset.
//
// Float weights (F16, BF16, F32) have no sub-blocks to regroup, but their decode kernel runs 4
// rows side by side (4 independent FMA chains; one row alone is FMA-latency bound), and 4 rows a
// whole row apart in memory are 4 short streams that the hardware prefetcher follows badly. Their
// packing interleaves each group of 4 rows in runs of 16 weights, so the same 4-row kernel reads
// ONE stream, in the same lane order (results bit-identical to the unpacked rows). Measured
// (Zen 4, 2 threads, synth tinyllama-1.1b f16, alternating with the unpacked build) decode
// 81-84 % → 90-93 % of the read roofline at 35 GB/s, 56-64 % → 80-82 % at 61 GB/s.
// The unit of such a view is a group: its rows are interleaved, so kernels take it 4 rows at a
// time (row counts a multiple of 4, row widths a multiple of 16).

// TensorView::packing values (0 = ggml's layout).
inline constexpr uint8_t kPackingQ4_0x16 = 1;    // Q4_0 rows of PackedQ4_0Chunk
inline constexpr uint8_t kPackingQ8_0x16 = 2;    // Q8_0 rows of PackedQ8_0Chunk
inline constexpr uint8_t kPackingQ4_Kx2 = 3;     // Q4_K rows of PackedQ4_KChunk
inline constexpr uint8_t kPackingQ6_Kx1 = 4;     // Q6_K rows of PackedQ6_KChunk
inline constexpr uint8_t kPackingF16x4 = 5;      // F16, groups of 4 rows interleaved (below)
inline constexpr uint8_t kPackingBF16x4 = 6;     // BF16, likewise
inline constexpr uint8_t kPackingF32x4 = 7;      // F32, likewise
inline constexpr uint8_t kPackingQ4_2of4x1 = 8;  // Q4_2OF4 rows of PackedQ4_2of4Block

inline constexpr uint8_t kPackingQ4_Mask50x1 = 9;    // Q4_MASK50 rows of PackedQ4_MaskBlock<4>
inline constexpr uint8_t kPackingQ4_Mask62x1 = 10;   // Q4_MASK62 rows of PackedQ4_MaskBlock<3>
inline constexpr uint8_t kPackingQ4_QMask62x1 = 11;  // Q4_QMASK62 rows of PackedQ4_QMask62Block

// The row-interleaved float layout: rows 4g…4g+3 occupy the bytes of those 4 rows, as runs of
// kInterleaveRun weights, run-major: run b of row 4g+r (weights 16b…16b+15) is at element
// 16·(4b + r) of the group. A 512-bit load of run b, row r is one converted FMA operand.
inline constexpr int kInterleaveRows = 4;
inline constexpr int kInterleaveRun = 16;

// Every packed chunk stores its scales first. The kernel loads a chunk's scales before its
// quants, and reading each chunk in address order keeps one thread's stream ahead of the hardware
// prefetcher: measured (Zen 4, one thread, packed Q8_0 gemv over 1 GB) 21-25 GB/s with the scales
// last against 26-30 GB/s with them first, beside a plain read loop's 28-33.

// 16 consecutive Q4_0 blocks of one row (512 weights), interleaved.
struct PackedQ4_0Chunk {
  uint16_t d[16];        // fp16 scale of block l
  uint8_t qs[4][16][4];  // [g][l][k] = byte 4g+k of block l's qs: low nibble = weight 4g+k of
                         // block l (level + 8), high nibble = weight 16+4g+k
};
static_assert(sizeof(PackedQ4_0Chunk) == 16 * sizeof(quant::BlockQ4_0), "same bytes as 16 blocks");

// 16 consecutive Q8_0 blocks of one row (512 weights), interleaved.
struct PackedQ8_0Chunk {
  uint16_t d[16];        // fp16 scale of block l
  uint8_t qs[8][16][4];  // [g][l][k] = quant 4g+k of block l, stored as quant XOR 0x80 (= level
                         // + 128 as u8: the unsigned operand of vpdpbusd as is)
};
static_assert(sizeof(PackedQ8_0Chunk) == 16 * sizeof(quant::BlockQ8_0), "same bytes as 16 blocks");

// 2 consecutive Q4_K super-blocks of one row (512 weights); lane l = sub-block l % 8 of
// super-block l / 8, as the kernels' lanes.
struct PackedQ4_KChunk {
  uint16_t d[2];         // fp16 super-scales of the two super-blocks
  uint16_t dmin[2];      // fp16 super-mins of the two super-blocks
  uint8_t sc[16];        // bits 0-5: 6-bit scale of sub-block l; bits 6-7: bits 0-1 of its min
  uint8_t m_hi[8];       // bits 2-5 of the min of sub-block l, as nibbles of one little-endian
                         // 64-bit word: l = 2j at bits 4j…4j+3, l = 2j+1 at bits 32+4j…32+4j+3
                         // (one broadcast and one 64-bit rotate puts each in its lane)
  uint8_t qs[4][16][4];  // [g][l][k]: low nibble = level of weight 4g+k of sub-block l, high
                         // nibble = weight 16+4g+k (as PackedQ4_0Chunk, without offset)
};
static_assert(sizeof(PackedQ4_KChunk) == 2 * sizeof(quant::BlockQ4_K), "same bytes as 2 blocks");

// 1 Q6_K super-block (256 weights); lane l = sub-block l of 16 weights, as the kernels' lanes.
// ggml scatters each weight's low nibble and top 2 bits over ql/qh so that unpacking a group
// takes permutes and variable shifts; here every group is one load, a shift and a mask.
struct PackedQ6_KChunk {
  uint16_t d;            // fp16 super-scale, as in the block
  int8_t scales[16];     // sub-block scales, as in the block
  uint8_t ql[2][16][4];  // [p][l][k]: low nibble = low 4 bits of weight 4p+k of sub-block l
                         // (level + 32), high nibble = those of weight 4(p+2)+k
  uint8_t qh[16][4];     // [l][k]: bits 2g..2g+1 = top 2 bits of weight 4g+k of sub-block l
};
static_assert(sizeof(PackedQ6_KChunk) == sizeof(quant::BlockQ6_K), "same bytes as 1 block");

// 1 Q4_2OF4 block (256 weights) laid out for the AVX-512 expand kernel (dot_sparse_avx512.cpp).
// The kernel never gathers: it expands the kept levels into their positions (vpexpandb under a
// 64-bit mask, the pruned positions filled with 8 = level 0) and takes a dense vpdpbusd with the
// activations as they are. Register k (0-3) of a block covers, in dword lane l, the 2:4 group
// 4k + l / 4 of quarter l % 4 (weights 64(l % 4) + 16k + 4(l / 4) … + 3), so lane l only ever
// holds products of value block l % 4 (quarter v keeps exactly the 32 values of value block v)
// and a block reduces with two lane swaps. The 2:4 index becomes the 4 masks (2 bits of every 4
// set: the same information, bijective on valid nibbles); each register keeps exactly 32, so the
// nibbles need no variable offsets.
struct PackedQ4_2of4Block {
  uint16_t d[4];      // fp16 scale of value block v (the block's values[v].d)
  uint64_t mask[4];   // [k]: bit 4l + j set = weight 64(l % 4) + 16k + 4(l / 4) + j kept
  uint8_t qs[2][32];  // [h][t]: low nibble = level (+ 8) of the t-th kept weight of register
                      // 2h, high nibble = of register 2h + 1 (kept weights in mask bit order)
};
static_assert(sizeof(PackedQ4_2of4Block) == 104, "same bytes as 1 BlockQ4_2of4");

// 1 Q4_MASK50 (kVB = 4) or Q4_MASK62 (kVB = 3) block for the AVX-512 mask kernel: the same bytes,
// the scales first and the value blocks' nibbles without the scales between them, so that one
// load gives 128-bit lane v = value block v's 16 nibble bytes (lane layout: dword lane 4v + k =
// kept values 4k … 4k + 3 and 16 + 4k … of value block v). Padding slots past the block's count
// hold level 0 (nibble 8) after repacking whatever the file had there, so their products vanish
// whatever the kernel's gathered bytes hold (the scalar twin multiplies them by 0).
template <int kVB>
struct PackedQ4_MaskBlock {
  uint16_t d[kVB];      // fp16 scale of value block v
  uint8_t mask[32];     // the block's 256-bit mask, as stored (bit set = weight kept)
  uint8_t qs[kVB][16];  // value block v's Q4_0 nibbles, as stored
};
static_assert(sizeof(PackedQ4_MaskBlock<4>) == 104 && sizeof(PackedQ4_MaskBlock<3>) == 86,
              "same bytes as 1 BlockQ4_Mask50 / BlockQ4_Mask62");

// 1 Q4_QMASK62 block for the AVX-512 direct-expand kernel (dot_qmask_avx512.cpp), only for
// blocks whose slot halves keep at most 48 each (mask words 0-1 = slots 0-127 = weights
// 64q + 0 … 64q + 31 of every quarter q, words 2-3 the other 32 of each quarter). The file keeps
// levels in one run of kept slots split 48 / 48 over the nibbles, so a mask word's levels may
// start in the low nibbles and end in the high ones, and the as-stored kernel first unpacks them
// to bytes in a ring. Here half 0's levels are the low nibbles and half 1's the high nibbles,
// each from byte 0: word 0 expands from byte 0, word 1 from byte c0, word 2 from byte 0 and word
// 3 from byte c2 (c = the word's kept count), straight from the block with vpexpandb, then one
// and (one shift and one and) per word. Same bytes, scales and mask as stored; a weight whose
// blocks do not all fit is not repacked (can_repack) and runs as stored.
struct PackedQ4_QMask62Block {
  uint8_t mask[32];  // as stored (bit s set = the weight of slot s kept)
  uint16_t d[4];     // as stored: fp16 scale of each 64-weight quarter
  uint8_t qs[48];    // byte j: low nibble = level j of half 0, high = level j of half 1 (slot
                     // order within the half; 8 = level 0 past the half's count)
};
static_assert(sizeof(PackedQ4_QMask62Block) == 88, "same bytes as 1 BlockQ4_QMask62");

// The packing repacking gives a ggml weight type (0: none exists), weights per packed chunk of
// one row, and rows per packing group (1, or kInterleaveRows for the float packings).
uint8_t packing_for(DType t);
int64_t packed_chunk_weights(uint8_t packing);
int packing_group_rows(uint8_t packing);
// Kernels of table kd for a packing (nullptr when it has none).
const FormatKernels* packed_kernels(const KernelDispatch& kd, uint8_t packing);

// True when `w` can be repacked for table `kd` (2-D contiguous weight in ggml layout of a type
// with a packing, rows of at least one chunk, whole groups of rows, and kd has kernels for that
// packing).
bool can_repack(const KernelDispatch& kd, const TensorView& w);
// Writes the repacked bytes of `w` (w.nbytes() of them) to dst; returns a view of dst with the
// shape of w and packing set. Throws Error for a weight of a type without a packing, not 2-D, not
// contiguous, already packed, or (float packings) rows not in whole groups of 16-weight runs.
TensorView repack_weight(const TensorView& w, uint8_t* dst);
// The inverse, one row: row r of a packed view → its ggml bytes (w.row_bytes() of them; tests,
// the scalar kernels).
void unpack_packed_row(const TensorView& packed, int64_t r, void* out);

// ggml's CPU activation quantizers (x86 path of ggml-cpu-quants.c, b4748):
// Q8_0: per 32 values d = amax/127, q = round-half-even(x · (127/amax)), d stored as fp16;
// Q8_K: ggml's quantize_row_q8_K_ref (iscale = -127/max, nearest_int, bsums). n: whole blocks.
void quantize_act_q8_0(const float* x, quant::BlockQ8_0* y, int64_t n);
void quantize_act_q8_k(const float* x, quant::BlockQ8_K* y, int64_t n);

// kernels_matmul with an explicit table and pool (tests, benchmarks). pool == nullptr: the global
// pool. Falls back to dequantize + f32 for formats the table has no kernels for.
void matmul_with(const KernelDispatch& kd, const TensorView& w, const float* x, int64_t n_tokens,
                 float* y, ThreadPool* pool = nullptr);
// ys[i] = x · ws[i]ᵀ for every i, as one parallel job (same input width; any mix of formats).
// Results equal separate matmul_with calls bit for bit.
void matmul_multi_with(const KernelDispatch& kd, std::span<const TensorView* const> ws,
                       const float* x, int64_t n_tokens, std::span<float* const> ys,
                       ThreadPool* pool = nullptr);

}  // namespace kernels

// y[t * n_out + o] = Σ_i W[o, i] · x[t * n_in + i]: the forward pass's MatmulFn (model/matmul.h),
// on kernel_dispatch() and ThreadPool::global() (a MatmulChoice's `fn`, e.g. in tests).
void kernels_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y);
// Several products of the same input through matmul_multi_with, on the process-wide table/pool.
void kernels_matmul_multi(std::span<const TensorView* const> ws, const float* x, int64_t n_tokens,
                          std::span<float* const> ys);

}  // namespace edgefit
