// AVX2 activation preparation for the AVX2 and AVX-VNNI tables: act_prep_impl.inc on 8-float
// vectors. This file alone is compiled with AVX2 + F16C flags and only runs after the CPUID check.
#include "kernels/act_prep_impl.inc"

namespace edgefit::kernels::detail {

void prep_avx2_q8_0_s1(const float* x, int64_t n, void* out) {
  prep_q8_0<1>(x, n, out);
}
void prep_avx2_q8_0_s8(const float* x, int64_t n, void* out) {
  prep_q8_0<8>(x, n, out);
}
void prep_avx2_q8_0_s16(const float* x, int64_t n, void* out) {
  prep_q8_0<16>(x, n, out);
}
void prep_avx2_k32_s1(const float* x, int64_t n, void* out) {
  prep_k32<1>(x, n, out);
}
void prep_avx2_k16_s1(const float* x, int64_t n, void* out) {
  prep_k16<1>(x, n, out);
}
void prep_avx2_k16_s4(const float* x, int64_t n, void* out) {
  prep_k16<4>(x, n, out);
}
void prep_avx2_k16_s32(const float* x, int64_t n, void* out) {
  prep_k16<32>(x, n, out);
}

void prep_avx2_q8_k(const float* x, int64_t n, void* out) {
  prep_q8_k_rows(x, n, out);
}

}  // namespace edgefit::kernels::detail
