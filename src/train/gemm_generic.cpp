// Training's GEMM and vector math tables compiled for generic (see gemm_impl.inc,
// vector_math_impl.inc and CMakeLists.txt).
#define EDGEFIT_GEMM_TABLE gemm_table_generic
#define EDGEFIT_GEMM_ISA "generic"
#include "train/gemm_impl.inc"
#define EDGEFIT_VECTOR_TABLE vector_math_generic
#include "train/vector_math_impl.inc"
