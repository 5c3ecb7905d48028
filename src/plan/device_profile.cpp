#include "plan/device_profile.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/atomic_file.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/huge_buffer.h"
#include "core/thread_pool.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Every number a profile holds is checked for type, sign and range, with the field named: a
// "ram_bytes": -5 read as unsigned would be 16 EiB, and every model would "fit".
const json& member(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) throw Error(std::string("device profile lacks '") + key + "'", file);
  return j[key];
}

std::string text_field(const json& j, const char* key, const std::string& file) {
  const json& v = member(j, key, file);
  if (!v.is_string())
    throw Error(
        std::string("device profile field '") + key + "' must be a string, not " + v.type_name(),
        file);
  return v.get<std::string>();
}

// A whole number in [lo, hi]; 0 is also accepted when `zero_ok` (a measured profile's
// placeholder). JSON floats with no fraction (4e9) count as whole numbers.
uint64_t count_field(const json& j, const char* key, const std::string& file, uint64_t lo,
                     uint64_t hi, bool zero_ok) {
  const json& v = member(j, key, file);
  const std::string range = std::to_string(lo) + " and " + std::to_string(hi);
  if (!v.is_number())
    throw Error(
        std::string("device profile field '") + key + "' must be a number, not " + v.type_name(),
        file);
  const double x = v.get<double>();
  if (v.is_number_float() && (!std::isfinite(x) || x != std::floor(x)))
    throw Error(std::string("device profile field '") + key + "' is " + v.dump() +
                    "; it must be a whole number",
                file);
  if (x < 0)
    throw Error(std::string("device profile field '") + key + "' is " + v.dump() +
                    "; it must not be negative (between " + range + ")",
                file);
  const uint64_t n =
      v.is_number_float() ? static_cast<uint64_t>(std::min(x, 1.8e19)) : v.get<uint64_t>();
  if ((n == 0 && zero_ok) || (n >= lo && n <= hi)) return n;
  throw Error(std::string("device profile field '") + key + "' is " + v.dump() +
                  "; it must be between " + range,
              file);
}

// A finite number in (0, hi], or 0 when `zero_ok`.
double rate_field(const json& j, const char* key, const std::string& file, double hi,
                  bool zero_ok) {
  const json& v = member(j, key, file);
  if (!v.is_number())
    throw Error(
        std::string("device profile field '") + key + "' must be a number, not " + v.type_name(),
        file);
  const double x = v.get<double>();
  if ((x == 0 && zero_ok) || (x > 0 && x <= hi)) return x;
  throw Error(std::string("device profile field '") + key + "' is " + v.dump() +
                  "; it must be a positive number up to " + json(hi).dump(),
              file);
}

// An optional boolean; absent means `dflt`.
bool flag_field(const json& j, const char* key, const std::string& file, const std::string& where,
                bool dflt) {
  if (!j.contains(key)) return dflt;
  if (!j[key].is_boolean())
    throw Error(
        "device profile field '" + where + key + "' must be true or false, not " + j[key].dump(),
        file);
  return j[key].get<bool>();
}

}  // namespace

std::string devices_dir() {
  if (const char* env = std::getenv("EDGEFIT_DEVICES_DIR")) return env;
  return EDGEFIT_DEVICES_DIR;  // compiled in: <source>/devices
}

