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

SafetensorsTensorSpec u8_spec(std::string name, const std::vector<int64_t>& shape,
                              const std::vector<uint8_t>& codes) {
  return {std::move(name), DType::U8, shape,
          [&codes](AtomicFileWriter& w) { w.write(codes.data(), codes.size()); }};
}

// Copies tensor `name` of `f` (element type `dtype`) into `out` after checking its type and shape.
template <typename T>
void read_tensor(const SafetensorsFile& f, const std::string& name, DType dtype,
                 const std::vector<int64_t>& shape, std::vector<T>& out) {
  const SafetensorsEntry* e = f.find(name);
  if (!e) throw Error("checkpoint has no tensor '" + name + "'", f.path());
  if (e->dtype != dtype || e->shape != shape)
    throw Error("checkpoint tensor '" + name + "' has another type or shape than the model's",
                f.path());
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  out.resize(static_cast<size_t>(numel));
  std::memcpy(out.data(), f.data(*e), static_cast<size_t>(numel) * sizeof(T));
}

void read_f32(const SafetensorsFile& f, const std::string& name, const std::vector<int64_t>& shape,
              std::vector<float>& out) {
  read_tensor(f, name, DType::F32, shape, out);
}

// An 8-bit moment of a parameter of `shape`: "<name>" (codes) and "<name>.absmax".
void add_moment8(std::vector<SafetensorsTensorSpec>& specs, const std::string& name,
                 const std::vector<int64_t>& shape, const Moment8& m) {
  specs.push_back(u8_spec(name, shape, m.codes));
  specs.push_back(f32_spec(name + ".absmax", {static_cast<int64_t>(m.absmax.size())}, m.absmax));
}

Moment8 read_moment8(const SafetensorsFile& f, const std::string& name,
                     const std::vector<int64_t>& shape) {
  Moment8 m;
  read_tensor(f, name, DType::U8, shape, m.codes);
  const int64_t blocks = (m.size() + kMomentBlock - 1) / kMomentBlock;
  read_f32(f, name + ".absmax", {blocks}, m.absmax);
  const size_t codes = signed_moment_code().size();
  for (uint8_t c : m.codes)
    if (c >= codes) throw Error("checkpoint tensor '" + name + "' holds an invalid code", f.path());
  return m;
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
  const auto& m8 = opt.first_moments8();
  const auto& v8 = opt.second_moments8();
  const std::vector<Parameter>& ps = params.all();
  for (size_t k = 0; k < ps.size(); ++k) {
    specs.push_back(f32_spec(ps[k].name, ps[k].shape, ps[k].value));
    if (!m.empty()) {
      specs.push_back(f32_spec(ps[k].name + ".adam_m", ps[k].shape, m.at(k)));
      specs.push_back(f32_spec(ps[k].name + ".adam_v", ps[k].shape, v.at(k)));
    }
    if (!m8.empty()) {
      add_moment8(specs, ps[k].name + ".adam_m8", ps[k].shape, m8.at(k));
      add_moment8(specs, ps[k].name + ".adam_v8", ps[k].shape, v8.at(k));
    }
  }
  write_safetensors(path, specs,
                    {{"edgefit.train.kind", "checkpoint"},
                     {"edgefit.train.next_step", std::to_string(next_step)},
                     {"edgefit.train.adam_steps", std::to_string(opt.steps())},
                     {"edgefit.train.optim_bits", std::to_string(opt.config().state_bits)},
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
  // Checkpoints from before 8-bit moments have no optim_bits: theirs are f32.
  const int64_t bits =
      f.metadata().count("edgefit.train.optim_bits") ? read_int(f, "edgefit.train.optim_bits") : 32;
  if (bits != opt.config().state_bits)
    throw Error("checkpoint holds " + std::to_string(bits) + "-bit optimizer moments, this run " +
                    "uses " + std::to_string(opt.config().state_bits) + "-bit ones",
                path);
  // Read everything first, so a bad file leaves the parameters and optimizer untouched.
  const std::vector<Parameter>& ps = params.all();
  std::vector<std::vector<float>> values(ps.size()), m, v;
  std::vector<Moment8> m8, v8;
  size_t expected = ps.size();
  for (size_t k = 0; k < ps.size(); ++k) {
    read_f32(f, ps[k].name, ps[k].shape, values[k]);
    if (adam_steps > 0 && bits == 32) {
      m.emplace_back();
      v.emplace_back();
      read_f32(f, ps[k].name + ".adam_m", ps[k].shape, m.back());
      read_f32(f, ps[k].name + ".adam_v", ps[k].shape, v.back());
      expected += 2;
    }
    if (adam_steps > 0 && bits == 8) {
      m8.push_back(read_moment8(f, ps[k].name + ".adam_m8", ps[k].shape));
      v8.push_back(read_moment8(f, ps[k].name + ".adam_v8", ps[k].shape));
      expected += 4;
    }
  }
  if (f.tensors().size() != expected)
    throw Error("checkpoint holds " + std::to_string(f.tensors().size()) + " tensors, expected " +
                    std::to_string(expected) + " for this model",
                path);
  for (size_t k = 0; k < ps.size(); ++k) params.all()[k].value = std::move(values[k]);
  if (bits == 8)
    opt.restore8(adam_steps, std::move(m8), std::move(v8));
  else
    opt.restore(adam_steps, std::move(m), std::move(v));
  return next_step;
}

}  // namespace edgefit::train
