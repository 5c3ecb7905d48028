// The fused attention kernel compiled for avx2 (see attention_impl.inc and CMakeLists.txt).
#define EDGEFIT_ATTENTION_TABLE attention_table_avx2
#define EDGEFIT_ATTENTION_ISA "avx2"
#include "model/attention_impl.inc"
