// `edgefit devices [ID|FILE] [--json]`: the device profiles edgefit can plan for. With an id (or a
// profile file) it shows that profile with the source of every number; `host` is measured.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "plan/cost_model.h"
#include "plan/device_profile.h"

namespace edgefit::cli {
namespace {

struct DevicesOptions {
  std::string id;     // one device to show in full ("" = list all)
  bool json = false;  // JSON output
};

std::string isa_string(const IsaFeatures& f) {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (on) s += (s.empty() ? "" : ",") + std::string(name);
  };
  add(f.neon, "neon");
  add(f.dotprod, "dotprod");
  add(f.i8mm, "i8mm");
  add(f.avx2, "avx2");
  add(f.avx512_vnni, "avx512-vnni");
  return s.empty() ? "scalar" : s;
}

nlohmann::ordered_json device_json(const DeviceProfile& d) {
  nlohmann::ordered_json j = {{"id", d.id},
                              {"name", d.name},
                              {"ram_bytes", d.ram_bytes},
                              {"storage_bytes", d.storage_bytes},
                              {"bandwidth_gbs", d.bandwidth_gbs},
                              {"isa", isa_string(d.isa)},
                              {"cores", d.cores},
                              {"accelerator", d.accelerator},
                              {"measured", d.measured}};
  for (const auto& [k, v] : d.notes) j["notes"][k] = v;
  return j;
}

void run_devices(const DevicesOptions& o) {
  if (!o.id.empty()) {
    const DeviceProfile d = load_device(o.id);
    if (o.json) {
      std::printf("%s\n", device_json(d).dump(2).c_str());
      return;
    }
    std::printf("%s — %s%s\n", d.id.c_str(), d.name.c_str(), d.measured ? " (measured now)" : "");
    std::printf(
        "  RAM for the model  %s\n  storage            %s\n  bandwidth          %.1f GB/s\n"
        "  ISA                %s\n  cores              %d\n  accelerator        %s\n",
        format_bytes(d.ram_bytes).c_str(), format_bytes(d.storage_bytes).c_str(), d.bandwidth_gbs,
        isa_string(d.isa).c_str(), d.cores, d.accelerator.c_str());
    for (const auto& [k, v] : d.notes) std::printf("  [%s] %s\n", k.c_str(), v.c_str());
    return;
  }
  const auto devices = list_devices();
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& d : devices) j.push_back(device_json(d));
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%-22s %10s %10s %9s %-22s %5s  %s\n", "id", "RAM", "storage", "GB/s", "ISA", "cores",
              "name");
  for (const auto& d : devices) {
    if (d.measured) {
      std::printf("%-22s %10s %10s %9s %-22s %5s  %s\n", d.id.c_str(), "measured", "measured",
                  "measured", "measured", "-", d.name.c_str());
      continue;
    }
    std::printf("%-22s %10s %10s %9.1f %-22s %5d  %s\n", d.id.c_str(),
                format_bytes(d.ram_bytes).c_str(), format_bytes(d.storage_bytes).c_str(),
                d.bandwidth_gbs, isa_string(d.isa).c_str(), d.cores, d.name.c_str());
  }
  std::printf(
      "\n`edgefit devices ID` shows a profile with its sources; pass your own JSON file by "
      "path.\n");
}

}  // namespace

void add_devices_command(CLI::App& app) {
  auto opts = std::make_shared<DevicesOptions>();
  CLI::App* cmd = app.add_subcommand("devices", "list the target device profiles");
  cmd->add_option("device", opts->id, "a device id or profile .json to show in full");
  cmd->add_flag("--json", opts->json, "print JSON");
  cmd->callback([opts] { run_devices(*opts); });
}

}  // namespace edgefit::cli
