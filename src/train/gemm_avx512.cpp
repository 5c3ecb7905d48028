// Training's GEMM and vector math tables compiled for avx512 (see gemm_impl.inc,
// vector_math_impl.inc and CMakeLists.txt).
#define Eigen Eigen_avx512
#define EDGEFIT_GEMM_TABLE gemm_table_avx512
#define EDGEFIT_GEMM_ISA "avx512"
#include "train/gemm_impl.inc"
#define EDGEFIT_VECTOR_TABLE vector_math_avx512
#include "train/vector_math_impl.inc"
