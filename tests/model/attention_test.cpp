// The fused attention kernel (online softmax over the cache's own types) against plain two-pass
// double-precision softmax attention, on every ISA table the CPU runs; the KV cache's F16 and Q8_0
// storage against fp16 rounding and ggml's Q8_0 quantizer (quant/, bit-exact with ggml); and the
// F16/Q8_0 caches against the F32 one within the error their rounding allows.
#include "model/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "model/kv_cache.h"
#include "quant/kernels.h"

namespace edgefit {
namespace {

// Keys/values of `n` positions × n_kv heads × hd, random normal (keys ×2: a sharp softmax with
// some weights near 0 and some near 1).
struct KV {
  std::vector<float> keys, vals;  // [pos][kv head][hd]
};

KV random_kv(int64_t n, int n_kv, int64_t hd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  KV kv;
  kv.keys.resize(static_cast<size_t>(n * n_kv * hd));
  kv.vals.resize(kv.keys.size());
  for (auto& x : kv.keys) x = 2 * nd(rng);
  for (auto& x : kv.vals) x = nd(rng);
  return kv;
}

void fill(KVCache& cache, const KV& kv) {
  const int64_t row = cache.kv_dim();
  for (int64_t p = 0; p < cache.capacity(); ++p)
    cache.store(0, p, kv.keys.data() + p * row, kv.vals.data() + p * row);
}

// Two-pass softmax attention in double precision: the unfused reference. `key(j, d)` and
// `val(j, d)` give the inputs; returns out[g·hd + d] and, per element, Σ_j |p_j v_j| (the scale
// float rounding errors are relative to).
template <class K, class V>
void reference(int64_t n_keys, int64_t hd, const float* q, int group, float scale, K key, V val,
               std::vector<double>& out, std::vector<double>& mag) {
  out.assign(static_cast<size_t>(group * hd), 0.0);
  mag.assign(out.size(), 0.0);
  for (int g = 0; g < group; ++g) {
    std::vector<double> s(static_cast<size_t>(n_keys));
    double mx = -1e300, sum = 0;
    for (int64_t j = 0; j < n_keys; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < hd; ++d) dot += double{q[g * hd + d]} * key(j, d);
      s[j] = dot * scale;
      mx = std::max(mx, s[j]);
    }
    for (auto& x : s) sum += (x = std::exp(x - mx));
    for (int64_t d = 0; d < hd; ++d)
      for (int64_t j = 0; j < n_keys; ++j) {
        out[g * hd + d] += s[j] / sum * val(j, d);
        mag[g * hd + d] += std::fabs(s[j] / sum * val(j, d));
      }
  }
}

// Reference over what the cache holds (its own rounding included): the kernel alone is tested.
void reference_over_cache(const KVCache& cache, int kvh, int64_t n_keys, const float* q, int group,
                          float scale, std::vector<double>& out, std::vector<double>& mag) {
  const int64_t hd = cache.head_dim();
  std::vector<float> keys(static_cast<size_t>(n_keys * hd)), vals(keys.size());
  for (int64_t j = 0; j < n_keys; ++j) {
    cache.key(0, kvh, j, keys.data() + j * hd);
    cache.value(0, kvh, j, vals.data() + j * hd);
  }
  reference(
      n_keys, hd, q, group, scale, [&](int64_t j, int64_t d) { return keys[j * hd + d]; },
      [&](int64_t j, int64_t d) { return vals[j * hd + d]; }, out, mag);
}

const KVType kTypes[] = {KVType::F32, KVType::F16, KVType::Q8_0};

// Fused kernel = two-pass reference over the cached values, |Δ| ≤ 4e-6·Σ|p·v| + 1e-6, for every
// table, type pair, head size (with and without a 16-float tail), group size (below and above
// the 8 heads handled per pass) and key count (around the 16-position blocks).
TEST(Attention, FusedMatchesTwoPassReferenceOnEveryTableAndCacheType) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const AttentionTable* table : attention_tables_supported())
    for (KVType tk : kTypes)
      for (KVType tv : kTypes)
        for (int64_t hd : {8, 32, 64, 72, 128}) {
          if ((tk == KVType::Q8_0 || tv == KVType::Q8_0) && hd % 32 != 0) continue;
          const int n_kv = 2, max_tokens = 100;
          KVCache cache(1, max_tokens, n_kv, hd, tk, tv);
          fill(cache, random_kv(max_tokens, n_kv, hd, static_cast<uint32_t>(hd)));
          for (int group : {1, 3, 8, 9})
            for (int64_t n_keys : {1, 15, 16, 17, 100})
              for (int kvh = 0; kvh < n_kv; ++kvh) {
                std::vector<float> q(static_cast<size_t>(group * hd)), out(q.size());
                for (auto& x : q) x = nd(rng);
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                table->attend(cache, 0, kvh, n_keys, q.data(), group, scale, out.data());
                std::vector<double> want, mag;
                reference_over_cache(cache, kvh, n_keys, q.data(), group, scale, want, mag);
                for (size_t i = 0; i < out.size(); ++i)
                  ASSERT_NEAR(out[i], want[i], 4e-6 * mag[i] + 1e-6)
                      << table->isa_name << " k " << kv_type_name(tk) << " v " << kv_type_name(tv)
                      << " hd " << hd << " group " << group << " keys " << n_keys << " i " << i;
              }
        }
}

