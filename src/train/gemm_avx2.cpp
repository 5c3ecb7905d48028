// Training's GEMM table compiled for avx2 (see gemm_impl.inc and CMakeLists.txt).
#define Eigen Eigen_avx2
#define EDGEFIT_GEMM_TABLE gemm_table_avx2
#define EDGEFIT_GEMM_ISA "avx2"
#include "train/gemm_impl.inc"
