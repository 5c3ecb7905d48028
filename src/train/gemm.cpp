#include "train/gemm.h"

#include <string_view>

#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace edgefit::train {
namespace {

const GemmTable& choose() {
#if defined(__x86_64__)
  const CpuFeatures& cpu = cpu_features();
  const bool avx2 = cpu.avx2 && cpu.fma && cpu.f16c;
  const bool avx512 = avx2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl;
  const std::string_view isa = kernels::kernel_dispatch().isa_name;
  if (isa.starts_with("avx512") && avx512) return gemm_table_avx512();
  if ((isa == "avx2" || isa == "avxvnni" || isa.starts_with("avx512")) && avx2)
    return gemm_table_avx2();
#endif
  return gemm_table_generic();
}

}  // namespace

const GemmTable& gemm_table() {
  static const GemmTable& table = choose();
  return table;
}

#if !defined(__x86_64__)
// Only the generic table is built off x86; the others are never chosen there.
const GemmTable& gemm_table_avx2() {
  return gemm_table_generic();
}
const GemmTable& gemm_table_avx512() {
  return gemm_table_generic();
}
#endif

}  // namespace edgefit::train