// The tables run the same source and differ only in FMA contraction.
TEST(Attention, TablesAgreeWithTheGenericOne) {
  const auto tables = attention_tables_supported();
  if (tables.size() < 2) GTEST_SKIP() << "this CPU runs the generic table only";
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (KVType t : kTypes) {
    const int64_t hd = 64, n = 300;
    KVCache cache(1, n, 1, hd, t, t);
    fill(cache, random_kv(n, 1, hd, 3));
    std::vector<float> q(static_cast<size_t>(4 * hd)), want(q.size()), got(q.size());
    for (auto& x : q) x = nd(rng);
    tables[0]->attend(cache, 0, 0, n, q.data(), 4, 0.125f, want.data());
    for (size_t i = 1; i < tables.size(); ++i) {
      tables[i]->attend(cache, 0, 0, n, q.data(), 4, 0.125f, got.data());
      for (size_t e = 0; e < want.size(); ++e)
        ASSERT_NEAR(got[e], want[e], 1e-5 * (std::fabs(want[e]) + 1))
            << tables[i]->isa_name << " " << kv_type_name(t) << " " << e;
    }
  }
}

// A context split into ranges of whole blocks, each attended unnormalised and then combined,
// equals attending the whole (decode splits positions over threads that way).
TEST(Attention, PartsCombineToTheWhole) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t hd = 64, n = 1000;
  const int group = 5;
  for (const AttentionTable* table : attention_tables_supported())
    for (KVType t : kTypes) {
      KVCache cache(1, n, 2, hd, t, t);
      fill(cache, random_kv(n, 2, hd, 17));
      std::vector<float> q(static_cast<size_t>(group * hd)), want(q.size()), got(q.size());
      for (auto& x : q) x = nd(rng);
      table->attend(cache, 0, 1, n, q.data(), group, 0.125f, want.data());
      const int64_t bounds[] = {0, 320, 336, 640, n};  // one part of a single block
      const int parts = 4;
      std::vector<float> acc(static_cast<size_t>(parts * group * hd)), m(parts * group),
          l(parts * group);
      for (int p = 0; p < parts; ++p)
        table->attend_part(cache, 0, 1, bounds[p], bounds[p + 1], q.data(), group, 0.125f,
                           acc.data() + p * group * hd, m.data() + p * group, l.data() + p * group);
      combine_attention_parts(parts, group, hd, acc.data(), m.data(), l.data(), got.data());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5 * (std::fabs(want[i]) + 1))
            << table->isa_name << " " << kv_type_name(t) << " " << i;
    }
}

TEST(KVCache, F16StoresRoundedHalvesAndSaturates) {
  const int64_t hd = 16;
  KVCache cache(1, 20, 1, hd, KVType::F16, KVType::F16);
  std::vector<float> k(hd), v(hd);
  for (int64_t d = 0; d < hd; ++d) {
    k[d] = 0.1f * static_cast<float>(d) - 0.77f;
    v[d] = 3.3f * static_cast<float>(d) + 1e-6f;
  }
  k[3] = 1e6f;  // beyond fp16's range: stored as the largest half, not infinity
  v[5] = -7e4f;
  cache.store(0, 17, k.data(), v.data());
  std::vector<float> k2(hd), v2(hd);
  cache.key(0, 0, 17, k2.data());
  cache.value(0, 0, 17, v2.data());
  for (int64_t d = 0; d < hd; ++d) {
    const float kc = std::clamp(k[d], -65504.f, 65504.f), vc = std::clamp(v[d], -65504.f, 65504.f);
    EXPECT_EQ(k2[d], fp16_to_fp32(fp32_to_fp16(kc))) << d;
    EXPECT_EQ(v2[d], fp16_to_fp32(fp32_to_fp16(vc))) << d;
  }
  EXPECT_EQ(k2[3], 65504.f);
  EXPECT_EQ(v2[5], -65504.f);
}

