// Element types of tensors: plain numbers (float, int, bool, fp8) and ggml's quantized block
// formats, carried opaquely with their exact block size and bytes per block.
//
// Quantized types use ggml's numeric ids (the `ggml_type` enum written into GGUF files), so a
// GGUF tensor type maps to a DType by value. Types ggml does not have (U8, BOOL, F8…, from
// safetensors) get ids from 1000 up; edgefit's own sparse GGUF types use 200–202.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgefit {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  // edgefit's own sparse GGUF types (quant/q_sparse.h), far above ggml's ids so that a future
  // ggml type never collides; llama.cpp rejects them as an invalid tensor type, and such files
  // carry `edgefit.sparse = true` to say why.
  Q4_2OF4 = 200,     // 2:4 sparse, kept values as Q4_0: 104 bytes per 256 weights
  Q4_MASK50 = 201,   // bitmask + up to 128 of 256 values as Q4_0: 104 bytes per 256 weights
  Q4_MASK62 = 202,   // bitmask + up to 96 of 256 values as Q4_0: 86 bytes per 256 weights
  Q4_QMASK62 = 203,  // bitmask + a scale per 64-weight quarter + up to 96 levels: 88 bytes
  // not in ggml: safetensors-only element types
  U8 = 1000,
  U16,
  U32,
  U64,
  BOOL,
  F8_E4M3,
  F8_E5M2,
};

// Static facts about one element type.
struct DTypeInfo {
  DType type;             // the type described
  std::string_view name;  // canonical upper-case name ("F32", "Q4_K", …) as llama.cpp prints it
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t type_size;     // bytes per block
  bool quantized;         // true for ggml block formats (opaque bytes)
};

// The raw table, one row per type: what a GGUF reader needs of every type, those we cannot
// quantize included. Block layouts follow ggml-common.h (sizes checked against real GGUF files
// in tests/formats). QK_K super-blocks hold 256 weights. In the header so that the tables above
// (quant/quant_traits, the kernels' formats) take block sizes and bytes from here at compile time
// instead of repeating them.
inline constexpr DTypeInfo kDTypes[] = {
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
    {DType::Q4_QMASK62, "Q4_QMASK62", 256, 88, true},
};

// Info for a dtype; nullptr for an id that is not a known type (e.g. from a hostile file).
constexpr const DTypeInfo* dtype_info(DType t) {
  for (const DTypeInfo& info : kDTypes)
    if (info.type == t) return &info;
  return nullptr;
}
// The row for t by value, for compile-time checks (a type not in the table gives block_size and
// type_size 0). Compile-time code uses this rather than comparing dtype_info's pointer with
// nullptr: GCC does not fold that comparison under the sanitizers' -fno-delete-null-pointer-checks.
constexpr DTypeInfo dtype_row(DType t) {
  for (const DTypeInfo& info : kDTypes)
    if (info.type == t) return info;
  return DTypeInfo{t, "", 0, 0, false};
}
// Same, from a raw ggml type id as stored in a GGUF file.
const DTypeInfo* dtype_info_from_ggml(uint32_t ggml_id);
// Parse a name, case-insensitive ("q4_k", "F16"); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);
std::string_view dtype_name(DType t);
// True for edgefit's own sparse GGUF types (Q4_2OF4, Q4_MASK50, Q4_MASK62, Q4_QMASK62).
constexpr bool is_sparse_dtype(DType t) {
  return t == DType::Q4_2OF4 || t == DType::Q4_MASK50 || t == DType::Q4_MASK62 ||
         t == DType::Q4_QMASK62;
}

// Bytes that n_elements of type t occupy, or nullopt if n_elements is not a whole number of blocks
// or the result would overflow.
std::optional<uint64_t> dtype_bytes(DType t, uint64_t n_elements);

// Bits per weight of a type (type_size * 8 / block_size).
double dtype_bits_per_weight(DType t);

}  // namespace edgefit
