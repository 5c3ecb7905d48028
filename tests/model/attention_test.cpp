// attend() (transposed key blocks, vectorised exp, multiversioned) against plain double-precision
// softmax attention, over head sizes with and without a 16-float tail, group sizes below and above
// the 8 heads kept in registers, and key counts around the 16-position blocks.
#include "model/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/kv_cache.h"

namespace edgefit {
namespace {

TEST(Attention, MatchesDoublePrecisionSoftmaxAttention) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t hd : {8, 32, 64, 72}) {
    for (int group : {1, 3, 8, 9}) {
      const int n_kv = 2, max_tokens = 100;
      KVCache cache(1, max_tokens, n_kv, hd);
      std::vector<float> keys(static_cast<size_t>(max_tokens * n_kv * hd));
      std::vector<float> vals(keys.size());
      for (auto& x : keys) x = 2 * nd(rng);  // sharp softmax: some weights near 0, some near 1
      for (auto& x : vals) x = nd(rng);
      for (int64_t p = 0; p < max_tokens; ++p)
        cache.store(0, p, keys.data() + p * n_kv * hd, vals.data() + p * n_kv * hd);
      for (int64_t n_keys : {1, 15, 16, 17, 100}) {
        for (int kvh = 0; kvh < n_kv; ++kvh) {
          std::vector<float> q(static_cast<size_t>(group * hd)), out(q.size());
          for (auto& x : q) x = nd(rng);
          std::vector<float> scratch(static_cast<size_t>(attention_scratch_floats(group, n_keys)));
          const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
          attend(cache, 0, kvh, n_keys, q.data(), group, scale, out.data(), scratch.data());
          for (int g = 0; g < group; ++g) {
            std::vector<double> s(static_cast<size_t>(n_keys));
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j < n_keys; ++j) {
              double dot = 0;
              for (int64_t d = 0; d < hd; ++d)
                dot += double{q[g * hd + d]} * keys[(j * n_kv + kvh) * hd + d];
              s[j] = dot * scale;
              mx = std::max(mx, s[j]);
            }
            for (auto& x : s) sum += (x = std::exp(x - mx));
            for (int64_t d = 0; d < hd; ++d) {
              double want = 0, mag = 0;
              for (int64_t j = 0; j < n_keys; ++j) {
                want += s[j] / sum * vals[(j * n_kv + kvh) * hd + d];
                mag += std::fabs(s[j] / sum * vals[(j * n_kv + kvh) * hd + d]);
              }
              ASSERT_NEAR(out[g * hd + d], want, 2e-6 * mag + 1e-7)
                  << "hd " << hd << " group " << group << " keys " << n_keys << " head " << g
                  << " d " << d;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgefit
