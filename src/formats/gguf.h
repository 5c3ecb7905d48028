// GGUF v3 (also reads v2): the file format llama.cpp loads. Layout, all little-endian:
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv × (string key | u32 value_type | value)
//   n_tensors × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
//   zero padding to `general.alignment` (default 32) | tensor data (each tensor aligned)
// A string is u64 length + bytes (no NUL); an array is u32 element type + u64 count + elements,
// and elements may themselves be arrays.
//
// GgufFile reads a file through a read-only mmap: parsing touches only the header, and tensor
// views point straight into the mapping. Every count, length and offset is checked against the
// file size before anything is allocated, so a hostile file yields an Error with its byte offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace edgefit {

enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// One metadata value. Scalars keep their exact GGUF type so writing reproduces the bytes.
struct GgufValue {
  GgufType type = GgufType::U32;      // value type as stored
  uint64_t u = 0;                     // U8/U16/U32/U64 and BOOL (0/1)
  int64_t i = 0;                      // I8/I16/I32/I64
  double f = 0;                       // F32/F64 (F32 is exact in a double)
  std::string str{};                  // STRING
  GgufType elem_type = GgufType::U8;  // ARRAY: element type
  std::vector<GgufValue> arr{};       // ARRAY: elements

  // Each factory names its field once (designated initializers; the others keep their defaults).
  static GgufValue make_u32(uint32_t v) { return {.type = GgufType::U32, .u = v}; }
  static GgufValue make_i32(int32_t v) { return {.type = GgufType::I32, .i = v}; }
  static GgufValue make_u64(uint64_t v) { return {.type = GgufType::U64, .u = v}; }
  static GgufValue make_f32(float v) { return {.type = GgufType::F32, .f = v}; }
  static GgufValue make_bool(bool v) { return {.type = GgufType::BOOL, .u = v}; }
  static GgufValue make_string(std::string v) {
    return {.type = GgufType::STRING, .str = std::move(v)};
  }
  static GgufValue make_array(GgufType elem, std::vector<GgufValue> items) {
    return {.type = GgufType::ARRAY, .elem_type = elem, .arr = std::move(items)};
  }
  static GgufValue make_string_array(const std::vector<std::string>& items);
  static GgufValue make_f32_array(const std::vector<float>& items);
  static GgufValue make_i32_array(const std::vector<int32_t>& items);

  bool is_integer() const;
  // Numeric value as a signed/unsigned/float number; throws Error if not numeric.
  int64_t as_int() const;
  double as_double() const;
  // Short human-readable rendering ("[8192 strings]" for big arrays), for `inspect`.
  std::string to_display(size_t max_items = 8) const;
};

struct GgufKV {
  std::string key;  // e.g. "general.architecture"
  GgufValue value;  // its value
};

struct GgufTensorInfo {
  std::string name;          // e.g. "blk.0.attn_q.weight"
  DType type;                // ggml type
  std::vector<uint64_t> ne;  // extents innermost first, as in the file (ne[0] = row length)
  uint64_t offset;           // from the start of the data section
  uint64_t nbytes;           // exact byte size from type and extents
  uint64_t info_offset;      // file offset of this tensor's info record (for errors)
};

class GgufFile {
 public:
  // Opens and validates `path`; throws Error (with byte offset) on any malformed content.
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the tensor data
  uint64_t file_size() const { return file_.size(); }

  const std::vector<GgufKV>& kvs() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  // Typed getters; throw Error naming the key when absent or of the wrong kind.
  const GgufValue& get(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  std::optional<int64_t> get_int_opt(std::string_view key) const;
  std::optional<double> get_double_opt(std::string_view key) const;
  std::optional<std::string> get_string_opt(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // View of a tensor's bytes inside the mapping; shape outermost first (ne reversed).
  TensorView view(const GgufTensorInfo& t) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const {
    return file_.data() + data_offset_ + t.offset;
  }

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKV> kvs_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace edgefit
