#include "plan/choose_recipe.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace edgefit {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string tps(double v) {
  return fmt(v >= 100 ? "%.0f" : "%.1f", v) + " tokens/s";
}

// Is `a` better than `b` under the objective? Quality needs measurements; unmeasured candidates
// are compared by bits per weight there (more bits, usually better), only to name a runner-up.
bool better(const RecipeCandidate& a, const RecipeCandidate& b, Objective o) {
  switch (o) {
    case Objective::quality:
      if (a.measured && b.measured && a.kld_mean != b.kld_mean) return a.kld_mean < b.kld_mean;
      if (!a.measured && !b.measured && a.cost.bits_per_weight != b.cost.bits_per_weight)
        return a.cost.bits_per_weight > b.cost.bits_per_weight;
      return a.cost.file_bytes < b.cost.file_bytes;
    case Objective::size:
      if (a.cost.file_bytes != b.cost.file_bytes) return a.cost.file_bytes < b.cost.file_bytes;
      return a.measured && b.measured && a.kld_mean < b.kld_mean;
    case Objective::speed:
      if (a.cost.predicted_tps != b.cost.predicted_tps)
        return a.cost.predicted_tps > b.cost.predicted_tps;
      return a.cost.file_bytes < b.cost.file_bytes;
  }
  return false;
}

// Where a candidate stands after measurement; lower is closer to winning.
enum class Standing { within_bound, over_bound, not_built, ruled_out };

Standing standing_of(const RecipeCandidate& c, const ChoiceCriteria& k, const DeviceProfile& d) {
  if (!rule_out_reason(c, k, d).empty()) return Standing::ruled_out;
  if (!c.measured) return Standing::not_built;
  return c.max_dppl_pct <= k.max_ppl_increase_pct ? Standing::within_bound : Standing::over_bound;
}

// The constraints every qualifying recipe met, for the sentence: "fit raspberry-pi-5, reach 10
// tokens/s and stay under 4.0 MiB".
std::string constraints_phrase(const ChoiceCriteria& k, const DeviceProfile& d) {
  std::string s = "fit " + d.id;
  if (k.min_tps > 0 && d.bandwidth_gbs > 0) s += ", reach " + fmt("%g", k.min_tps) + " tokens/s";
  if (k.target_size_bytes > 0) s += ", stay under " + format_bytes(k.target_size_bytes);
  return s;
}

std::string runner_up_phrase(const RecipeCandidate& r, Standing s, const RecipeCandidate& won,
                             const ChoiceCriteria& k, const DeviceProfile& d) {
  switch (s) {
    case Standing::within_bound:
      if (k.objective == Objective::quality)
        return "runner-up " + r.label + " with mean KLD " + fmt("%.5f", r.kld_mean);
      if (k.objective == Objective::size)
        return "runner-up " + r.label + " at " + format_bytes(r.cost.file_bytes);
      return "runner-up " + r.label + " at " + tps(r.cost.predicted_tps);
    case Standing::over_bound:
      return "runner-up " + r.label + " was over the bound (worst language " +
             fmt("%+.2f", r.max_dppl_pct) + " %)";
    case Standing::not_built:
      return "runner-up " + r.label + " at " + format_bytes(r.cost.file_bytes) +
             " was not built: " + won.label + " already met the bound";
    case Standing::ruled_out:
      return "runner-up " + r.label + " was ruled out: " + rule_out_reason(r, k, d);
  }
  return "";
}

}  // namespace

Objective parse_objective(const std::string& name) {
  if (name == "quality") return Objective::quality;
  if (name == "size") return Objective::size;
  if (name == "speed") return Objective::speed;
  throw UsageError("--objective must be quality, size or speed, got '" + name + "'");
}

const char* objective_name(Objective o) {
  switch (o) {
    case Objective::quality:
      return "quality";
    case Objective::size:
      return "size";
    case Objective::speed:
      return "speed";
  }
  return "?";
}

std::string rule_out_reason(const RecipeCandidate& c, const ChoiceCriteria& k,
                            const DeviceProfile& d) {
  if (!c.cost.fits_storage)
    return "its " + format_bytes(c.cost.file_bytes) + " file exceeds the " +
           format_bytes(d.storage_bytes) + " storage budget";
  if (!c.cost.fits_ram)
    return "it needs " + format_bytes(c.cost.runtime_bytes) +
           " of RAM with the KV cache, over the " + format_bytes(d.ram_bytes) + " budget";
  if (k.target_size_bytes > 0 && c.cost.file_bytes > k.target_size_bytes)
    return "its " + format_bytes(c.cost.file_bytes) + " file is over --target-size " +
           format_bytes(k.target_size_bytes);
  if (k.min_tps > 0 && d.bandwidth_gbs > 0 && c.cost.predicted_tps < k.min_tps)
    return "predicted " + tps(c.cost.predicted_tps) + " is under the " + fmt("%g", k.min_tps) +
           " tokens/s target";
  return "";
}

