// Training's GEMM and vector math tables compiled for avx2 (see gemm_impl.inc, vector_math_impl.inc
// and CMakeLists.txt).
#define Eigen Eigen_avx2
#define EDGEFIT_GEMM_TABLE gemm_table_avx2
#define EDGEFIT_GEMM_ISA "avx2"
#include "train/gemm_impl.inc"
#define EDGEFIT_VECTOR_TABLE vector_math_avx2
#include "train/vector_math_impl.inc"
