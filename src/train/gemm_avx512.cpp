// Training's GEMM table compiled for avx512 (see gemm_impl.inc and CMakeLists.txt).
#define Eigen Eigen_avx512
#define EDGEFIT_GEMM_TABLE gemm_table_avx512
#define EDGEFIT_GEMM_ISA "avx512"
#include "train/gemm_impl.inc"
