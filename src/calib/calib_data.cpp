#include "calib/calib_data.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/atomic_file.h"
#include "core/error.h"

namespace edgefit {

CalibrationWindows draw_calibration_windows(const Tokenizer& tok, const CalibrationDraw& o) {
  if (o.files.empty()) throw Error("no calibration files given");
  if (!o.weights.empty() && o.weights.size() != o.files.size())
    throw Error("calibration weights: " + std::to_string(o.weights.size()) + " given for " +
                std::to_string(o.files.size()) + " files");
  for (double w : o.weights)
    if (!(w >= 0) || !std::isfinite(w)) throw Error("calibration weights must be finite and >= 0");
  if (o.ctx <= 0) throw Error("calibration window length must be positive");
  const size_t ctx = static_cast<size_t>(o.ctx);
  const size_t n_files = o.files.size();

  std::vector<std::vector<int32_t>> tokens(n_files);
  size_t fewest = SIZE_MAX;
  for (size_t f = 0; f < n_files; ++f) {
    tokens[f] = tok.encode(read_file(o.files[f]), /*add_special=*/true, /*parse_special=*/false);
    if (tokens[f].size() < ctx)
      throw Error("calibration text has " + std::to_string(tokens[f].size()) +
                      " tokens, fewer than one " + std::to_string(ctx) + "-token chunk",
                  o.files[f]);
    fewest = std::min(fewest, tokens[f].size());
  }
  const double w_max =
      o.weights.empty() ? 1.0 : *std::max_element(o.weights.begin(), o.weights.end());
  auto share = [&](size_t f) { return o.weights.empty() ? 1.0 : o.weights[f] / w_max; };

  CalibrationWindows out;
  out.per_file.assign(n_files, 0);
  std::vector<size_t> stride(n_files, ctx);  // token distance between a file's windows
  if (o.total_windows <= 0) {
    // imatrix's mix: the shortest file sets the token budget, each file gets its weighted share.
    uint64_t budget = fewest;
    if (o.max_tokens_per_file > 0)
      budget = std::min<uint64_t>(budget, static_cast<uint64_t>(o.max_tokens_per_file));
    for (size_t f = 0; f < n_files; ++f) {
      const auto want = static_cast<uint64_t>(std::llround(static_cast<double>(budget) * share(f)));
      out.per_file[f] = std::min<size_t>(want / ctx, tokens[f].size() / ctx);
    }
  } else {
    // A fixed total, split by weight with largest remainders, capped by what each file holds;
    // what a short file cannot take goes to the others.
    std::vector<size_t> avail(n_files);
    for (size_t f = 0; f < n_files; ++f) {
      avail[f] = tokens[f].size() / ctx;
      if (o.max_tokens_per_file > 0)
        avail[f] = std::min<size_t>(avail[f], static_cast<size_t>(o.max_tokens_per_file) / ctx);
    }
    size_t left = static_cast<size_t>(o.total_windows);
    std::vector<bool> open(n_files, true);
    while (left > 0) {
      double wsum = 0;
      for (size_t f = 0; f < n_files; ++f)
        if (open[f]) wsum += share(f);
      if (wsum <= 0) break;
      std::vector<std::pair<double, size_t>> frac;
      size_t given = 0;
      for (size_t f = 0; f < n_files; ++f) {
        if (!open[f]) continue;
        const double exact = static_cast<double>(left) * share(f) / wsum;
        const size_t whole = std::min(avail[f] - out.per_file[f], static_cast<size_t>(exact));
        out.per_file[f] += whole;
        given += whole;
        frac.emplace_back(exact - std::floor(exact), f);
      }
      std::stable_sort(frac.begin(), frac.end(),
                       [](auto& a, auto& b) { return a.first > b.first; });
      for (auto& [fr, f] : frac)
        if (given < left && out.per_file[f] < avail[f] && share(f) > 0) ++out.per_file[f], ++given;
      for (size_t f = 0; f < n_files; ++f)
        if (out.per_file[f] >= avail[f]) open[f] = false;
      if (given == 0) break;
      left -= given;
    }
    for (size_t f = 0; f < n_files; ++f)
      if (out.per_file[f] > 0) stride[f] = std::max(ctx, tokens[f].size() / out.per_file[f]);
  }
  const int32_t bos = tok.bos_id();
  for (size_t k = 0;; ++k) {
    bool any = false;
    for (size_t f = 0; f < n_files; ++f) {
      if (k >= out.per_file[f]) continue;
      any = true;
      const size_t start = k * stride[f];
      std::vector<int32_t> w(tokens[f].begin() + static_cast<std::ptrdiff_t>(start),
                             tokens[f].begin() + static_cast<std::ptrdiff_t>(start + ctx));
      if (bos >= 0) w[0] = bos;
      out.windows.push_back(std::move(w));
      out.file_of.push_back(f);
    }
    if (!any) break;
  }
  if (out.windows.empty()) throw Error("calibration weights leave no chunk to run");
  return out;
}

}  // namespace edgefit
