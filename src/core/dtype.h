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
  Q4_2OF4 = 200,    // 2:4 sparse, kept values as Q4_0: 104 bytes per 256 weights
  Q4_MASK50 = 201,  // bitmask + up to 128 of 256 values as Q4_0: 104 bytes per 256 weights
  Q4_MASK62 = 202,  // bitmask + up to 96 of 256 values as Q4_0: 86 bytes per 256 weights
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

// Info for a dtype; nullptr for an id that is not a known type (e.g. from a hostile file).
const DTypeInfo* dtype_info(DType t);
// Same, from a raw ggml type id as stored in a GGUF file.
const DTypeInfo* dtype_info_from_ggml(uint32_t ggml_id);
// Parse a name, case-insensitive ("q4_k", "F16"); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);
std::string_view dtype_name(DType t);
// True for edgefit's own sparse GGUF types (Q4_2OF4, Q4_MASK50, Q4_MASK62).
constexpr bool is_sparse_dtype(DType t) {
  return t == DType::Q4_2OF4 || t == DType::Q4_MASK50 || t == DType::Q4_MASK62;
}

// Bytes that n_elements of type t occupy, or nullopt if n_elements is not a whole number of blocks
// or the result would overflow.
std::optional<uint64_t> dtype_bytes(DType t, uint64_t n_elements);

// Bits per weight of a type (type_size * 8 / block_size).
double dtype_bits_per_weight(DType t);

}  // namespace edgefit
