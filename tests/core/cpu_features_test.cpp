// The one CPU probe against two independent sources: the kernel's /proc/cpuinfo flags line and
// GCC's __builtin_cpu_supports (which has its own CPUID/XGETBV code in libgcc).
#include "core/cpu_features.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace edgefit {
namespace {

// The first "flags" line of /proc/cpuinfo as a set; empty where there is none (non-x86, no /proc).
std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(CpuFeatures, ComputedOnceAndStable) {
  const CpuFeatures& a = cpu_features();
  EXPECT_EQ(&a, &cpu_features());
  EXPECT_FALSE(a.model_name.empty());
  EXPECT_EQ(detect_cpu_features().model_name, a.model_name);
}

#if defined(__x86_64__)
TEST(CpuFeatures, AgreesWithProcCpuinfoFlags) {
  const std::set<std::string> flags = proc_cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  const CpuFeatures f = detect_cpu_features();
  const std::pair<const char*, bool> cases[] = {
      {"avx2", f.avx2},
      {"fma", f.fma},
      {"f16c", f.f16c},
      {"avx512f", f.avx512f},
      {"avx512bw", f.avx512bw},
      {"avx512vl", f.avx512vl},
      {"avx512_vnni", f.avx512vnni},
      {"avx_vnni", f.avxvnni},
      {"avx512_bf16", f.avx512_bf16},
      {"avx512_fp16", f.avx512_fp16},
      {"amx_tile", f.amx_tile},
      {"amx_int8", f.amx_int8},
      {"amx_bf16", f.amx_bf16},
      {"avx512_vbmi2", f.avx512_vbmi2},
      {"avx512vbmi", f.avx512_vbmi},
  };
  for (const auto& [name, ours] : cases) EXPECT_EQ(ours, flags.count(name) == 1) << name;
}

TEST(CpuFeatures, AgreesWithBuiltinCpuSupports) {
  __builtin_cpu_init();
  const CpuFeatures f = detect_cpu_features();
  EXPECT_EQ(f.avx2, static_cast<bool>(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(f.fma, static_cast<bool>(__builtin_cpu_supports("fma")));
  EXPECT_EQ(f.avx512f, static_cast<bool>(__builtin_cpu_supports("avx512f")));
  EXPECT_EQ(f.avx512bw, static_cast<bool>(__builtin_cpu_supports("avx512bw")));
  EXPECT_EQ(f.avx512vl, static_cast<bool>(__builtin_cpu_supports("avx512vl")));
  EXPECT_EQ(f.avx512vnni, static_cast<bool>(__builtin_cpu_supports("avx512vnni")));
  EXPECT_EQ(f.avx512_vbmi2, static_cast<bool>(__builtin_cpu_supports("avx512vbmi2")));
  EXPECT_EQ(f.avx512_vbmi, static_cast<bool>(__builtin_cpu_supports("avx512vbmi")));
  EXPECT_EQ(f.avx512_bf16, static_cast<bool>(__builtin_cpu_supports("avx512bf16")));
  EXPECT_EQ(f.avxvnni, static_cast<bool>(__builtin_cpu_supports("avxvnni")));
  EXPECT_EQ(f.avx512_fp16, static_cast<bool>(__builtin_cpu_supports("avx512fp16")));
  EXPECT_EQ(f.amx_tile, static_cast<bool>(__builtin_cpu_supports("amx-tile")));
  EXPECT_EQ(f.amx_int8, static_cast<bool>(__builtin_cpu_supports("amx-int8")));
  EXPECT_EQ(f.amx_bf16, static_cast<bool>(__builtin_cpu_supports("amx-bf16")));
  EXPECT_FALSE(f.neon);
  EXPECT_EQ(f.intel, static_cast<bool>(__builtin_cpu_is("intel")));
}
#endif

#if defined(__aarch64__)
TEST(CpuFeatures, NeonAlwaysOnAarch64) {
  EXPECT_TRUE(detect_cpu_features().neon);
}
#endif

}  // namespace
}  // namespace edgefit
