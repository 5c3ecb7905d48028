// Target devices as data: RAM and flash budgets, memory bandwidth, instruction set and cores,
// each with a note saying where the number comes from. Profiles live in devices/*.json; a user
// can pass a path to their own file. The `host` profile is measured on this machine.
#pragma once

#include <string>
#include <vector>

namespace edgefit {

struct IsaFeatures {
  bool neon = false;         // Arm Advanced SIMD
  bool dotprod = false;      // Arm SDOT/UDOT (Armv8.2 optional, v8.4 mandatory)
  bool i8mm = false;         // Arm int8 matrix multiply (SMMLA)
  bool avx2 = false;         // x86 AVX2 + FMA
  bool avx512_vnni = false;  // x86 AVX-512 VNNI (vpdpbusd)
};

struct DeviceProfile {
  std::string id;              // "raspberry-pi-5"; the file stem
  std::string name;            // human description
  uint64_t ram_bytes = 0;      // memory the model may use (weights + KV cache + runtime)
  uint64_t storage_bytes = 0;  // space for the model file
  double bandwidth_gbs = 0;    // sustained DRAM read bandwidth, GB/s (1e9 bytes)
  IsaFeatures isa;             // SIMD features the runtime kernels can use
  int cores = 0;               // cores used for inference
  std::string accelerator;     // notes on GPU/NPU paths
  std::vector<std::pair<std::string, std::string>> notes;  // field → source note
  bool measured = false;  // values were measured on this machine (host)
  std::string source;     // file the profile came from
};

// The folder holding the shipped profiles (the repo's devices/, or $EDGEFIT_DEVICES_DIR).
std::string devices_dir();
// All shipped profiles, sorted by id (host unmeasured: zeros).
std::vector<DeviceProfile> list_devices();
// A profile by id ("raspberry-pi-5") or by path to a JSON file. `host` is measured (RAM
// available, free space under `output_dir`, read bandwidth, CPU features). Throws Error naming the
// device and the known ids when unknown, or the bad field when a file is malformed.
DeviceProfile load_device(const std::string& id_or_path, const std::string& output_dir = ".");
// Parses one profile from JSON text (`file` for error messages).
DeviceProfile parse_device(const std::string& json_text, const std::string& file);

// Measurements used for the host profile.
// Streaming read of a 256 MiB huge-page buffer, best of 3 passes.
double measure_read_bandwidth_gbs(int threads);
IsaFeatures detect_host_isa();
uint64_t host_available_ram();

}  // namespace edgefit
