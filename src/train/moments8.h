// AdamW's moments in 8 bits per value, block-wise quantized: the scheme of bitsandbytes' 8-bit
// optimizers (Dettmers, Lewis, Shleifer, Zettlemoyer, "8-bit Optimizers via Block-wise
// Quantization", ICLR 2022, arXiv:2110.02861; bitsandbytes' optimizer_update_8bit_blockwise):
// every block of kMomentBlock consecutive values keeps its largest magnitude (absmax) in f32,
// and each value an 8-bit index into a fixed non-linear code of values in [−1, 1] (signed) or
// [0, 1] (unsigned) that is multiplied by the block's absmax.
//
// The code is a "dynamic tree" code in the spirit of Dettmers' "8-Bit Approximations for
// Parallelism in Deep Learning" (arXiv:1511.04561), which bitsandbytes uses for both moments:
// magnitudes in seven decades, 10^−z · (0.1 + 0.9·j/K_z) for z = 0 … 6 and j = 1 … K_z, with
// K_z = 2^(6−z) (signed: a sign bit leaves 7 bits) or 2^(7−z) (unsigned), plus zero. Near the
// absmax the code is fine (steps of 0.9/64 of the absmax signed, 0.9/128 unsigned); small values
// keep a few bits of their own instead of collapsing to zero as a linear int8 code would — which
// matters because one outlier channel sets the absmax of its whole block. Our tables end their
// decades at 10^−z exactly, so 1 (the absmax itself) is a code and the block's largest value
// survives the round trip unchanged.
//
// First moments use the signed code. Second moments are stored as sqrt(v) in the unsigned code:
// the square root halves v's dynamic range (seven decades of sqrt(v) are fourteen of v), and
// Adam divides by sqrt(v), so the code's relative error is the update's relative error.
//
// Quantization rounds to the nearest code (ties to the smaller index), in float, so it is
// deterministic: a checkpoint that stores the codes and absmaxes resumes bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace edgefit::train {

// Values per absmax block: 256, as current bitsandbytes' blockwise optimizer kernels use
// (BLOCKSIZE_2STATE in its csrc/ops.cu; the paper and older releases used 2048). Small blocks
// isolate outliers (a LoRA A row has 2048 input channels, some of them outliers), for 4 bytes of
// scale per 256 values (1.6 %).
inline constexpr int64_t kMomentBlock = 256;

// The two 255-entry code tables, ascending; index = stored byte.
std::span<const float> signed_moment_code();    // −1 … 0 … 1
std::span<const float> unsigned_moment_code();  // 0 … 1

// Which of the two a moment uses: m the signed code, sqrt(v) the unsigned one.
enum class MomentCode { kSigned, kUnsigned };

// One moment tensor in 8 bits.
struct Moment8 {
  std::vector<uint8_t> codes;  // one code index per value
  std::vector<float> absmax;   // one scale per block of kMomentBlock values (0: an all-zero block)

  // A zero moment of `n` values.
  static Moment8 zeros(int64_t n, MomentCode code);
  int64_t size() const { return static_cast<int64_t>(codes.size()); }
};

// Writes values [begin, begin + out.size()) of `m` (within one block) to `out`.
void dequantize_moment_block(const Moment8& m, MomentCode code, int64_t begin,
                             std::span<float> out);

// Stores `values` as the block starting at `begin` of `m`: its absmax, then each value's nearest
// code (ties to the smaller index).
void quantize_moment_block(std::span<const float> values, MomentCode code, int64_t begin,
                           Moment8& m);

}  // namespace edgefit::train
