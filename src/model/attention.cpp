#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace edgefit {
namespace {

#if defined(__x86_64__)
// The CPU features the AVX2 and AVX-512 attention files are compiled for.
bool cpu_has_avx2() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx2 && cpu.fma && cpu.f16c;
}
bool cpu_has_avx512() {
  const CpuFeatures& cpu = cpu_features();
  return cpu_has_avx2() && cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
}
#endif

const AttentionTable& choose() {
#if defined(__x86_64__)
  const std::string_view isa = kernels::kernel_dispatch().isa_name;
  if (isa.starts_with("avx512") && cpu_has_avx512()) return attention_table_avx512();
  if ((isa == "avx2" || isa == "avxvnni" || isa.starts_with("avx512")) && cpu_has_avx2())
    return attention_table_avx2();
#endif
  return attention_table_generic();
}

}  // namespace

const AttentionTable& attention_table() {
  static const AttentionTable& table = choose();
  return table;
}

std::vector<const AttentionTable*> attention_tables_supported() {
  std::vector<const AttentionTable*> tables{&attention_table_generic()};
#if defined(__x86_64__)
  if (cpu_has_avx2()) tables.push_back(&attention_table_avx2());
  if (cpu_has_avx512()) tables.push_back(&attention_table_avx512());
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
