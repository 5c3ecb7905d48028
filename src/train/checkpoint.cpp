#include "train/checkpoint.h"

#include <cstring>
#include <map>
#include <vector>

#include "core/error.h"
#include "formats/safetensors.h"

namespace edgefit::train {
namespace {

SafetensorsTensorSpec f32_spec(std::string name, const std::vector<int64_t>& shape,
                               const std::vector<float>& values) {
  return {std::move(name), DType::F32, shape, [&values](AtomicFileWriter& w) {
            w.write(values.data(), values.size() * sizeof(float));
          }};
}

// Copies tensor `name` of `f` into `out` after checking its type and shape.
void read_f32(const SafetensorsFile& f, const std::string& name, const std::vector<int64_t>& shape,
              std::vector<float>& out) {
  const SafetensorsEntry* e = f.find(name);
  if (!e) throw Error("checkpoint has no tensor '" + name + "'", f.path());
  if (e->dtype != DType::F32 || e->shape != shape)
    throw Error("checkpoint tensor '" + name + "' has another type or shape than the model's",
                f.path());
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  out.resize(static_cast<size_t>(numel));
  std::memcpy(out.data(), f.data(*e), static_cast<size_t>(numel) * sizeof(float));
}

int64_t read_int(const SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata().find(key);
  if (it == f.metadata().end()) throw Error("checkpoint has no metadata '" + key + "'", f.path());
  size_t used = 0;
  int64_t v = -1;
  try {
    v = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != it->second.size() || v < 0)
    throw Error("checkpoint metadata '" + key + "' is not a step count: '" + it->second + "'",
                f.path());
  return v;
}

}  // namespace

void save_checkpoint(const std::string& path, const ParameterSet& params, const AdamW& opt,
                     int64_t next_step, const std::string& run) {
  std::vector<SafetensorsTensorSpec> specs;
  const auto& m = opt.first_moments();
  const auto& v = opt.second_moments();
  const std::vector<Parameter>& ps = params.all();
  for (size_t k = 0; k < ps.size(); ++k) {
    specs.push_back(f32_spec(ps[k].name, ps[k].shape, ps[k].value));
    if (!m.empty()) {
      specs.push_back(f32_spec(ps[k].name + ".adam_m", ps[k].shape, m.at(k)));
      specs.push_back(f32_spec(ps[k].name + ".adam_v", ps[k].shape, v.at(k)));
    }
  }
  write_safetensors(path, specs,
                    {{"edgefit.train.kind", "checkpoint"},
                     {"edgefit.train.next_step", std::to_string(next_step)},
                     {"edgefit.train.adam_steps", std::to_string(opt.steps())},
                     {"edgefit.train.run", run}});
}

std::string checkpoint_run(const std::string& path) {
  SafetensorsFile f(path);
  auto kind = f.metadata().find("edgefit.train.kind");
  if (kind == f.metadata().end() || kind->second != "checkpoint")
    throw Error("not an edgefit training checkpoint", path);
  auto run = f.metadata().find("edgefit.train.run");
  return run == f.metadata().end() ? "" : run->second;
}

int64_t load_checkpoint(const std::string& path, ParameterSet& params, AdamW& opt) {
  SafetensorsFile f(path);
  auto kind = f.metadata().find("edgefit.train.kind");
  if (kind == f.metadata().end() || kind->second != "checkpoint")
    throw Error("not an edgefit training checkpoint", path);
  const int64_t next_step = read_int(f, "edgefit.train.next_step");
  const int64_t adam_steps = read_int(f, "edgefit.train.adam_steps");
  // Read everything first, so a bad file leaves the parameters and optimizer untouched.
  const std::vector<Parameter>& ps = params.all();
  std::vector<std::vector<float>> values(ps.size()), m, v;
  size_t expected = ps.size();
  for (size_t k = 0; k < ps.size(); ++k) {
    read_f32(f, ps[k].name, ps[k].shape, values[k]);
    if (adam_steps > 0) {
      m.emplace_back();
      v.emplace_back();
      read_f32(f, ps[k].name + ".adam_m", ps[k].shape, m.back());
      read_f32(f, ps[k].name + ".adam_v", ps[k].shape, v.back());
      expected += 2;
    }
  }
  if (f.tensors().size() != expected)
    throw Error("checkpoint holds " + std::to_string(f.tensors().size()) + " tensors, expected " +
                    std::to_string(expected) + " for this model",
                path);
  for (size_t k = 0; k < ps.size(); ++k) params.all()[k].value = std::move(values[k]);
  opt.restore(adam_steps, std::move(m), std::move(v));
  return next_step;
}

}  // namespace edgefit::train
