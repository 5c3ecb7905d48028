#include "core/dtype.h"

#include <array>
#include <cctype>

namespace edgefit {
namespace {

// One row per type. Block layouts follow ggml-common.h (sizes checked against real GGUF files
// in tests/formats). QK_K super-blocks hold 256 weights.
constexpr std::array<DTypeInfo, 42> kTypes = {{
    {DType::F32, "F32", 1, 4, false},
    {DType::F16, "F16", 1, 2, false},
    {DType::Q4_0, "Q4_0", 32, 18, true},
    {DType::Q4_1, "Q4_1", 32, 20, true},
    {DType::Q5_0, "Q5_0", 32, 22, true},
    {DType::Q5_1, "Q5_1", 32, 24, true},
    {DType::Q8_0, "Q8_0", 32, 34, true},
    {DType::Q8_1, "Q8_1", 32, 36, true},
    {DType::Q2_K, "Q2_K", 256, 84, true},
    {DType::Q3_K, "Q3_K", 256, 110, true},
    {DType::Q4_K, "Q4_K", 256, 144, true},
    {DType::Q5_K, "Q5_K", 256, 176, true},
    {DType::Q6_K, "Q6_K", 256, 210, true},
    {DType::Q8_K, "Q8_K", 256, 292, true},
    {DType::IQ2_XXS, "IQ2_XXS", 256, 66, true},
    {DType::IQ2_XS, "IQ2_XS", 256, 74, true},
    {DType::IQ3_XXS, "IQ3_XXS", 256, 98, true},
    {DType::IQ1_S, "IQ1_S", 256, 50, true},
    {DType::IQ4_NL, "IQ4_NL", 32, 18, true},
    {DType::IQ3_S, "IQ3_S", 256, 110, true},
    {DType::IQ2_S, "IQ2_S", 256, 82, true},
    {DType::IQ4_XS, "IQ4_XS", 256, 136, true},
    {DType::I8, "I8", 1, 1, false},
    {DType::I16, "I16", 1, 2, false},
    {DType::I32, "I32", 1, 4, false},
    {DType::I64, "I64", 1, 8, false},
    {DType::F64, "F64", 1, 8, false},
    {DType::IQ1_M, "IQ1_M", 256, 56, true},
    {DType::BF16, "BF16", 1, 2, false},
    {DType::TQ1_0, "TQ1_0", 256, 54, true},
    {DType::TQ2_0, "TQ2_0", 256, 66, true},
    {DType::MXFP4, "MXFP4", 32, 17, true},
    {DType::U8, "U8", 1, 1, false},
    {DType::U16, "U16", 1, 2, false},
    {DType::U32, "U32", 1, 4, false},
    {DType::U64, "U64", 1, 8, false},
    {DType::BOOL, "BOOL", 1, 1, false},
    {DType::F8_E4M3, "F8_E4M3", 1, 1, false},
    {DType::F8_E5M2, "F8_E5M2", 1, 1, false},
    {DType::Q4_2OF4, "Q4_2OF4", 256, 104, true},
    {DType::Q4_MASK50, "Q4_MASK50", 256, 104, true},
    {DType::Q4_MASK62, "Q4_MASK62", 256, 86, true},
}};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const DTypeInfo* dtype_info(DType t) {
  for (const auto& info : kTypes)
    if (info.type == t) return &info;
  return nullptr;
}

const DTypeInfo* dtype_info_from_ggml(uint32_t ggml_id) {
  if (ggml_id >= 1000) return nullptr;  // our own ids are not valid in a GGUF file
  return dtype_info(static_cast<DType>(ggml_id));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kTypes)
    if (iequal(info.name, name)) return info.type;
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
