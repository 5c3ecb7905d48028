#include "train/gemm.h"

#include "kernels/float_simd.h"
#include "train/vector_math.h"

namespace edgefit::train {
namespace {

// The table of the kernels' float ISA out of one per ISA (GEMMs and vector math alike); only the
// chosen getter runs (the others are compiled for instructions the CPU may lack).
template <typename Table>
const Table& choose(const Table& (*generic)(), const Table& (*avx2)(), const Table& (*avx512)()) {
  switch (kernels::float_simd()) {
    case kernels::FloatSimd::kAvx512:
      return avx512();
    case kernels::FloatSimd::kAvx2:
      return avx2();
    default:
      return generic();
  }
}

}  // namespace

const GemmTable& gemm_table() {
  static const GemmTable& table = choose(gemm_table_generic, gemm_table_avx2, gemm_table_avx512);
  return table;
}

const VectorMathTable& vector_math() {
  static const VectorMathTable& table =
      choose(vector_math_generic, vector_math_avx2, vector_math_avx512);
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
const VectorMathTable& vector_math_avx2() {
  return vector_math_generic();
}
const VectorMathTable& vector_math_avx512() {
  return vector_math_generic();
}
#endif

}  // namespace edgefit::train
