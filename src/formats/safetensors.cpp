#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace edgefit {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the spec's limit on the JSON header

struct DtypeName {
  const char* name;
  DType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", DType::F64},   {"F32", DType::F32},         {"F16", DType::F16},
    {"BF16", DType::BF16}, {"I64", DType::I64},         {"I32", DType::I32},
    {"I16", DType::I16},   {"I8", DType::I8},           {"U64", DType::U64},
    {"U32", DType::U32},   {"U16", DType::U16},         {"U8", DType::U8},
    {"BOOL", DType::BOOL}, {"F8_E4M3", DType::F8_E4M3}, {"F8_E5M2", DType::F8_E5M2},
};

}  // namespace

std::string safetensors_dtype_name(DType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw Error("type " + std::string(dtype_name(t)) + " cannot be stored in safetensors");
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)) {
  const uint64_t size = file_->size();
  if (size < 8) throw Error("truncated: no safetensors header length", path, 0);
  uint64_t n = 0;
  std::memcpy(&n, file_->data(), 8);
  if (n > kMaxHeader || n > size - 8)
    throw Error("header length " + std::to_string(n) + " exceeds the file or the 100 MB limit",
                path, 0);
  header_size_ = 8 + n;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file_->data() + 8, file_->data() + 8 + n);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what(), path, 8 + e.byte);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what(), path, 8);
  }
  if (!header.is_object()) throw Error("header is not a JSON object", path, 8);
  const uint64_t data_size = size - header_size_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error("__metadata__ is not an object", path, 8);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw Error("__metadata__." + m.key() + " is not a string", path, 8);
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) -> Error {
      return Error("tensor '" + name + "': " + what, path, 8);
    };
    if (!v.is_object()) throw bad("entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) throw bad("missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      throw bad("missing data_offsets [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    const DtypeName* found = nullptr;
    for (const auto& d : kDtypes)
      if (dt == d.name) found = &d;
    if (!found) throw bad("unknown dtype '" + dt + "'");
    e.dtype = found->type;
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw bad("shape holds a non-integer or negative extent");
      const uint64_t x = d.get<uint64_t>();
      if (x != 0 && numel > (uint64_t{1} << 50) / x) throw bad("absurd shape");
      numel *= x;
      e.shape.push_back(static_cast<int64_t>(x));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) throw bad("bad data_offsets");
    const uint64_t b = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (b > end || end > data_size)
      throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(end) +
                ") lie outside the " + std::to_string(data_size) + "-byte data section");
    const uint64_t expect = numel * dtype_info(e.dtype)->type_size;
    if (end - b != expect)
      throw bad("holds " + std::to_string(end - b) + " bytes but its shape needs " +
                std::to_string(expect));
    e.begin = header_size_ + b;
    e.nbytes = end - b;
    tensors_.push_back(std::move(e));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  for (size_t k = 1; k < tensors_.size(); ++k)
    if (tensors_[k - 1].begin + tensors_[k - 1].nbytes > tensors_[k].begin)
      throw Error("tensors '" + tensors_[k - 1].name + "' and '" + tensors_[k].name + "' overlap",
                  path, tensors_[k].begin);
  for (size_t k = 0; k < tensors_.size(); ++k) index_[tensors_[k].name] = k;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

TensorView SafetensorsFile::view(const SafetensorsEntry& e) const {
  if (e.shape.size() > kMaxDims)
    throw Error(
        "tensor '" + e.name + "' has " + std::to_string(e.shape.size()) + " dimensions (max 4)",
        path(), e.begin);
  return TensorView::contiguous(e.dtype, e.shape, data(e));
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorSpec>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const auto& t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    const uint64_t nb = numel * dtype_info(t.dtype)->type_size;
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + nb}}};
    offset += nb;
    sizes.push_back(nb);
  }
  std::string json = header.dump();
  json.resize((json.size() + 7) / 8 * 8, ' ');  // pad so the data starts 8-byte aligned
  AtomicFileWriter w(path);
  const uint64_t n = json.size();
  w.write(&n, 8);
  w.write(json);
  for (size_t k = 0; k < tensors.size(); ++k) {
    const uint64_t before = w.offset();
    tensors[k].write_data(w);
    if (w.offset() - before != sizes[k])
      throw Error("tensor '" + tensors[k].name + "': wrong number of bytes written", path);
  }
  w.commit();
}

}  // namespace edgefit
