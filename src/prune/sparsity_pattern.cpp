// SparsityPattern: construction with checks, text form, row compatibility.
#include "prune/sparsity_pattern.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace edgefit {

SparsityPattern SparsityPattern::unstructured(double fraction) {
  // Written so that NaN fails too.
  if (!(fraction >= 0 && fraction < 1))
    throw Error("sparsity fraction " + std::to_string(fraction) + " is outside [0, 1)");
  SparsityPattern p;
  p.fraction_ = fraction;
  return p;
}

SparsityPattern SparsityPattern::n_of_m(int n, int m) {
  if (!(n >= 1 && n < m && m <= 256))
    throw Error("sparsity pattern " + std::to_string(n) + ":" + std::to_string(m) +
                " is impossible: N:M needs 1 <= N < M <= 256");
  SparsityPattern p;
  p.kind_ = Kind::kNOfM;
  p.n_ = n;
  p.m_ = m;
  return p;
}

namespace {

// Parses all of [first, last) as an integer; false when anything is left over.
bool parse_int(const char* first, const char* last, int& out) {
  const auto r = std::from_chars(first, last, out);
  return r.ec == std::errc() && r.ptr == last;
}

}  // namespace

SparsityPattern SparsityPattern::parse(const std::string& text) {
  const char* b = text.data();
  const char* e = b + text.size();
  if (const auto colon = text.find(':'); colon != std::string::npos) {
    int n = 0, m = 0;
    if (!parse_int(b, b + colon, n) || !parse_int(b + colon + 1, e, m))
      throw Error("sparsity pattern '" + text + "' is not N:M with integers N and M");
    return n_of_m(n, m);
  }
  double f = 0;
  const auto r = std::from_chars(b, e, f);
  if (text.empty() || r.ec != std::errc() || r.ptr != e)
    throw Error("sparsity pattern '" + text + "' is neither a fraction (0.5) nor N:M (2:4)");
  return unstructured(f);
}

double SparsityPattern::sparsity() const {
  return kind_ == Kind::kNOfM ? static_cast<double>(m_ - n_) / m_ : fraction_;
}

std::string SparsityPattern::to_string() const {
  if (kind_ == Kind::kNOfM) return std::to_string(n_) + ":" + std::to_string(m_);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", fraction_);  // round-trips through parse()
  return buf;
}

void SparsityPattern::check_row(int64_t row_len, const std::string& what) const {
  if (kind_ != Kind::kNOfM || (row_len > 0 && row_len % m_ == 0)) return;
  throw Error("sparsity " + to_string() + " needs rows that are a whole number of groups of " +
              std::to_string(m_) + ", but " + (what.empty() ? std::string("the") : what) +
              " rows have " + std::to_string(row_len) + " inputs");
}

int64_t prune_count(double fraction, int64_t n) {
  const double x = fraction * static_cast<double>(n);
  return static_cast<int64_t>(std::floor(x * (1 + 1e-12)));
}

}  // namespace edgefit