// Value rows are ggml's block_q8_0 bytes; keys hold the same quantization, transposed.
TEST(KVCache, Q8_0MatchesGgmlQuantizer) {
  const int64_t hd = 64;
  const int n_kv = 2;
  const KV kv = random_kv(40, n_kv, hd, 11);
  KVCache cache(1, 40, n_kv, hd, KVType::Q8_0, KVType::Q8_0);
  fill(cache, kv);
  const size_t row_bytes = static_cast<size_t>(n_kv * hd / 32 * 34);
  ASSERT_EQ(cache.value_row_bytes(), static_cast<int64_t>(row_bytes));
  for (int64_t p : {0, 15, 16, 39}) {
    std::vector<uint8_t> want(row_bytes);
    quant::quantize_row_q8_0(kv.vals.data() + p * n_kv * hd, want.data(), n_kv * hd, nullptr);
    EXPECT_EQ(0, std::memcmp(cache.value_row(0, p), want.data(), row_bytes)) << p;
    std::vector<uint8_t> kq(row_bytes);
    quant::quantize_row_q8_0(kv.keys.data() + p * n_kv * hd, kq.data(), n_kv * hd, nullptr);
    std::vector<float> kd(static_cast<size_t>(n_kv * hd)), got(static_cast<size_t>(hd));
    quant::dequantize_row_q8_0(kq.data(), kd.data(), n_kv * hd);
    for (int h = 0; h < n_kv; ++h) {
      cache.key(0, h, p, got.data());
      for (int64_t d = 0; d < hd; ++d) ASSERT_EQ(got[d], kd[h * hd + d]) << p << " " << h;
    }
  }
  EXPECT_THROW(KVCache(1, 4, 1, 48, KVType::Q8_0, KVType::F16), Error) << "head_dim 48";
  EXPECT_EQ(KVCache::bytes_for(1, 40, n_kv, hd, KVType::Q8_0, KVType::Q8_0), cache.bytes());
}

// F16 and Q8_0 caches against attention over the original floats: the error their rounding
// allows. Stated bounds (|Δ| ≤ tol · (Σ|p·v| + 1), over 1000 keys of sharp softmax): F16 5e-4,
// Q8_0 1e-2; measured worst 1.1e-4 and 2.7e-3. fp16 rounds each element by ≤ 2^-11 relative
// and Q8_0 by ≤ max|x|/254 per 32-element block, and scores amplify key errors by |q|·scale.
TEST(Attention, ReducedPrecisionCachesStayCloseToF32) {
  const int64_t hd = 64, n = 1000;
  const int group = 4;
  const KV kv = random_kv(n, 1, hd, 21);
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(static_cast<size_t>(group * hd)), out(q.size());
  for (auto& x : q) x = nd(rng);
  const float scale = 0.125f;
  std::vector<double> want, mag;
  reference(
      n, hd, q.data(), group, scale, [&](int64_t j, int64_t d) { return kv.keys[j * hd + d]; },
      [&](int64_t j, int64_t d) { return kv.vals[j * hd + d]; }, want, mag);
  for (auto [t, tol] : {std::pair{KVType::F32, 1e-5}, {KVType::F16, 5e-4}, {KVType::Q8_0, 1e-2}}) {
    KVCache cache(1, n, 1, hd, t, t);
    fill(cache, kv);
    attend(cache, 0, 0, n, q.data(), group, scale, out.data());
    double worst = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_NEAR(out[i], want[i], tol * mag[i] + tol) << kv_type_name(t) << " " << i;
      worst = std::max(worst, std::fabs(out[i] - want[i]) / (mag[i] + 1));
    }
    RecordProperty(std::string("worst_") + kv_type_name(t), std::to_string(worst));
  }
}

// 4096 positions: the running softmax over 256 blocks with large scores stays finite and exact,
// and values at fp16's limit do not overflow the weighted sum.
TEST(Attention, LongContextStaysFiniteAndExact) {
  const int64_t hd = 64, n = 4096;
  KV kv = random_kv(n, 1, hd, 31);
  for (int64_t j = 0; j < n; ++j) kv.keys[j * hd] = 40.0f * std::sin(0.01f * j);  // scores ~±60
  for (int64_t j = 0; j < n; j += 7) kv.vals[j * hd + 1] = 6e4f;
  std::vector<float> q(static_cast<size_t>(8 * hd), 0.5f), out(q.size());
  for (KVType t : kTypes) {
    KVCache cache(1, n, 1, hd, t, t);
    fill(cache, kv);
    attend(cache, 0, 0, n, q.data(), 8, 0.125f, out.data());
    std::vector<double> want, mag;
    reference_over_cache(cache, 0, n, q.data(), 8, 0.125f, want, mag);
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_TRUE(std::isfinite(out[i])) << kv_type_name(t) << " " << i;
      ASSERT_NEAR(out[i], want[i], 4e-6 * mag[i] + 1e-6) << kv_type_name(t) << " " << i;
    }
  }
}

}  // namespace
}  // namespace edgefit
