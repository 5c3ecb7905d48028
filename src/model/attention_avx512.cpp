// The fused attention kernel compiled for avx512 (see attention_impl.inc and CMakeLists.txt).
#define EDGEFIT_ATTENTION_TABLE attention_table_avx512
#define EDGEFIT_ATTENTION_ISA "avx512"
#include "model/attention_impl.inc"
