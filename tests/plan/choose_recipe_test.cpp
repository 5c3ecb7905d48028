// The compress decision (plan/choose_recipe.h) on hand-made candidates: what a Raspberry Pi 5
// gets for a 36 MB model, GPTQ against imatrix RTN at the same size, the speed and size targets,
// the ΔPPL guard, and the sentences that explain a choice or a refusal.
#include "plan/choose_recipe.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace edgefit {
namespace {

DeviceProfile pi5() {
  DeviceProfile d;
  d.id = "raspberry-pi-5";
  d.ram_bytes = 6979321856;
  d.storage_bytes = 17179869184;
  d.bandwidth_gbs = 10;
  return d;
}

// A candidate of `mb` MiB on a 10 GB/s device (all fit unless told), measured when kld >= 0.
RecipeCandidate cand(const std::string& label, double bpw, double mb, double kld, double dppl,
                     bool fits = true) {
  RecipeCandidate c;
  c.label = label;
  c.cost.bits_per_weight = bpw;
  c.cost.file_bytes = static_cast<uint64_t>(mb * 1048576);
  c.cost.runtime_bytes = c.cost.file_bytes + (64u << 20);
  c.cost.bytes_per_token = c.cost.file_bytes;
  c.cost.predicted_tps = 0.8 * 10e9 / static_cast<double>(c.cost.file_bytes);
  c.cost.fits_ram = fits;
  c.cost.fits_storage = true;
  c.measured = kld >= 0;
  c.kld_mean = kld;
  c.max_dppl_pct = dppl;
  return c;
}

// The polyglot ladder as compress measured it (mean KLD and worst-language ΔPPL of each preset).
std::vector<RecipeCandidate> polyglot_ladder() {
  return {cand("q2_k", 3.0, 4.3, 0.028, 4.1),     cand("q3_k_m", 3.9, 5.0, 0.0065, 1.2),
          cand("q4_0", 4.5, 5.6, 0.0029, 0.6),    cand("q4_k_m", 4.9, 6.0, 0.0019, 0.4),
          cand("q5_k_m", 5.7, 6.9, 0.0006, 0.15), cand("q6_k", 6.6, 7.8, 0.0002, 0.05),
          cand("q8_0", 8.5, 9.9, 0.00007, 0.02)};
}

TEST(ChooseRecipe, DefaultIsTheBestQualityThatFitsNotTheSmallestWithinTheBound) {
  // Today's rule ("smallest within 5 %") gave q2_k to an 8 GB Raspberry Pi for a 36 MB model.
  const auto c = polyglot_ladder();
  const RecipeChoice ch = choose_recipe(c, ChoiceCriteria{}, pi5());
  ASSERT_EQ(ch.chosen, 6);
  EXPECT_EQ(ch.runner_up, 5);
  EXPECT_TRUE(ch.within_bound);
  EXPECT_EQ(ch.reason,
            "q8_0 won on quality: the lowest mean KLD (0.00007, worst language +0.02 % ΔPPL) of "
            "the 7 measured recipes "
            "that fit raspberry-pi-5, reach 10 tokens/s and stay within +5.0 % ΔPPL (it is "
            "predicted at 771 "
            "tokens/s); runner-up q6_k with mean KLD 0.00020.");
}

TEST(ChooseRecipe, SizeObjectiveIsTheSmallestWithinTheBoundAndNamesTheRejectedSmallerOne) {
  auto c = polyglot_ladder();
  c[0].max_dppl_pct = 7.3;  // q2_k over the bound
  ChoiceCriteria k;
  k.objective = Objective::size;
  const RecipeChoice ch = choose_recipe(c, k, pi5());
  ASSERT_EQ(ch.chosen, 1);
  EXPECT_EQ(ch.runner_up, 2);  // the next within the bound
  EXPECT_NE(ch.reason.find("q3_k_m won on size: the smallest file (5.0 MiB)"), std::string::npos)
      << ch.reason;
  EXPECT_NE(ch.reason.find("runner-up q4_0 at 5.6 MiB"), std::string::npos) << ch.reason;
  // Stopped early: only q2_k and q3_k_m measured. The runner-up is then the smaller one that
  // failed.
  for (size_t i = 2; i < c.size(); ++i) c[i].measured = false;
  const RecipeChoice early = choose_recipe(c, k, pi5());
  EXPECT_EQ(early.chosen, 1);
  EXPECT_EQ(early.runner_up, 0);
  EXPECT_NE(early.reason.find("runner-up q2_k was over the bound (worst language +7.30 %)"),
            std::string::npos)
      << early.reason;
}

TEST(ChooseRecipe, GptqCompetesWithImatrixAtTheSameSizeByMeasurement) {
  std::vector<RecipeCandidate> c = {cand("q4_k_m", 4.9, 6.0, 0.0019, 0.4),
                                    cand("q4_k_m (gptq)", 4.9, 6.0, 0.0013, 0.3)};
  ChoiceCriteria k;
  EXPECT_EQ(choose_recipe(c, k, pi5()).chosen, 1);
  c[1].kld_mean = 0.0025;  // where GPTQ loses, the measurement says so
  EXPECT_EQ(choose_recipe(c, k, pi5()).chosen, 0);
  k.objective = Objective::size;  // equal size: the better measured one breaks the tie
  EXPECT_EQ(choose_recipe(c, k, pi5()).chosen, 0);
}

TEST(ChooseRecipe, SpeedTargetAndTargetSizeRuleCandidatesOutBeforeBuilding) {
  auto c = polyglot_ladder();
  ChoiceCriteria k;
  k.min_tps = 1000;  // only files under ~7.6 MiB reach 1000 tokens/s at 8 GB/s effective
  const BuildPlan plan = plan_builds(c, k, pi5(), 256);
  EXPECT_EQ(plan.order, (std::vector<size_t>{4, 3, 2, 1, 0}));  // quality: largest first
  EXPECT_FALSE(plan.stop_at_first_within_bound);
  EXPECT_TRUE(plan.refusal.empty());
  EXPECT_EQ(rule_out_reason(c[6], k, pi5()),
            "predicted 771 tokens/s is under the 1000 tokens/s target");
  const RecipeChoice ch = choose_recipe(c, k, pi5());
  EXPECT_EQ(ch.chosen, 4);  // q5_k_m: the best that reaches the target
  k.target_size_bytes = 6u << 20;
  EXPECT_EQ(choose_recipe(c, k, pi5()).chosen, 3);  // q4_k_m: 6.0 MiB
  EXPECT_NE(rule_out_reason(c[4], k, pi5()).find("file is over --target-size 6.0 MiB"),
            std::string::npos);
  k.objective = Objective::speed;
  const BuildPlan fast = plan_builds(c, k, pi5(), 256);
  EXPECT_EQ(fast.order.front(), 0u);
  EXPECT_TRUE(fast.stop_at_first_within_bound);
}

TEST(ChooseRecipe, TheQualityBoundIsAGuard) {
  auto c = polyglot_ladder();
  c[6].max_dppl_pct = 6;  // a q8_0 that somehow hurts one language
  EXPECT_EQ(choose_recipe(c, ChoiceCriteria{}, pi5()).chosen, 5);
  for (auto& x : c) x.max_dppl_pct += 10;  // nothing within the bound: the least damaged, flagged
  const RecipeChoice ch = choose_recipe(c, ChoiceCriteria{}, pi5());
  EXPECT_EQ(ch.chosen, 5);  // q6_k: +10.05 % (q8_0 is at +16 %)
  EXPECT_EQ(ch.runner_up, 4);
  EXPECT_FALSE(ch.within_bound);
  EXPECT_EQ(
      ch.reason,
      "no recipe that can fit raspberry-pi-5, reach 10 tokens/s keeps every language within +5.0 % "
      "ΔPPL, so q6_k was chosen as the one that loses least (worst language +10.05 %); runner-up "
      "q5_k_m was over the bound (worst language +10.15 %).");
}

TEST(ChooseRecipe, RefusalsSayWhichConstraintAndWhatWouldPass) {
  // A 7B model on a 4 GB controller: nothing fits RAM.
  DeviceProfile ctl = pi5();
  ctl.id = "controller-8gb-flash";
  ctl.ram_bytes = 3221225472;
  ctl.storage_bytes = 6442450944;
  ctl.bandwidth_gbs = 4;
  std::vector<RecipeCandidate> big = {cand("q2_k", 2.9, 2700, -1, 0, false),
                                      cand("q4_k_m", 4.9, 3900, -1, 0, false)};
  BuildPlan p = plan_builds(big, ChoiceCriteria{}, ctl, 512);
  EXPECT_TRUE(p.order.empty());
  EXPECT_EQ(p.refusal.rfind("no preset fits controller-8gb-flash (3.00 GiB RAM, 6.00 GiB storage) "
                            "at context 512: the "
                            "smallest achievable is q2_k with a 2.64 GiB file",
                            0),
            0u)
      << p.refusal;
  // It fits but is far too slow to read along with.
  big[0].cost.fits_ram = true;
  big[0].cost.predicted_tps = 1.17;
  p = plan_builds(big, ChoiceCriteria{}, ctl, 512);
  EXPECT_TRUE(p.order.empty());
  EXPECT_NE(p.refusal.find("no preset that fits controller-8gb-flash reaches 10 tokens/s at "
                           "context 512: the fastest, "
                           "q2_k, is predicted at 1.2 tokens/s"),
            std::string::npos)
      << p.refusal;
  EXPECT_NE(p.refusal.find("pass --min-tps 1.1 to accept it"), std::string::npos) << p.refusal;
  ChoiceCriteria slow;
  slow.min_tps = 1.1;
  EXPECT_EQ(plan_builds(big, slow, ctl, 512).order, std::vector<size_t>{0});
  slow.target_size_bytes = 1u << 30;
  EXPECT_NE(plan_builds(big, slow, ctl, 512)
                .refusal.find("is within --target-size 1.00 GiB: the smallest is q2_k"),
            std::string::npos);
}

TEST(ChooseRecipe, ObjectiveNames) {
  EXPECT_EQ(parse_objective("size"), Objective::size);
  EXPECT_STREQ(objective_name(parse_objective("speed")), "speed");
  EXPECT_THROW(parse_objective("smallest"), UsageError);
}

}  // namespace
}  // namespace edgefit