BuildPlan plan_builds(const std::vector<RecipeCandidate>& cands, const ChoiceCriteria& k,
                      const DeviceProfile& d, int context) {
  BuildPlan plan;
  for (size_t i = 0; i < cands.size(); ++i)
    if (rule_out_reason(cands[i], k, d).empty()) plan.order.push_back(i);
  const Objective build_key = k.objective == Objective::quality ? Objective::size : k.objective;
  std::stable_sort(plan.order.begin(), plan.order.end(),
                   [&](size_t a, size_t b) { return better(cands[a], cands[b], build_key); });
  if (k.objective == Objective::quality)
    std::reverse(plan.order.begin(), plan.order.end());  // largest first
  plan.stop_at_first_within_bound = k.objective != Objective::quality;
  if (!plan.order.empty() || cands.empty()) return plan;

  // Nothing qualifies: explain with the constraint that rules out the most promising candidate.
  auto best_of = [&](auto keep, Objective o) {
    int best = -1;
    for (size_t i = 0; i < cands.size(); ++i)
      if (keep(cands[i]) && (best < 0 || better(cands[i], cands[static_cast<size_t>(best)], o)))
        best = static_cast<int>(i);
    return best;
  };
  const auto fits = [](const RecipeCandidate& c) { return c.cost.fits(); };
  const auto fits_and_size = [&](const RecipeCandidate& c) {
    return c.cost.fits() && (k.target_size_bytes == 0 || c.cost.file_bytes <= k.target_size_bytes);
  };
  if (best_of(fits, Objective::size) < 0) {
    const auto& s = cands[static_cast<size_t>(
        best_of([](const RecipeCandidate&) { return true; }, Objective::size))];
    plan.refusal = "no preset fits " + d.id + " (" + format_bytes(d.ram_bytes) + " RAM, " +
                   format_bytes(d.storage_bytes) + " storage) at context " +
                   std::to_string(context) + ": the smallest achievable is " + s.label +
                   " with a " + format_bytes(s.cost.file_bytes) + " file needing " +
                   format_bytes(s.cost.runtime_bytes) + " of RAM";
  } else if (const int s = best_of(fits_and_size, Objective::size); s < 0) {
    const auto& c = cands[static_cast<size_t>(best_of(fits, Objective::size))];
    plan.refusal = "no preset that fits " + d.id + " is within --target-size " +
                   format_bytes(k.target_size_bytes) + ": the smallest is " + c.label + " with a " +
                   format_bytes(c.cost.file_bytes) + " file";
  } else {
    const auto& c = cands[static_cast<size_t>(best_of(fits_and_size, Objective::speed))];
    plan.refusal =
        "no preset that fits " + d.id + " reaches " + fmt("%g", k.min_tps) +
        " tokens/s at context " + std::to_string(context) + ": the fastest, " + c.label +
        ", is predicted at " + tps(c.cost.predicted_tps) + " (" + fmt("%g", d.bandwidth_gbs) +
        " GB/s over " + format_bytes(c.cost.bytes_per_token) + " read per token); pass --min-tps " +
        fmt("%g", std::max(0.1, std::floor(c.cost.predicted_tps * 10) / 10)) + " to accept it";
  }
  return plan;
}

RecipeChoice choose_recipe(const std::vector<RecipeCandidate>& cands, const ChoiceCriteria& k,
                           const DeviceProfile& d) {
  RecipeChoice ch;
  std::vector<Standing> st;
  for (const auto& c : cands) st.push_back(standing_of(c, k, d));
  // Ranked: standing first, then the objective.
  std::vector<size_t> rank(cands.size());
  for (size_t i = 0; i < rank.size(); ++i) rank[i] = i;
  std::stable_sort(rank.begin(), rank.end(), [&](size_t a, size_t b) {
    if (st[a] != st[b]) return st[a] < st[b];
    if (st[a] == Standing::over_bound && cands[a].max_dppl_pct != cands[b].max_dppl_pct)
      return cands[a].max_dppl_pct < cands[b].max_dppl_pct;  // the least damaged first
    return better(cands[a], cands[b], k.objective);
  });
  if (rank.empty() || st[rank[0]] == Standing::not_built || st[rank[0]] == Standing::ruled_out) {
    ch.reason = "no candidate was built and measured, so none can be chosen";
    return ch;
  }
  const size_t w = rank[0];
  const RecipeCandidate& won = cands[w];
  ch.chosen = static_cast<int>(w);
  ch.within_bound = st[w] == Standing::within_bound;
  std::string runner;
  if (rank.size() > 1) {
    ch.runner_up = static_cast<int>(rank[1]);
    runner = "; " + runner_up_phrase(cands[rank[1]], st[rank[1]], won, k, d);
  }
  size_t n_within = 0;
  for (Standing s : st) n_within += s == Standing::within_bound;
  const std::string bound = fmt("%.1f", k.max_ppl_increase_pct);
  const std::string worst = fmt("%+.2f", won.max_dppl_pct);
  if (!ch.within_bound) {
    ch.reason = "no recipe that can " + constraints_phrase(k, d) +
                " keeps every language within +" + bound + " % ΔPPL, so " + won.label +
                " was chosen as the one that loses least (worst language " + worst + " %)" +
                runner + ".";
  } else if (k.objective == Objective::quality) {
    ch.reason = won.label + " won on quality: the lowest mean KLD (" + fmt("%.5f", won.kld_mean) +
                ", worst language " + worst + " % ΔPPL) of the " + std::to_string(n_within) +
                " measured recipes that " + constraints_phrase(k, d) + " and stay within +" +
                bound + " % ΔPPL (it is predicted at " + tps(won.cost.predicted_tps) + ")" +
                runner + ".";
  } else if (k.objective == Objective::size) {
    ch.reason = won.label + " won on size: the smallest file (" +
                format_bytes(won.cost.file_bytes) + ") among the recipes that " +
                constraints_phrase(k, d) + " and keep every language within +" + bound +
                " % ΔPPL (worst " + worst + " %)" + runner + ".";
  } else {
    ch.reason = won.label + " won on speed: the fastest predicted decode (" +
                tps(won.cost.predicted_tps) + ") among the recipes that " +
                constraints_phrase(k, d) + " and keep every language within +" + bound +
                " % ΔPPL (worst " + worst + " %)" + runner + ".";
  }
  return ch;
}

}  // namespace edgefit
