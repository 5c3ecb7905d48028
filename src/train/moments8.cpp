#include "train/moments8.h"

#include <algorithm>
#include <array>
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

// Index of the code nearest to y (ties to the smaller index).
uint8_t nearest_code(std::span<const float> code, float y) {
  const auto it = std::lower_bound(code.begin(), code.end(), y);
  if (it == code.begin()) return 0;
  if (it == code.end()) return static_cast<uint8_t>(code.size() - 1);
  const size_t hi = static_cast<size_t>(it - code.begin());
  return static_cast<uint8_t>(y - code[hi - 1] <= code[hi] - y ? hi - 1 : hi);
}

}  // namespace

std::span<const float> signed_moment_code() {
  return kSigned;
}

std::span<const float> unsigned_moment_code() {
  return kUnsigned;
}

Moment8 Moment8::zeros(int64_t n, bool is_signed) {
  Moment8 m;
  m.codes.assign(static_cast<size_t>(n), is_signed ? 127 : 0);
  m.absmax.assign(static_cast<size_t>((n + kMomentBlock - 1) / kMomentBlock), 0.0f);
  return m;
}

void dequantize_moment_block(const Moment8& m, std::span<const float> code, int64_t begin,
                             std::span<float> out) {
  const float scale = m.absmax[static_cast<size_t>(begin / kMomentBlock)];
  const uint8_t* c = m.codes.data() + begin;
  for (size_t i = 0; i < out.size(); ++i) out[i] = code[c[i]] * scale;
}

void quantize_moment_block(std::span<const float> values, std::span<const float> code,
                           int64_t begin, Moment8& m) {
  float absmax = 0.0f;
  for (float x : values) absmax = std::max(absmax, std::fabs(x));
  m.absmax[static_cast<size_t>(begin / kMomentBlock)] = absmax;
  uint8_t* c = m.codes.data() + begin;
  const uint8_t zero = nearest_code(code, 0.0f);
  if (absmax == 0.0f) {
    std::fill(c, c + values.size(), zero);
    return;
  }
  const float inv = 1.0f / absmax;
  for (size_t i = 0; i < values.size(); ++i) {
    // The absmax value itself maps to ±1 exactly (x · (1/x) can be 1 − 2^−24, which the
    // nearest-code search would still send to 1, but say it outright).
    const float y =
        std::fabs(values[i]) == absmax ? std::copysign(1.0f, values[i]) : values[i] * inv;
    c[i] = nearest_code(code, y);
  }
}

}  // namespace edgefit::train
