#include "formats/gguf_writer.h"

#include <cstring>

namespace edgefit {
namespace {

template <typename T>
void put(AtomicFileWriter& w, T v) {
  w.write(&v, sizeof v);
}

void put_string(AtomicFileWriter& w, const std::string& s) {
  put<uint64_t>(w, s.size());
  w.write(s);
}

void put_value(AtomicFileWriter& w, const GgufValue& v) {
  switch (v.type) {
    case GgufType::U8:
      put<uint8_t>(w, static_cast<uint8_t>(v.u));
      break;
    case GgufType::I8:
      put<int8_t>(w, static_cast<int8_t>(v.i));
      break;
    case GgufType::U16:
      put<uint16_t>(w, static_cast<uint16_t>(v.u));
      break;
    case GgufType::I16:
      put<int16_t>(w, static_cast<int16_t>(v.i));
      break;
    case GgufType::U32:
      put<uint32_t>(w, static_cast<uint32_t>(v.u));
      break;
    case GgufType::I32:
      put<int32_t>(w, static_cast<int32_t>(v.i));
      break;
    case GgufType::F32:
      put<float>(w, static_cast<float>(v.f));
      break;
    case GgufType::U64:
      put<uint64_t>(w, v.u);
      break;
    case GgufType::I64:
      put<int64_t>(w, v.i);
      break;
    case GgufType::F64:
      put<double>(w, v.f);
      break;
    case GgufType::BOOL:
      put<uint8_t>(w, v.u ? 1 : 0);
      break;
    case GgufType::STRING:
      put_string(w, v.str);
      break;
    case GgufType::ARRAY:
      put<uint32_t>(w, static_cast<uint32_t>(v.elem_type));
      put<uint64_t>(w, v.arr.size());
      for (const auto& e : v.arr) put_value(w, e);
      break;
  }
}

uint64_t tensor_bytes(const GgufTensorSpec& t) {
  uint64_t n = 1;
  for (uint64_t e : t.ne) n *= e;
  auto b = dtype_bytes(t.type, n);
  if (!b) throw Error("tensor '" + t.name + "': extents do not fit its type's block size");
  return *b;
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& kv : kvs_)
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  if (key == "general.alignment") alignment_ = static_cast<uint64_t>(value.as_int());
  kvs_.push_back({key, std::move(value)});
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(kvs_, [&](const GgufKV& kv) { return kv.key == key; });
}

const GgufValue* GgufWriter::find(const std::string& key) const {
  for (const auto& kv : kvs_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

void GgufWriter::add_tensor(GgufTensorSpec spec) {
  // A file with edgefit's own sparse types says so: other tools' "invalid type" becomes
  // explainable (README, quant/q_sparse.h).
  if (is_sparse_dtype(spec.type)) set("edgefit.sparse", GgufValue::make_bool(true));
  tensors_.push_back(std::move(spec));
}

void GgufWriter::add_tensor(const std::string& name, DType type, std::vector<uint64_t> ne,
                            const void* data) {
  GgufTensorSpec spec{name, type, std::move(ne), nullptr};
  const uint64_t n = tensor_bytes(spec);
  spec.write_data = [data, n](AtomicFileWriter& w) { w.write(data, n); };
  add_tensor(std::move(spec));
}

void GgufWriter::write(const std::string& path) const {
  if (const GgufValue* a = find("general.alignment")) {
    if (static_cast<uint64_t>(a->as_int()) != alignment_)
      throw Error("general.alignment disagrees with the writer's alignment");
  }
  AtomicFileWriter w(path);
  w.write("GGUF", 4);
  put<uint32_t>(w, 3);
  put<uint64_t>(w, tensors_.size());
  put<uint64_t>(w, kvs_.size());
  for (const auto& kv : kvs_) {
    put_string(w, kv.key);
    put<uint32_t>(w, static_cast<uint32_t>(kv.value.type));
    put_value(w, kv.value);
  }
  auto align = [&](uint64_t x) { return (x + alignment_ - 1) / alignment_ * alignment_; };
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(w, t.name);
    put<uint32_t>(w, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t e : t.ne) put<uint64_t>(w, e);
    put<uint32_t>(w, static_cast<uint32_t>(t.type));
    put<uint64_t>(w, offset);
    offset = align(offset + tensor_bytes(t));
  }
  // llama.cpp pads the header to the alignment only when tensor data follows (vocab-only files
  // end right after the metadata).
  if (!tensors_.empty()) w.write_zeros(align(w.offset()) - w.offset());
  const uint64_t data_start = w.offset();
  for (const auto& t : tensors_) {
    const uint64_t before = w.offset();
    t.write_data(w);
    const uint64_t wrote = w.offset() - before;
    if (wrote != tensor_bytes(t))
      throw Error("tensor '" + t.name + "': wrote " + std::to_string(wrote) + " bytes, expected " +
                      std::to_string(tensor_bytes(t)),
                  path);
    w.write_zeros(align(w.offset() - data_start) - (w.offset() - data_start));
  }
  w.commit();
}

GgufWriter gguf_writer_from(const GgufFile& src) {
  GgufWriter w;
  w.set_alignment(src.alignment());
  for (const auto& kv : src.kvs()) w.set(kv.key, kv.value);
  for (const auto& t : src.tensors()) w.add_tensor(t.name, t.type, t.ne, src.tensor_data(t));
  return w;
}

}  // namespace edgefit
