#include "train/moments8.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace edgefit::train {
namespace {

constexpr int kDecades = 7;  // magnitudes down to 1e-6 of the block's absmax
constexpr int kCodeSize = 255;

// The magnitudes 10^−z · (0.1 + 0.9·j/K_z), K_z = 2^(top − z), j = 1 … K_z, z = 0 … 6,
// ascending (top = 6 signed, 7 unsigned). Computed in double, rounded once to float.
std::vector<float> magnitudes(int top) {
  std::vector<float> out;
  for (int z = kDecades - 1; z >= 0; --z) {
    const int k = 1 << (top - z);
    const double scale = std::pow(10.0, -z);
    for (int j = 1; j <= k; ++j) out.push_back(static_cast<float>(scale * (0.1 + 0.9 * j / k)));
  }
  return out;
}

std::array<float, kCodeSize> make_signed() {
  const std::vector<float> mag = magnitudes(6);  // 127 values
  std::array<float, kCodeSize> code{};
  for (size_t i = 0; i < mag.size(); ++i) {
    code[126 - i] = -mag[i];
    code[128 + i] = mag[i];
  }
  code[127] = 0.0f;
  return code;
}

std::array<float, kCodeSize> make_unsigned() {
  const std::vector<float> mag = magnitudes(7);  // 254 values
  std::array<float, kCodeSize> code{};
  code[0] = 0.0f;
  std::copy(mag.begin(), mag.end(), code.begin() + 1);
  return code;
}

const std::array<float, kCodeSize> kSigned = make_signed();
const std::array<float, kCodeSize> kUnsigned = make_unsigned();

// The index of the code nearest to y (ties to the smaller index) without a binary search: a
// table from the top bits of |y| (exponent and 5 mantissa bits, 4065 buckets over [0, 1]) to
// the largest code magnitude at or below the bucket's smallest value, then a walk of at most a
// few codes (a bucket spans 1/32 of its octave; the code's finest spacing is 0.9/128). `code` is
// ascending and either starts at 0 or is symmetric around 0 (code[zero − k] = −code[zero + k]).
class CodeIndex {
 public:
  explicit CodeIndex(std::span<const float> code)
      : code_(code),
        zero_(static_cast<size_t>(std::find(code.begin(), code.end(), 0.0f) - code.begin())),
        top_(code.size() - 1 - zero_) {
    start_.resize((std::bit_cast<uint32_t>(1.0f) >> kShift) + 1);
    size_t k = 0;
    for (size_t key = 0; key < start_.size(); ++key) {
      const float lower = std::bit_cast<float>(static_cast<uint32_t>(key << kShift));
      while (k < top_ && magnitude(k + 1) <= lower) ++k;
      start_[key] = static_cast<uint8_t>(k);
    }
  }

  uint8_t nearest(float y) const {
    const bool negative = std::signbit(y);
    if (negative && zero_ == 0) return 0;  // an unsigned code: 0 is the nearest
    const float a = std::fabs(y);
    size_t k = top_;
    if (a < 1.0f) {  // also sends NaN to the top code
      k = start_[std::bit_cast<uint32_t>(a) >> kShift];
      while (k < top_ && magnitude(k + 1) <= a) ++k;
      // magnitude(k) <= a < magnitude(k + 1): the nearer one; a tie goes to the smaller index,
      // which is the smaller magnitude for y >= 0 and the larger one for y < 0.
      if (k < top_) {
        const float below = a - magnitude(k), above = magnitude(k + 1) - a;
        if (negative ? above <= below : above < below) ++k;
      }
    }
    return static_cast<uint8_t>(negative ? zero_ - k : zero_ + k);
  }

 private:
  static constexpr int kShift = 18;  // drops all but 5 mantissa bits
  float magnitude(size_t k) const { return code_[zero_ + k]; }

  std::span<const float> code_;  // the code, ascending
  size_t zero_;                  // index of 0 in code_
  size_t top_;                   // magnitudes 0 … top_ above zero_
  std::vector<uint8_t> start_;   // per bucket of |y|: the magnitude to start the walk at
};

const CodeIndex kSignedIndex(kSigned);
const CodeIndex kUnsignedIndex(kUnsigned);

}  // namespace

std::span<const float> signed_moment_code() {
  return kSigned;
}

std::span<const float> unsigned_moment_code() {
  return kUnsigned;
}

Moment8 Moment8::zeros(int64_t n, MomentCode code) {
  Moment8 m;
  m.codes.assign(static_cast<size_t>(n), code == MomentCode::kSigned ? 127 : 0);
  m.absmax.assign(static_cast<size_t>((n + kMomentBlock - 1) / kMomentBlock), 0.0f);
  return m;
}

void dequantize_moment_block(const Moment8& m, MomentCode which, int64_t begin,
                             std::span<float> out) {
  const std::span<const float> code =
      which == MomentCode::kSigned ? signed_moment_code() : unsigned_moment_code();
  const float scale = m.absmax[static_cast<size_t>(begin / kMomentBlock)];
  const uint8_t* c = m.codes.data() + begin;
  for (size_t i = 0; i < out.size(); ++i) out[i] = code[c[i]] * scale;
}

void quantize_moment_block(std::span<const float> values, MomentCode which, int64_t begin,
                           Moment8& m) {
  float absmax = 0.0f;
  for (float x : values) absmax = std::max(absmax, std::fabs(x));
  m.absmax[static_cast<size_t>(begin / kMomentBlock)] = absmax;
  uint8_t* c = m.codes.data() + begin;
  const CodeIndex& index = which == MomentCode::kSigned ? kSignedIndex : kUnsignedIndex;
  if (absmax == 0.0f) {
    std::fill(c, c + values.size(), index.nearest(0.0f));
    return;
  }
  const float inv = 1.0f / absmax;
  for (size_t i = 0; i < values.size(); ++i) {
    // The absmax value itself maps to ±1 exactly (x · (1/x) can be 1 − 2^−24, which the
    // nearest-code search would still send to 1, but say it outright).
    const float y =
        std::fabs(values[i]) == absmax ? std::copysign(1.0f, values[i]) : values[i] * inv;
    c[i] = index.nearest(y);
  }
}

}  // namespace edgefit::train
