// Which recipe `edgefit compress` delivers, as one pure decision (no I/O, no model): candidates
// with their predicted cost on the device and, once built, their measured quality go in; the
// choice, the runner-up and one sentence saying why come out.
//
// The default objective is what a person with a device wants: the best quality (lowest mean
// KL-divergence from the full-precision model, measured, not assumed from bits) among the
// recipes that fit the device (file in storage, weights + KV cache + runtime in RAM), stay
// under --target-size, and reach a speed target on it (predicted decode tokens/s, default 10,
// a reading speed), with the ΔPPL bound as a guard on every language. `size` picks the smallest
// file and `speed` the fastest predicted decode among the same qualifying recipes.
//
// Two steps, because building a candidate costs time: plan_builds() rules out what cannot
// qualify before anything is built (or refuses, explaining why), and names the build order;
// choose_recipe() decides once the built candidates are measured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan/cost_model.h"
#include "plan/device_profile.h"

namespace edgefit {

enum class Objective {
  quality,  // lowest measured mean KLD
  size,     // smallest file
  speed,    // highest predicted decode tokens/s
};

// "quality", "size", "speed"; UsageError naming the choices otherwise.
Objective parse_objective(const std::string& name);
const char* objective_name(Objective objective);

// Decode speed a person reads along with: the default --min-tps.
constexpr double kReadingSpeedTps = 10.0;

struct ChoiceCriteria {
  Objective objective = Objective::quality;  // what "best" means among qualifying recipes
  double min_tps = kReadingSpeedTps;         // predicted decode tokens/s on the device (0: any)
  uint64_t target_size_bytes = 0;            // largest acceptable file (0: no limit but storage)
  double max_ppl_increase_pct = 5.0;         // guard: worst language's ΔPPL in percent
};

// One candidate as the decision sees it.
struct RecipeCandidate {
  std::string label;      // "q4_k_m" or "q4_k_m (gptq)": how sentences name it
  CostEstimate cost;      // predicted on the device (file size replaced by the real one once built)
  bool measured = false;  // built and validated
  double kld_mean = 0;    // mean KL-divergence from the full-precision model (when measured)
  double max_dppl_pct = 0;  // worst language's ΔPPL in percent (when measured)
};

// Why `c` cannot qualify before it is built ("needs 3.1 GiB RAM > 3.0 GiB", "predicted 1.2
// tokens/s < 10"), or "" when it can.
std::string rule_out_reason(const RecipeCandidate& c, const ChoiceCriteria& criteria,
                            const DeviceProfile& device);

struct BuildPlan {
  std::vector<size_t> order;                // candidates to build and validate, in this order
  bool stop_at_first_within_bound = false;  // size/speed: the order is the objective's, so the
                                            // first candidate within the bound is the answer
  std::string refusal;  // non-empty when nothing can qualify: one sentence saying why
};

// The candidates worth building: those rule_out_reason() lets through, ordered by the objective
// (quality: all of them, largest first; size: smallest file first; speed: fastest first).
// `context` is the context the RAM figures assume (for the refusal sentence).
BuildPlan plan_builds(const std::vector<RecipeCandidate>& candidates,
                      const ChoiceCriteria& criteria, const DeviceProfile& device, int context);

struct RecipeChoice {
  int chosen = -1;            // index into the candidates (−1: none measured)
  int runner_up = -1;         // the candidate that came next (−1: there was no other)
  bool within_bound = false;  // false: nothing met the ΔPPL bound; chosen is the least damaged
  std::string reason;         // one sentence: why chosen won and what the runner-up was
};

// The decision over measured candidates (unmeasured ones can only be runner-up, with the reason
// they were not eligible).
RecipeChoice choose_recipe(const std::vector<RecipeCandidate>& candidates,
                           const ChoiceCriteria& criteria, const DeviceProfile& device);

}  // namespace edgefit
