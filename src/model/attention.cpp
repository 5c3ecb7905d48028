#include "model/attention.h"

#include <string_view>

#include "kernels/kernels.h"

namespace edgefit {
namespace {

#if defined(__x86_64__)
// The CPU features the AVX2 and AVX-512 attention files are compiled for.
bool cpu_has_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
bool cpu_has_avx512() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
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

}  // namespace edgefit
