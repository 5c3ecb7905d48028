#include "prune/sparse_formats.h"

#include <cctype>

#include "model/block_linears.h"

namespace edgefit {
namespace {

std::string lower_name(DType t) {
  std::string s(dtype_name(t));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "0.625": the smallest unstructured fraction whose every block keeps at most `capacity`.
std::string min_fraction_text(int capacity) {
  return SparsityPattern::unstructured(1.0 - static_cast<double>(capacity) / kSparseBlock)
      .to_string();
}

}  // namespace

int sparse_block_capacity(DType type) {
  switch (type) {
    case DType::Q4_2OF4:
    case DType::Q4_MASK50:
      return BlockQ4_Mask50::capacity;
    case DType::Q4_MASK62:
      return BlockQ4_Mask62::capacity;
    case DType::Q4_QMASK62:
      return BlockQ4_QMask62::capacity;
    default:
      return 0;
  }
}

std::string sparse_storage_misfit(DType type, const SparsityPattern& pattern, double owl_lambda) {
  const int cap = sparse_block_capacity(type);
  if (cap == 0) return "";
  const std::string name = lower_name(type);
  if (pattern.dense()) return name + " stores pruned weights only: it needs a --sparsity";
  if (type == DType::Q4_2OF4) {
    // Every aligned group of 4 keeps at most 2: N:M with M in {2, 4} and N / M <= 1/2.
    if (pattern.is_n_of_m() && 4 % pattern.m() == 0 && pattern.n() * 4 / pattern.m() <= 2)
      return "";
    return name + " keeps at most 2 of every 4 consecutive weights: it needs --sparsity 2:4, not " +
           pattern.to_string();
  }
  const std::string fits = " (" + name + " keeps at most " + std::to_string(cap) + " of every " +
                           std::to_string(kSparseBlock) + " weights: --sparsity " +
                           min_fraction_text(cap) + " or more)";
  if (pattern.is_n_of_m()) {
    if (kSparseBlock % pattern.m() == 0 && pattern.n() * (kSparseBlock / pattern.m()) <= cap)
      return "";
    return "--sparsity " + pattern.to_string() + " keeps more weights per block than " + name +
           " holds" + fits;
  }
  // Per row block [a, b), floor(f·b) − floor(f·a) >= floor(f·256) are pruned.
  const double lowest = owl_lambda >= 0 ? pattern.fraction() - owl_lambda : pattern.fraction();
  if (lowest > 0 && kSparseBlock - prune_count(lowest, kSparseBlock) <= cap) return "";
  if (owl_lambda >= 0)
    return "--owl lets a layer's sparsity go down to --sparsity − --owl-lambda = " +
           std::to_string(lowest) + ", more kept weights per block than " + name + " holds" +
           fits;
  return "--sparsity " + pattern.to_string() + " keeps more weights per block than " + name +
         " holds" + fits;
}

std::optional<DType> sparse_storage_type(std::string_view name) {
  const std::optional<DType> t = dtype_from_name(name);
  if (!t || !is_sparse_dtype(*t)) return std::nullopt;
  return t;
}

TensorTypeOverride sparse_block_override(DType type) {
  std::string alt;
  for (std::string_view s : kBlockLinearSuffixes) {
    if (!alt.empty()) alt += "|";
    for (char c : s) {
      if (c == '.') alt += '\\';
      alt += c;
    }
  }
  TensorTypeOverride o;
  o.pattern = "^blk\\.[0-9]+\\.(" + alt + ")$";
  o.re = std::regex(o.pattern, std::regex::ECMAScript);
  o.type = type;
  o.source = "--type";  // the listing notes "--type Q4_2OF4"
  return o;
}

}  // namespace edgefit
