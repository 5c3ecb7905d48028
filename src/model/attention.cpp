#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "kernels/float_simd.h"

namespace edgefit {
namespace {

const AttentionTable& choose() {
  switch (kernels::float_simd()) {
#if defined(__x86_64__)
    case kernels::FloatSimd::kAvx512:
      return attention_table_avx512();
    case kernels::FloatSimd::kAvx2:
      return attention_table_avx2();
#endif
    default:
      return attention_table_generic();
  }
}

}  // namespace

const AttentionTable& attention_table() {
  static const AttentionTable& table = choose();
  return table;
}

std::vector<const AttentionTable*> attention_tables_supported() {
  std::vector<const AttentionTable*> tables{&attention_table_generic()};
#if defined(__x86_64__)
  if (kernels::cpu_runs(kernels::FloatSimd::kAvx2)) tables.push_back(&attention_table_avx2());
  if (kernels::cpu_runs(kernels::FloatSimd::kAvx512)) tables.push_back(&attention_table_avx512());
#endif
  return tables;
}

void combine_attention_parts(int parts, int heads, int64_t hd, const float* acc, const float* m,
                             const float* l, float* out) {
  for (int g = 0; g < heads; ++g) {
    float mx = -INFINITY;
    for (int p = 0; p < parts; ++p) mx = std::max(mx, m[p * heads + g]);
    float sum = 0;
    float* o = out + g * hd;
    std::fill(o, o + hd, 0.0f);
    for (int p = 0; p < parts; ++p) {
      const float c = std::exp(m[p * heads + g] - mx);
      sum += l[p * heads + g] * c;
      const float* a = acc + (int64_t{p} * heads + g) * hd;
      for (int64_t d = 0; d < hd; ++d) o[d] += a[d] * c;
    }
    const float inv = 1.0f / sum;
    for (int64_t d = 0; d < hd; ++d) o[d] *= inv;
  }
}

}  // namespace edgefit
