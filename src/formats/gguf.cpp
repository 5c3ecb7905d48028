#include "formats/gguf.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/utf8.h"
#include "formats/byte_reader.h"

namespace edgefit {
namespace {

constexpr uint32_t kMaxGgufDims = 4;    // ggml tensors have at most 4 dimensions
constexpr uint32_t kMaxArrayDepth = 8;  // nesting limit keeps recursion bounded

// Smallest number of bytes an element of type t can take in the file; used to reject counts
// the remaining bytes cannot possibly hold before allocating anything.
uint64_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    case GgufType::STRING:
      return 8;
    case GgufType::ARRAY:
      return 12;
  }
  return 1;
}

bool valid_type(uint32_t t) {
  return t <= static_cast<uint32_t>(GgufType::F64);
}

std::string read_string(ByteReader& r, const char* what) {
  const uint64_t start = r.pos();
  const uint64_t len = r.read<uint64_t>(what);
  if (len > r.remaining())
    r.fail_at(start, std::string(what) + " length " + std::to_string(len) + " exceeds the file");
  return std::string(r.read_bytes(len, what));
}

GgufValue read_value(ByteReader& r, GgufType type, uint32_t depth);

GgufValue read_array(ByteReader& r, uint32_t depth) {
  const uint64_t start = r.pos();
  if (depth >= kMaxArrayDepth) r.fail("arrays nested more than 8 deep");
  const uint32_t et = r.read<uint32_t>("array element type");
  if (!valid_type(et)) r.fail_at(start, "unknown array element type " + std::to_string(et));
  const auto elem = static_cast<GgufType>(et);
  const uint64_t count = r.read<uint64_t>("array length");
  if (count > r.remaining() / min_encoded_size(elem))
    r.fail_at(start, "array of " + std::to_string(count) + " elements exceeds the file");
  GgufValue v;
  v.type = GgufType::ARRAY;
  v.elem_type = elem;
  v.arr.reserve(count);
  for (uint64_t k = 0; k < count; ++k) v.arr.push_back(read_value(r, elem, depth + 1));
  return v;
}

GgufValue read_value(ByteReader& r, GgufType type, uint32_t depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::U8:
      v.u = r.read<uint8_t>("u8");
      break;
    case GgufType::I8:
      v.i = r.read<int8_t>("i8");
      break;
    case GgufType::U16:
      v.u = r.read<uint16_t>("u16");
      break;
    case GgufType::I16:
      v.i = r.read<int16_t>("i16");
      break;
    case GgufType::U32:
      v.u = r.read<uint32_t>("u32");
      break;
    case GgufType::I32:
      v.i = r.read<int32_t>("i32");
      break;
    case GgufType::F32:
      v.f = r.read<float>("f32");
      break;
    case GgufType::U64:
      v.u = r.read<uint64_t>("u64");
      break;
    case GgufType::I64:
      v.i = r.read<int64_t>("i64");
      break;
    case GgufType::F64:
      v.f = r.read<double>("f64");
      break;
    case GgufType::BOOL: {
      const uint64_t at = r.pos();
      v.u = r.read<uint8_t>("bool");
      if (v.u > 1) r.fail_at(at, "bool value " + std::to_string(v.u) + " is not 0 or 1");
      break;
    }
    case GgufType::STRING:
      v.str = read_string(r, "string");
      break;
    case GgufType::ARRAY:
      return read_array(r, depth);
  }
  return v;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  static constexpr std::string_view names[] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                               "i32", "f32", "bool", "string", "array",
                                               "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "?";
}

namespace {
// An array of `elem` values, each element made from one item by `make` (GgufValue::make_*).
template <class T, class Make>
GgufValue array_of(GgufType elem, const std::vector<T>& items, Make make) {
  std::vector<GgufValue> v;
  v.reserve(items.size());
  for (const T& x : items) v.push_back(make(x));
  return GgufValue::make_array(elem, std::move(v));
}
}  // namespace

