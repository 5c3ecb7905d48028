// Reading and writing importance matrices in llama.cpp's legacy .dat and GGUF layouts
// (see imatrix_file.h).
#include "methods/imatrix_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/byte_reader.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"

namespace edgefit {
namespace {

// Longest tensor name we accept (ggml's GGML_MAX_NAME is 64; leave room for other tools).
constexpr int32_t kMaxNameLen = 4096;

void check_finite(const std::vector<float>& v, const std::string& name, const std::string& file) {
  for (float x : v)
    if (!std::isfinite(x) || x < 0)
      throw Error("entry '" + name + "' holds a negative or non-finite value", file);
}

}  // namespace

uint64_t Imatrix::token_count() const {
  if (chunk_count > 0 && chunk_size > 0) return chunk_count * chunk_size;
  if (format != "gguf") return 0;
  uint64_t n = 0;
  for (const auto& [name, e] : entries)
    for (uint64_t c : e.counts) n = std::max(n, c);
  return n;
}

const std::vector<float>* Imatrix::find(const std::string& tensor_name, uint64_t row_len) const {
  auto it = entries.find(tensor_name);
  if (it == entries.end()) return nullptr;
  if (it->second.mean_sq.size() != row_len)
    throw Error("imatrix entry '" + tensor_name + "' has " +
                std::to_string(it->second.mean_sq.size()) + " values but the tensor's rows hold " +
                std::to_string(row_len) + " (is the imatrix for another model?)");
  return &it->second.mean_sq;
}

Imatrix read_imatrix(const std::string& path) {
  MappedFile f(path);
  if (f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0) return read_imatrix_gguf(path);
  return read_imatrix_dat(path);
}

Imatrix read_imatrix_dat(const std::string& path) {
  MappedFile f(path);
  ByteReader r(f.data(), f.size(), path);
  Imatrix im;
  im.format = "dat";
  const int32_t n_entries = r.read<int32_t>("entry count");
  // Each entry needs at least 12 bytes, which bounds a hostile count before anything is reserved.
  if (n_entries < 0 || static_cast<uint64_t>(n_entries) > r.remaining() / 12)
    r.fail_at(
        0, "implausible entry count " + std::to_string(n_entries) + " (not an imatrix .dat file?)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const uint64_t at = r.pos();
    const int32_t len = r.read<int32_t>("name length");
    if (len <= 0 || len > kMaxNameLen)
      r.fail_at(at, "bad tensor name length " + std::to_string(len));
    std::string name(r.read_bytes(static_cast<uint64_t>(len), "tensor name"));
    const int32_t ncall = r.read<int32_t>("call count");
    const int32_t nval = r.read<int32_t>("value count");
    if (ncall < 0 || nval < 0)
      r.fail_at(at, "negative call or value count in entry '" + name + "'");
    r.need(static_cast<uint64_t>(nval) * 4, "values");
    ImatrixEntry e;
    e.mean_sq.resize(static_cast<size_t>(nval));
    std::memcpy(e.mean_sq.data(), r.read_bytes(static_cast<uint64_t>(nval) * 4, "values").data(),
                static_cast<size_t>(nval) * 4);
    // The stored values are mean(x²) × ncall; llama-quantize divides by ncall.
    if (ncall > 0)
      for (float& v : e.mean_sq) v /= static_cast<float>(ncall);
    check_finite(e.mean_sq, name, path);
    e.counts = {static_cast<uint64_t>(ncall)};
    if (!im.entries.emplace(name, std::move(e)).second)
      r.fail_at(at, "duplicate entry '" + name + "'");
  }
  if (r.remaining() > 0) {
    const int32_t last_call = r.read<int32_t>("chunk count");
    const int32_t len = r.read<int32_t>("dataset name length");
    if (last_call < 0 || len < 0) r.fail("bad trailer");
    im.chunk_count = static_cast<uint64_t>(last_call);
    std::string ds(r.read_bytes(static_cast<uint64_t>(len), "dataset name"));
    if (!ds.empty()) im.datasets.push_back(std::move(ds));
  }
  return im;
}

Imatrix read_imatrix_gguf(const std::string& path) {
  GgufFile g(path);
  Imatrix im;
  im.format = "gguf";
  if (auto t = g.get_string_opt("general.type"); t && *t != "imatrix")
    throw Error(
        "GGUF general.type is '" + *t + "', not 'imatrix' (a model, not an importance matrix?)",
        path);
  if (const GgufValue* d = g.find("imatrix.datasets")) {
    if (d->type == GgufType::ARRAY && d->elem_type == GgufType::STRING)
      for (const auto& s : d->arr) im.datasets.push_back(s.str);
    else if (d->type == GgufType::STRING)
      im.datasets.push_back(d->str);
  }
  if (auto v = g.get_int_opt("imatrix.chunk_count"))
    im.chunk_count = static_cast<uint64_t>(std::max<int64_t>(0, *v));
  if (auto v = g.get_int_opt("imatrix.chunk_size"))
    im.chunk_size = static_cast<uint64_t>(std::max<int64_t>(0, *v));

  auto f32_values = [&](const GgufTensorInfo& t) {
    if (t.type != DType::F32)
      throw Error("tensor '" + t.name + "' is not F32", path, t.info_offset);
    std::vector<float> v(t.nbytes / 4);
    std::memcpy(v.data(), g.tensor_data(t), v.size() * 4);
    return v;
  };
  size_t n_sums = 0;
  for (const auto& t : g.tensors()) {
    constexpr std::string_view kSum = ".in_sum2";
    if (!std::string_view(t.name).ends_with(kSum)) continue;
    ++n_sums;
    const std::string name = t.name.substr(0, t.name.size() - kSum.size());
    const GgufTensorInfo* ct = g.find_tensor(name + ".counts");
    if (!ct)
      throw Error("'" + t.name + "' has no matching '" + name + ".counts'", path, t.info_offset);
    const std::vector<float> sums = f32_values(t);
    const std::vector<float> counts = f32_values(*ct);
    if (counts.empty() || sums.size() % counts.size() != 0)
      throw Error("'" + name + "': " + std::to_string(sums.size()) + " sums do not split into " +
                      std::to_string(counts.size()) + " matrices",
                  path, t.info_offset);
    const size_t n_per_row = sums.size() / counts.size();
    ImatrixEntry e;
    e.mean_sq.resize(sums.size());
    for (size_t m = 0; m < counts.size(); ++m) {
      const float c = counts[m];
      if (!(c >= 0) || !std::isfinite(c))
        throw Error("'" + name + "': bad count", path, ct->info_offset);
      e.counts.push_back(static_cast<uint64_t>(c));
      for (size_t j = 0; j < n_per_row; ++j)
        e.mean_sq[m * n_per_row + j] = c > 0 ? sums[m * n_per_row + j] / c : 1.0f;
    }
    check_finite(e.mean_sq, name, path);
    im.entries.emplace(name, std::move(e));
  }
  if (n_sums == 0) throw Error("no '<name>.in_sum2' tensors: not an imatrix GGUF", path);
  return im;
}

void write_imatrix_gguf(const Imatrix& im, const std::string& path) {
  GgufWriter w;
  w.set("general.type", GgufValue::make_string("imatrix"));
  w.set("imatrix.datasets", GgufValue::make_string_array(im.datasets));
  w.set("imatrix.chunk_count", GgufValue::make_u32(static_cast<uint32_t>(im.chunk_count)));
  w.set("imatrix.chunk_size", GgufValue::make_u32(static_cast<uint32_t>(im.chunk_size)));
  // std::map iterates in name order, which is the order llama-imatrix writes.
  for (const auto& [name, e] : im.entries) {
    const size_t n_mat = std::max<size_t>(1, e.counts.size());
    if (e.mean_sq.empty() || e.mean_sq.size() % n_mat != 0)
      throw Error("imatrix entry '" + name + "': " + std::to_string(e.mean_sq.size()) +
                  " values do not split into " + std::to_string(n_mat) + " matrices");
    const uint64_t n_per_row = e.mean_sq.size() / n_mat;
    auto sums = std::make_shared<std::vector<float>>(e.mean_sq.size());
    auto counts = std::make_shared<std::vector<float>>(n_mat);
    for (size_t m = 0; m < n_mat; ++m) {
      const uint64_t c = e.counts.empty() ? 1 : e.counts[m];
      (*counts)[m] = static_cast<float>(c);
      for (uint64_t j = 0; j < n_per_row; ++j)
        (*sums)[m * n_per_row + j] = e.mean_sq[m * n_per_row + j] * static_cast<float>(c);
    }
    // ggml drops trailing extents of 1 when writing (ggml_n_dims).
    std::vector<uint64_t> ne_sum =
        n_mat > 1 ? std::vector<uint64_t>{n_per_row, n_mat} : std::vector<uint64_t>{n_per_row};
    std::vector<uint64_t> ne_cnt =
        n_mat > 1 ? std::vector<uint64_t>{1, n_mat} : std::vector<uint64_t>{1};
    w.add_tensor({name + ".in_sum2", DType::F32, ne_sum,
                  [sums](AtomicFileWriter& out) { out.write(sums->data(), sums->size() * 4); }});
    w.add_tensor({name + ".counts", DType::F32, ne_cnt, [counts](AtomicFileWriter& out) {
                    out.write(counts->data(), counts->size() * 4);
                  }});
  }
  w.write(path);
}

void write_imatrix_dat(const Imatrix& im, const std::string& path) {
  std::string buf;
  auto put_i32 = [&](int32_t v) { buf.append(reinterpret_cast<const char*>(&v), 4); };
  const int32_t ncall =
      im.chunk_count > 0 ? static_cast<int32_t>(std::min<uint64_t>(im.chunk_count, INT32_MAX)) : 1;
  put_i32(static_cast<int32_t>(im.entries.size()));
  for (const auto& [name, e] : im.entries) {
    put_i32(static_cast<int32_t>(name.size()));
    buf += name;
    put_i32(ncall);
    put_i32(static_cast<int32_t>(e.mean_sq.size()));
    for (float v : e.mean_sq) {
      const float stored = v * static_cast<float>(ncall);
      buf.append(reinterpret_cast<const char*>(&stored), 4);
    }
  }
  put_i32(ncall);
  const std::string ds = im.datasets.empty() ? std::string() : im.datasets.front();
  put_i32(static_cast<int32_t>(ds.size()));
  buf += ds;
  write_file_atomic(path, buf);
}

}  // namespace edgefit
