// The fused attention kernel compiled for generic (see attention_impl.inc and CMakeLists.txt).
#define EDGEFIT_ATTENTION_TABLE attention_table_generic
#define EDGEFIT_ATTENTION_ISA "generic"
#include "model/attention_impl.inc"
