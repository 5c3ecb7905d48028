#include "prune/sparse_formats.h"

#include <cstdio>

#include "core/strings.h"
#include "model/block_linears.h"

namespace edgefit {
namespace {

std::string lower_name(DType t) {
  return ascii_lower(dtype_name(t));
}

// A fraction as a user writes it ("0.6", not to_string()'s round-trip "0.59999999999999998").
std::string short_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// "0.6" or "2:4" for messages.
std::string short_pattern(const SparsityPattern& p) {
  return p.is_n_of_m() ? p.to_string() : short_number(p.fraction());
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

int64_t sparse_mask_block(DType type) {
  if (sparse_block_capacity(type) == 0) return 0;
  return type == DType::Q4_QMASK62 ? 32 : kSparseBlock;
}

int sparse_run_capacity(DType type) {
  return static_cast<int>(sparse_block_capacity(type) * sparse_mask_block(type) / kSparseBlock);
}

std::string sparse_storage_misfit(DType type, const SparsityPattern& pattern, double owl_lambda) {
  const int cap = sparse_run_capacity(type);
  const int64_t run = sparse_mask_block(type);
  if (cap == 0) return "";
  const std::string name = lower_name(type);
  if (pattern.dense()) return name + " stores pruned weights only: it needs a --sparsity";
  if (type == DType::Q4_2OF4) {
    // Every aligned group of 4 keeps at most 2: N:M with M in {2, 4} and N / M <= 1/2.
    if (pattern.is_n_of_m() && 4 % pattern.m() == 0 && pattern.n() * 4 / pattern.m() <= 2)
      return "";
    return name + " keeps at most 2 of every 4 consecutive weights: it needs --sparsity 2:4, not " +
           short_pattern(pattern);
  }
  const std::string fits = " (" + name + " keeps at most " + std::to_string(cap) + " of every " +
                           std::to_string(run) + " weights: --sparsity " +
                           short_number(1.0 - static_cast<double>(cap) / static_cast<double>(run)) +
                           " or more)";
  const std::string per = run == kSparseBlock ? "block" : std::to_string(run) + "-weight run";
  if (pattern.is_n_of_m()) {
    // Whole groups in every run, N kept in each (a group wider than the run could keep all of
    // its N in one run).
    if (run % pattern.m() == 0 && pattern.n() * (run / pattern.m()) <= cap) return "";
    return "--sparsity " + short_pattern(pattern) + " keeps more weights per " + per + " than " +
           name + " holds" + fits;
  }
  // Per run [a, b), floor(f·b) − floor(f·a) >= floor(f·run) are pruned.
  const double lowest = owl_lambda >= 0 ? pattern.fraction() - owl_lambda : pattern.fraction();
  if (lowest > 0 && run - prune_count(lowest, run) <= cap) return "";
  if (owl_lambda >= 0)
    return "--owl lets a layer's sparsity go down to --sparsity − --owl-lambda = " +
           short_number(lowest) + ", more kept weights per " + per + " than " + name + " holds" +
           fits + "; raise --sparsity or lower --owl-lambda";
  return "--sparsity " + short_pattern(pattern) + " keeps more weights per " + per + " than " +
         name + " holds" + fits;
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