GgufValue GgufValue::make_string_array(const std::vector<std::string>& items) {
  return array_of(GgufType::STRING, items, [](const std::string& s) { return make_string(s); });
}

GgufValue GgufValue::make_f32_array(const std::vector<float>& items) {
  return array_of(GgufType::F32, items, make_f32);
}

GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& items) {
  return array_of(GgufType::I32, items, make_i32);
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::U16:
    case GgufType::I16:
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::BOOL:
      return true;
    default:
      return false;
  }
}

int64_t GgufValue::as_int() const {
  switch (type) {
    case GgufType::U8:
    case GgufType::U16:
    case GgufType::U32:
    case GgufType::U64:
    case GgufType::BOOL:
      return static_cast<int64_t>(u);
    case GgufType::I8:
    case GgufType::I16:
    case GgufType::I32:
    case GgufType::I64:
      return i;
    case GgufType::F32:
    case GgufType::F64:
      return static_cast<int64_t>(f);
    default:
      throw Error("value of type " + std::string(gguf_type_name(type)) + " is not a number");
  }
}

double GgufValue::as_double() const {
  if (type == GgufType::F32 || type == GgufType::F64) return f;
  return static_cast<double>(as_int());
}

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream s;
  switch (type) {
    case GgufType::STRING:
      s << '"' << (str.size() > 60 ? str.substr(0, 57) + "..." : str) << '"';
      break;
    case GgufType::ARRAY:
      if (arr.size() > max_items) {
        s << "[" << arr.size() << " " << gguf_type_name(elem_type) << "]";
      } else {
        s << "[";
        for (size_t k = 0; k < arr.size(); ++k)
          s << (k ? ", " : "") << arr[k].to_display(max_items);
        s << "]";
      }
      break;
    case GgufType::BOOL:
      s << (u ? "true" : "false");
      break;
    case GgufType::F32:
    case GgufType::F64:
      s << f;
      break;
    default:
      s << as_int();
  }
  return s.str();
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
  ByteReader r(file_.data(), file_.size(), path);
  const std::string_view magic = r.read_bytes(4, "magic");
  if (magic != "GGUF") r.fail_at(0, "not a GGUF file (bad magic)");
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    r.fail_at(4, "unsupported GGUF version " + std::to_string(version_) + " (need 2 or 3)");
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  // Each KV takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 28.
  if (n_kv > r.remaining() / 13)
    r.fail_at(16, "metadata count " + std::to_string(n_kv) + " exceeds the file");
  if (n_tensors > r.remaining() / 28)
    r.fail_at(8, "tensor count " + std::to_string(n_tensors) + " exceeds the file");

  kvs_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = r.pos();
    GgufKV kv;
    kv.key = read_string(r, "metadata key");
    if (kv.key.empty() || !is_valid_utf8(kv.key))
      r.fail_at(at, "metadata key is empty or not valid UTF-8");
    const uint32_t t = r.read<uint32_t>("metadata value type");
    if (!valid_type(t))
      r.fail_at(at, "metadata '" + kv.key + "' has unknown type " + std::to_string(t));
    kv.value = read_value(r, static_cast<GgufType>(t), 0);
    if (!kv_index_.emplace(kv.key, kvs_.size()).second)
      r.fail_at(at, "duplicate metadata key '" + kv.key + "'");
    kvs_.push_back(std::move(kv));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->as_int() <= 0 || (a->as_int() & (a->as_int() - 1)) != 0 ||
        a->as_int() > (1 << 20))
      throw Error("general.alignment must be a power of two up to 1 MiB", path);
    alignment_ = static_cast<uint64_t>(a->as_int());
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.info_offset = r.pos();
    t.name = read_string(r, "tensor name");
    if (t.name.empty() || !is_valid_utf8(t.name))
      r.fail_at(t.info_offset, "tensor name is empty or not valid UTF-8");
    const uint32_t n_dims = r.read<uint32_t>("tensor dims");
    if (n_dims == 0 || n_dims > kMaxGgufDims)
      r.fail_at(t.info_offset, "tensor '" + t.name + "' has " + std::to_string(n_dims) +
                                   " dimensions (1-4 allowed)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.read<uint64_t>("tensor extent");
      if (ne == 0 || ne > (uint64_t{1} << 40) || numel > (uint64_t{1} << 50) / ne)
        r.fail_at(t.info_offset,
                  "tensor '" + t.name + "' has an absurd extent " + std::to_string(ne));
      numel *= ne;
      t.ne.push_back(ne);
    }
    const uint32_t type = r.read<uint32_t>("tensor type");
    const DTypeInfo* info = dtype_info_from_ggml(type);
    if (!info || info->block_size == 0)
      r.fail_at(t.info_offset,
                "tensor '" + t.name + "' has unknown ggml type " + std::to_string(type));
    t.type = info->type;
    if (t.ne[0] % info->block_size != 0)
      r.fail_at(t.info_offset, "tensor '" + t.name + "' row of " + std::to_string(t.ne[0]) +
                                   " is not a multiple of the " + std::string(info->name) +
                                   " block size");
    t.nbytes = *dtype_bytes(t.type, numel);
    t.offset = r.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0)
      r.fail_at(t.info_offset,
                "tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not aligned");
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      r.fail_at(t.info_offset, "duplicate tensor name '" + t.name + "'");
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (n_tensors > 0 && data_offset_ > file_.size())
    throw Error("truncated: tensor data section starts past the end", path, r.pos());
  // Every tensor must lie inside the file, and no two may overlap.
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(tensors_.size());
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const auto& t = tensors_[k];
    const uint64_t avail = file_.size() - data_offset_;
    if (t.offset > avail || t.nbytes > avail - t.offset)
      throw Error("tensor '" + t.name + "' data [" + std::to_string(data_offset_ + t.offset) +
                      ", +" + std::to_string(t.nbytes) + ") lies past the end of the file (" +
                      std::to_string(file_.size()) + " bytes)",
                  path, t.info_offset);
    order.emplace_back(t.offset, k);
  }
  std::sort(order.begin(), order.end());
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = tensors_[order[k - 1].second];
    const auto& cur = tensors_[order[k].second];
    if (prev.offset + prev.nbytes > cur.offset)
      throw Error("tensors '" + prev.name + "' and '" + cur.name + "' overlap", path,
                  cur.info_offset);
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error("missing metadata key '" + std::string(key) + "'", path());
  return *v;
}

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = get(key);
  if (v.type != GgufType::STRING)
    throw Error("metadata '" + std::string(key) + "' is " + std::string(gguf_type_name(v.type)) +
                    ", expected string",
                path());
  return v.str;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue& v = get(key);
  if (!v.is_integer())
    throw Error("metadata '" + std::string(key) + "' is " + std::string(gguf_type_name(v.type)) +
                    ", expected an integer",
                path());
  return v.as_int();
}

double GgufFile::get_double(std::string_view key) const {
  const GgufValue& v = get(key);
  if (!v.is_integer() && v.type != GgufType::F32 && v.type != GgufType::F64)
    throw Error("metadata '" + std::string(key) + "' is not a number", path());
  return v.as_double();
}

std::optional<int64_t> GgufFile::get_int_opt(std::string_view key) const {
  if (!find(key)) return std::nullopt;
  return get_int(key);
}
std::optional<double> GgufFile::get_double_opt(std::string_view key) const {
  if (!find(key)) return std::nullopt;
  return get_double(key);
}
std::optional<std::string> GgufFile::get_string_opt(std::string_view key) const {
  if (!find(key)) return std::nullopt;
  return get_string(key);
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::view(const GgufTensorInfo& t) const {
  std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
  return TensorView::contiguous(t.type, shape, tensor_data(t));
}

}  // namespace edgefit
