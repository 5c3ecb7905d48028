// Training's GEMM table compiled for generic (see gemm_impl.inc and CMakeLists.txt).
#define EDGEFIT_GEMM_TABLE gemm_table_generic
#define EDGEFIT_GEMM_ISA "generic"
#include "train/gemm_impl.inc"