DeviceProfile parse_device(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(std::string("device profile is not valid JSON: ") + e.what(), file);
  }
  if (!j.is_object()) throw Error("device profile is not a JSON object", file);
  DeviceProfile d;
  d.source = file;
  d.id = text_field(j, "id", file);
  d.name = text_field(j, "name", file);
  d.measured = flag_field(j, "measured", file, "", false);
  // A measured profile (host) holds zeros until load_device() measures; others must be real.
  const bool zero_ok = d.measured;
  constexpr uint64_t kMaxBytes = uint64_t{1} << 50;  // 1 PiB: beyond any edge device
  d.ram_bytes = count_field(j, "ram_bytes", file, 1 << 20, kMaxBytes, zero_ok);
  d.storage_bytes = count_field(j, "storage_bytes", file, 1 << 20, kMaxBytes, zero_ok);
  d.bandwidth_gbs = rate_field(j, "bandwidth_gbs", file, 10000.0, zero_ok);
  d.cores = static_cast<int>(count_field(j, "cores", file, 1, 4096, zero_ok));
  d.accelerator = j.contains("accelerator") ? text_field(j, "accelerator", file) : "";
  if (j.contains("isa")) {
    const json& isa = j["isa"];
    if (!isa.is_object())
      throw Error(
          "device profile field 'isa' must be an object, not " + std::string(isa.type_name()),
          file);
    d.isa.neon = flag_field(isa, "neon", file, "isa.", false);
    d.isa.dotprod = flag_field(isa, "dotprod", file, "isa.", false);
    d.isa.i8mm = flag_field(isa, "i8mm", file, "isa.", false);
    d.isa.avx2 = flag_field(isa, "avx2", file, "isa.", false);
    d.isa.avx512_vnni = flag_field(isa, "avx512_vnni", file, "isa.", false);
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key().ends_with("_note") && it.value().is_string())
      d.notes.emplace_back(it.key().substr(0, it.key().size() - 5), it.value().get<std::string>());
  return d;
}

std::vector<DeviceProfile> list_devices() {
  std::vector<DeviceProfile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(devices_dir(), ec))
    if (e.path().extension() == ".json")
      out.push_back(parse_device(read_file(e.path().string()), e.path().string()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

double measure_read_bandwidth_gbs(int threads) {
  // Huge pages, like the repacked weights the runtime streams (core/huge_buffer.h): a probe on
  // 4 KiB pages would read 10-20 % slower and flatter the roofline fraction.
  const size_t n = (256u << 20) / sizeof(uint64_t);
  HugeBuffer mem(n * sizeof(uint64_t));
  uint64_t* buf = reinterpret_cast<uint64_t*>(mem.data());
  std::fill(buf, buf + n, uint64_t{1});
  ThreadPool pool(threads);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<uint64_t> partial(64 * static_cast<size_t>(threads), 0);
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // 4 chains keep loads in flight
        for (size_t i = lo; i + 4 <= hi; i += 4) {
          s0 += buf[i];
          s1 += buf[i + 1];
          s2 += buf[i + 2];
          s3 += buf[i + 3];
        }
        partial[64 * t] = s0 + s1 + s2 + s3;
      }
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile uint64_t sink = 0;
    for (uint64_t p : partial) sink = sink + p;
    best = std::max(best, n * sizeof(uint64_t) / s / 1e9);
  }
  return best;
}

IsaFeatures detect_host_isa() {
  const CpuFeatures& cpu = cpu_features();
  IsaFeatures f;
  f.avx2 = cpu.avx2 && cpu.fma;
  f.avx512_vnni = cpu.avx512vnni && cpu.avx512bw;
  f.neon = cpu.neon;
  f.dotprod = cpu.dotprod;
  f.i8mm = cpu.i8mm;
  return f;
}

uint64_t host_available_ram() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
         static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

DeviceProfile load_device(const std::string& id_or_path, const std::string& output_dir) {
  std::string path = id_or_path;
  if (!id_or_path.ends_with(".json")) {
    path = devices_dir() + "/" + id_or_path + ".json";
    if (!fs::exists(path)) {
      std::string ids;
      for (const auto& d : list_devices()) ids += (ids.empty() ? "" : ", ") + d.id;
      throw Error("unknown device '" + id_or_path + "' (known: " + ids +
                  "; or pass a .json profile)");
    }
  }
  DeviceProfile d = parse_device(read_file(path), path);
  if (d.measured) {
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    d.cores = threads;
    d.ram_bytes = host_available_ram();
    struct statvfs st {};
    d.storage_bytes = ::statvfs(output_dir.c_str(), &st) == 0 ? st.f_bavail * st.f_frsize : 0;
    d.bandwidth_gbs = measure_read_bandwidth_gbs(threads);
    d.isa = detect_host_isa();
  }
  return d;
}

}  // namespace edgefit
