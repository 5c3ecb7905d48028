#include "core/dtype.h"

#include "core/strings.h"

namespace edgefit {

const DTypeInfo* dtype_info_from_ggml(uint32_t ggml_id) {
  if (ggml_id >= 1000) return nullptr;  // our own ids are not valid in a GGUF file
  return dtype_info(static_cast<DType>(ggml_id));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kDTypes)
    if (ascii_iequal(info.name, name)) return info.type;
  return std::nullopt;
}

std::string_view dtype_name(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info ? info->name : std::string_view("?");
}

std::optional<uint64_t> dtype_bytes(DType t, uint64_t n_elements) {
  const DTypeInfo* info = dtype_info(t);
  if (!info || n_elements % info->block_size != 0) return std::nullopt;
  const uint64_t blocks = n_elements / info->block_size;
  if (blocks > UINT64_MAX / info->type_size) return std::nullopt;
  return blocks * info->type_size;
}

double dtype_bits_per_weight(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info ? 8.0 * info->type_size / info->block_size : 0.0;
}

}  // namespace edgefit
