// CPUID/XGETBV on x86-64, getauxval on AArch64 Linux, /proc/cpuinfo for the model name.
#include "core/cpu_features.h"

#include <cstdint>
#include <cstring>
#include <fstream>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace edgefit {
namespace {

bool bit(uint32_t reg, int n) {
  return ((reg >> n) & 1u) != 0;
}

// "model name" (x86, some ARM kernels), else "Hardware"/"Model"/"CPU part" (ARM); empty if none.
std::string model_name_from_proc() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string fallback;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (value.empty()) continue;
    if (key == "model name") return value;
    if ((key == "Hardware" || key == "Model" || key == "CPU part") && fallback.empty())
      fallback = key == "CPU part" ? "ARM CPU part " + value : value;
  }
  return fallback;
}

#if defined(__x86_64__)
// Which register states the OS saves on context switch (XCR0); 0 when XGETBV is not enabled.
uint64_t os_saved_states(bool osxsave) {
  if (!osxsave) return 0;
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// The 48-character brand string of CPUID leaves 0x80000002..4, trimmed; empty if absent.
std::string cpuid_brand() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000004u) return "";
  char brand[49] = {};
  for (unsigned leaf = 0; leaf < 3; ++leaf) {
    __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
    const unsigned regs[4] = {a, b, c, d};
    std::memcpy(brand + 16 * leaf, regs, 16);
  }
  std::string s(brand);
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

void detect_x86(CpuFeatures& f) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return;
  const uint64_t xcr0 = os_saved_states(bit(c, 27));
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  const bool avx = bit(c, 28) && os_avx;
  f.fma = avx && bit(c, 12);
  f.f16c = avx && bit(c, 29);

  unsigned max_leaf = 0;
  __get_cpuid(0, &max_leaf, &b, &c, &d);
  f.intel = b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;  // "Genu" "ineI" "ntel"
  if (max_leaf < 7) return;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned sub_leaves = a;
  f.avx2 = avx && bit(b, 5);
  f.avx512f = os_avx512 && bit(b, 16);
  f.avx512bw = f.avx512f && bit(b, 30);
  f.avx512vl = f.avx512f && bit(b, 31);
  f.avx512_vbmi2 = f.avx512f && bit(c, 6);
  f.avx512_vbmi = f.avx512f && bit(c, 1);
  f.gfni = avx && bit(c, 8);
  f.avx512vnni = f.avx512f && bit(c, 11);
  f.avx512_fp16 = f.avx512f && bit(d, 23);
  f.amx_bf16 = bit(d, 22);
  f.amx_tile = bit(d, 24);
  f.amx_int8 = bit(d, 25);
  if (sub_leaves >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = avx && bit(a, 4);
    f.avx512_bf16 = f.avx512f && bit(a, 5);
  }
}
#endif

#if defined(__aarch64__)
void detect_aarch64(CpuFeatures& f) {
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.dotprod = (hw & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
  f.i8mm = (hw2 & (1ul << 13)) != 0;    // HWCAP2_I8MM
  f.bf16 = (hw2 & (1ul << 14)) != 0;    // HWCAP2_BF16
#endif
}
#endif

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__)
  detect_x86(f);
#endif
#if defined(__aarch64__)
  detect_aarch64(f);
#endif
  f.model_name = model_name_from_proc();
#if defined(__x86_64__)
  if (f.model_name.empty()) f.model_name = cpuid_brand();
#endif
  if (f.model_name.empty()) f.model_name = "unknown CPU";
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features();
  return features;
}

}  // namespace edgefit
