// AVX-512 activation preparation for the AVX-512 VNNI table: act_prep_impl.inc on 16-float
// vectors. This file alone is compiled with AVX-512 flags and only runs after the CPUID check.
#define EDGEFIT_ACT_PREP_AVX512 1
#include "kernels/act_prep_impl.inc"

namespace edgefit::kernels::detail {

void prep_avx512_q8_0_s1(const float* x, int64_t n, void* out) {
  prep_q8_0<1>(x, n, out);
}
void prep_avx512_q8_0_s8(const float* x, int64_t n, void* out) {
  prep_q8_0<8>(x, n, out);
}
void prep_avx512_q8_0_s16(const float* x, int64_t n, void* out) {
  prep_q8_0<16>(x, n, out);
}
void prep_avx512_q8_0_s128(const float* x, int64_t n, void* out) {
  prep_q8_0<128>(x, n, out);
}
void prep_avx512_k32_s1(const float* x, int64_t n, void* out) {
  prep_k32<1>(x, n, out);
}
void prep_avx512_k16_s1(const float* x, int64_t n, void* out) {
  prep_k16<1>(x, n, out);
}
void prep_avx512_k16_s4(const float* x, int64_t n, void* out) {
  prep_k16<4>(x, n, out);
}
void prep_avx512_k16_s32(const float* x, int64_t n, void* out) {
  prep_k16<32>(x, n, out);
}

void prep_avx512_q8_k(const float* x, int64_t n, void* out) {
  prep_q8_k_rows(x, n, out);
}

}  // namespace edgefit::kernels::detail
