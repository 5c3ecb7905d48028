#include "train/gemm.h"

#include "kernels/float_simd.h"

namespace edgefit::train {
namespace {

const GemmTable& choose() {
  switch (kernels::float_simd()) {
    case kernels::FloatSimd::kAvx512:
      return gemm_table_avx512();
    case kernels::FloatSimd::kAvx2:
      return gemm_table_avx2();
    default:
      return gemm_table_generic();
  }
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
