// Finite-difference checks of every training op's backward on small random inputs, plus the
// forward results against direct definitions computed here in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "formats/model.h"
#include "grad_check.h"
#include "model/rope.h"
#include "quant/quant_traits.h"
#include "train/attention.h"
#include "train/embedding.h"
#include "train/linear.h"
#include "train/losses.h"
#include "train/rms_norm.h"
#include "train/rope.h"
#include "train/swiglu.h"

namespace edgefit::train {
namespace {

using test::expect_grad;
using test::random_vector;
using test::weighted_sum;

TEST(TrainOps, LinearGradients) {
  std::mt19937 rng(1);
  const int64_t n = 3, n_in = 13, n_out = 7;  // odd widths exercise dot_f32's tail
  auto x = random_vector(n * n_in, rng), w = random_vector(n_out * n_in, rng),
       b = random_vector(n_out, rng), wy = random_vector(n * n_out, rng);
  std::vector<float> y(n * n_out);
  auto loss = [&] {
    linear_forward(w.data(), b.data(), n_out, n_in, x.data(), n, y.data());
    return weighted_sum(wy, y.data());
  };
  // The forward against the definition.
  loss();
  for (int64_t t = 0; t < n; ++t)
    for (int64_t o = 0; o < n_out; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < n_in; ++i) s += double{x[t * n_in + i]} * w[o * n_in + i];
      EXPECT_NEAR(y[t * n_out + o], s, 1e-5);
    }
  std::vector<float> dx(n * n_in), dw(n_out * n_in, 0.0f), db(n_out, 0.0f);
  linear_backward_input(f32_matrix_view(w.data(), n_out, n_in), wy.data(), n, dx.data(), false);
  linear_backward_weight(x.data(), wy.data(), n, n_out, n_in, dw.data(), db.data());
  expect_grad("dx", x, dx, loss);
  expect_grad("dw", w, dw, loss);
  expect_grad("db", b, db, loss);
  // accumulate adds instead of overwriting.
  std::vector<float> dx2 = dx;
  linear_backward_input(f32_matrix_view(w.data(), n_out, n_in), wy.data(), n, dx2.data(), true);
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_FLOAT_EQ(dx2[i], 2 * dx[i]);
}

TEST(TrainOps, LinearInputGradientFromF16Weights) {
  // A frozen weight stored as F16 gives the input gradient of its f16-rounded values.
  std::mt19937 rng(2);
  const int64_t n = 40, n_in = 24, n_out = 9;  // more tokens than one 16-token chunk
  auto w = random_vector(n_out * n_in, rng), dy = random_vector(n * n_out, rng);
  std::vector<uint16_t> w16(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    w16[i] = fp32_to_fp16(w[i]);
    w[i] = fp16_to_fp32(w16[i]);
  }
  const int64_t shape[2] = {n_out, n_in};
  std::vector<float> dx(n * n_in);
  linear_backward_input(TensorView::contiguous(DType::F16, shape, w16.data()), dy.data(), n,
                        dx.data(), false);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < n_in; ++i) {
      double s = 0;
      for (int64_t o = 0; o < n_out; ++o) s += double{dy[t * n_out + o]} * w[o * n_in + i];
      EXPECT_NEAR(dx[t * n_in + i], s, 1e-5);
    }
}

TEST(TrainOps, LinearInputGradientFromBlockQuantizedWeights) {
  // Q4_K (256-column blocks) and Q4_0 (32): several column chunks, token blocks and row blocks,
  // with ragged ends; the input gradient is that of the dequantized weight, and does not depend
  // on the thread count.
  std::mt19937 rng(4);
  const int64_t n = 300, n_out = 70;
  for (const auto& [type, n_in] : {std::pair{DType::Q4_K, int64_t{768}}, {DType::Q4_0, 544}}) {
    const auto w = random_vector(n_out * n_in, rng), dy = random_vector(n * n_out, rng);
    const QuantTraits* q = quant_traits(type);
    const size_t row_bytes = quant_row_size(type, n_in);
    std::vector<uint8_t> packed(static_cast<size_t>(n_out) * row_bytes);
    std::vector<float> deq(w.size());
    for (int64_t o = 0; o < n_out; ++o) {
      q->quantize_row(w.data() + o * n_in, packed.data() + o * row_bytes, n_in, nullptr);
      q->dequantize_row(packed.data() + o * row_bytes, deq.data() + o * n_in, n_in);
    }
    const int64_t shape[2] = {n_out, n_in};
    const TensorView view = TensorView::contiguous(type, shape, packed.data());
    std::vector<float> dx(n * n_in, 1.0f), dx1(dx.size());
    ThreadPool::set_global_threads(3);
    linear_backward_input(view, dy.data(), n, dx.data(), false);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < n_in; ++i) {
        double s = 0;
        for (int64_t o = 0; o < n_out; ++o) s += double{dy[t * n_out + o]} * deq[o * n_in + i];
        ASSERT_NEAR(dx[t * n_in + i], s, 1e-4) << dtype_name(type) << " " << t << " " << i;
      }
    ThreadPool::set_global_threads(1);
    linear_backward_input(view, dy.data(), n, dx1.data(), false);
    ThreadPool::set_global_threads(0);
    EXPECT_EQ(dx1, dx) << dtype_name(type);
  }
}

TEST(TrainOps, EmbeddingGradientSumsRepeatedIds) {
  std::mt19937 rng(3);
  const int64_t vocab = 6, d = 5, n = 5;
  const std::vector<int32_t> ids = {2, 0, 2, 5, 2};
  auto table = random_vector(vocab * d, rng), wy = random_vector(n * d, rng);
  std::vector<float> y(n * d), dt(vocab * d, 0.0f);
  auto loss = [&] {
    embedding_forward(table.data(), ids.data(), n, d, y.data());
    return weighted_sum(wy, y.data());
  };
  embedding_backward(ids.data(), wy.data(), n, d, dt.data());
  expect_grad("dtable", table, dt, loss, 1e-4);
}

TEST(TrainOps, RmsNormGradients) {
  std::mt19937 rng(4);
  const int64_t rows = 4, width = 11;
  auto x = random_vector(rows * width, rng), g = random_vector(width, rng),
       wy = random_vector(rows * width, rng);
  std::vector<float> y(rows * width), r(rows);
  const float eps = 1e-5f;
  auto loss = [&] {
    rms_norm_forward(x.data(), g.data(), rows, width, eps, y.data(), r.data());
    return weighted_sum(wy, y.data());
  };
  loss();
  for (int64_t i = 0; i < rows; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < width; ++j) ss += double{x[i * width + j]} * x[i * width + j];
    const double s = 1.0 / std::sqrt(ss / width + eps);
    for (int64_t j = 0; j < width; ++j)
      EXPECT_NEAR(y[i * width + j], x[i * width + j] * s * g[j], 1e-5);
  }
  std::vector<float> dx(rows * width), dg(width, 0.0f);
  rms_norm_backward(x.data(), g.data(), r.data(), wy.data(), rows, width, dx.data(), dg.data());
  expect_grad("dx", x, dx, loss);
  expect_grad("dg", g, dg, loss);
  // dx may alias dy.
  std::vector<float> inplace = wy, dg2(width, 0.0f);
  rms_norm_backward(x.data(), g.data(), r.data(), inplace.data(), rows, width, inplace.data(),
                    dg2.data());
  EXPECT_EQ(inplace, dx);
}

TEST(TrainOps, SwigluGradients) {
  std::mt19937 rng(5);
  const int64_t n = 20;
  auto gate = random_vector(n, rng, 3.0f), up = random_vector(n, rng), wy = random_vector(n, rng);
  std::vector<float> h(n), dg(n), du(n);
  auto loss = [&] {
    swiglu_forward(gate.data(), up.data(), n, h.data());
    return weighted_sum(wy, h.data());
  };
  loss();
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(h[i], gate[i] / (1 + std::exp(-double{gate[i]})) * up[i], 1e-5);
  swiglu_backward(gate.data(), up.data(), wy.data(), n, dg.data(), du.data());
  expect_grad("dgate", gate, dg, loss);
  expect_grad("dup", up, du, loss);
}

void check_rope(bool interleaved) {
  ArchConfig cfg;
  cfg.head_dim = 8;
  cfg.rope_theta = 100.0f;  // large angles within a few positions
  cfg.rope_interleaved = interleaved;
  Rope rope(cfg);
  const int64_t n = 4;
  const int heads = 3;
  RopeTable table(rope, n);
  std::mt19937 rng(6);
  auto x = random_vector(n * heads * 8, rng), wy = random_vector(x.size(), rng);
  std::vector<float> y;
  auto loss = [&] {
    y = x;
    table.forward(y.data(), n, heads);
    return weighted_sum(wy, y.data());
  };
  loss();
  // The forward against the definition: pair (i0, i1) of position t turns by t·θ_j.
  const int64_t stride = heads * 8;
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < 4; ++j) {
        const int i0 = interleaved ? 2 * j : j, i1 = interleaved ? 2 * j + 1 : j + 4;
        const double a = t * std::pow(100.0, -2.0 * j / 8);
        const float* v = x.data() + t * stride + h * 8;
        const float* r = y.data() + t * stride + h * 8;
        EXPECT_NEAR(r[i0], v[i0] * std::cos(a) - v[i1] * std::sin(a), 1e-5);
        EXPECT_NEAR(r[i1], v[i0] * std::sin(a) + v[i1] * std::cos(a), 1e-5);
      }
  std::vector<float> dx = wy;
  table.backward(dx.data(), n, heads);
  expect_grad(interleaved ? "interleaved" : "rotate-half", x, dx, loss, 1e-4);
}

TEST(TrainOps, RopeGradientsHfLayout) {
  check_rope(false);
}
TEST(TrainOps, RopeGradientsInterleavedLayout) {
  check_rope(true);
}

TEST(TrainOps, AttentionForwardMatchesDefinition) {
  std::mt19937 rng(7);
  const AttentionShape s{4, 2, 6, 0.4f};
  const int64_t n = 7;
  auto q = random_vector(n * 24, rng), k = random_vector(n * 12, rng),
       v = random_vector(n * 12, rng);
  std::vector<float> out(n * 24), lse(4 * n);
  attention_forward(s, q.data(), k.data(), v.data(), n, out.data(), lse.data());
  for (int h = 0; h < 4; ++h)
    for (int64_t t = 0; t < n; ++t) {
      const int g = h / 2;
      std::vector<double> p(t + 1);
      double sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        double dot = 0;
        for (int d = 0; d < 6; ++d) dot += double{q[t * 24 + h * 6 + d]} * k[j * 12 + g * 6 + d];
        p[j] = std::exp(s.scale * dot);
        sum += p[j];
      }
      EXPECT_NEAR(lse[h * n + t], std::log(sum), 1e-5);
      for (int d = 0; d < 6; ++d) {
        double o = 0;
        for (int64_t j = 0; j <= t; ++j) o += p[j] / sum * v[j * 12 + g * 6 + d];
        EXPECT_NEAR(out[t * 24 + h * 6 + d], o, 1e-5);
      }
    }
}

TEST(TrainOps, AttentionGradientsGqa) {
  std::mt19937 rng(8);
  const AttentionShape s{4, 2, 6, 0.4f};  // two query heads per KV head
  const int64_t n = 6;
  auto q = random_vector(n * 24, rng), k = random_vector(n * 12, rng),
       v = random_vector(n * 12, rng), wy = random_vector(n * 24, rng);
  std::vector<float> out(n * 24), lse(4 * n);
  auto loss = [&] {
    attention_forward(s, q.data(), k.data(), v.data(), n, out.data(), lse.data());
    return weighted_sum(wy, out.data());
  };
  loss();
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size());
  attention_backward(s, q.data(), k.data(), v.data(), out.data(), lse.data(), wy.data(), n,
                     dq.data(), dk.data(), dv.data());
  expect_grad("dq", q, dq, loss);
  expect_grad("dk", k, dk, loss);
  expect_grad("dv", v, dv, loss);
}

TEST(TrainOps, CrossEntropyMatchesDefinitionAndGradient) {
  std::mt19937 rng(9);
  const int64_t n = 5, vocab = 7;
  const std::vector<int32_t> ids = {1, 6, 0, 3, 3};
  auto logits = random_vector(n * vocab, rng, 2.0f);
  std::vector<float> dl(n * vocab);
  auto loss = [&] {
    std::vector<float> scratch(n * vocab);
    return cross_entropy_loss(logits.data(), ids.data(), n, vocab, scratch.data());
  };
  double want = 0;
  for (int64_t t = 0; t + 1 < n; ++t) {
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double{logits[t * vocab + v]});
    want += std::log(sum) - logits[t * vocab + ids[t + 1]];
  }
  want /= n - 1;
  // The exps are f32 (train/vector_math.h, within a few ulps), summed in double: 1e-7 relative is
  // still 100 times inside the 1e-5 for the loss.
  EXPECT_NEAR(cross_entropy_loss(logits.data(), ids.data(), n, vocab, dl.data()), want,
              1e-7 * want);
  expect_grad("dlogits", logits, dl, loss, 1e-4, 1e-3f);
}

TEST(TrainOps, DistillationMatchesDefinitionAndGradient) {
  std::mt19937 rng(10);
  const int64_t n = 4, vocab = 9;
  const double T = 2.0;
  auto student = random_vector(n * vocab, rng, 2.0f), teacher = random_vector(n * vocab, rng, 2.0f);
  std::vector<float> dl(n * vocab);
  auto loss = [&] {
    std::vector<float> scratch(n * vocab);
    return distillation_loss(student.data(), teacher.data(), n, vocab, T, scratch.data());
  };
  double want = 0;
  for (int64_t t = 0; t < n; ++t) {
    double zs = 0, zt = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      zs += std::exp(student[t * vocab + v] / T);
      zt += std::exp(teacher[t * vocab + v] / T);
    }
    for (int64_t v = 0; v < vocab; ++v) {
      const double p = std::exp(teacher[t * vocab + v] / T) / zt;
      const double q = std::exp(student[t * vocab + v] / T) / zs;
      want += p * std::log(p / q);
    }
  }
  want /= n;
  EXPECT_NEAR(distillation_loss(student.data(), teacher.data(), n, vocab, T, dl.data()), want,
              1e-12);
  expect_grad("dstudent", student, dl, loss, 1e-4, 1e-3f);
  // Identical distributions: zero loss.
  EXPECT_NEAR(distillation_loss(teacher.data(), teacher.data(), n, vocab, T, dl.data()), 0, 1e-12);
}

// The linear products (Eigen blocks inside pool tasks) give the same bits whatever the thread
// count, as gradient checkpointing and resumed runs rely on: a layer of several output blocks
// and one of a single block (LoRA's A, rank 16: split over tokens and columns instead).
TEST(LinearOps, SameBitsOnOneAndTwoThreads) {
  const int64_t n = 137, n_in = 300;
  for (const int64_t n_out : {int64_t{70}, int64_t{16}}) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n * n_in), w(n_out * n_in), b(n_out), dy(n * n_out);
    for (auto* v : {&x, &w, &b, &dy})
      for (float& e : *v) e = dist(rng);
    auto run = [&](int threads) {
      ThreadPool::set_global_threads(threads);
      std::vector<float> y(n * n_out), dx(n * n_in), dw(n_out * n_in), db(n_out);
      linear_forward(w.data(), b.data(), n_out, n_in, x.data(), n, y.data());
      linear_backward_input(f32_matrix_view(w.data(), n_out, n_in), dy.data(), n, dx.data(), false);
      linear_backward_weight(x.data(), dy.data(), n, n_out, n_in, dw.data(), db.data());
      return std::vector<std::vector<float>>{y, dx, dw, db};
    };
    const auto one = run(1), two = run(2);
    ThreadPool::set_global_threads(0);
    EXPECT_EQ(one, two) << n_out;
  }
}

// The element- and row-parallel ops (RMSNorm with its gain gradient, SwiGLU) likewise.
TEST(TrainOps, NormAndSwigluSameBitsOnOneAndTwoThreads) {
  const int64_t rows = 150, width = 200, n = rows * width;
  std::mt19937 rng(6);
  const auto x = random_vector(n, rng), g = random_vector(width, rng), dy = random_vector(n, rng),
             up = random_vector(n, rng);
  auto run = [&](int threads) {
    ThreadPool::set_global_threads(threads);
    std::vector<float> y(n), inv(rows), dx(n), dg(width, 1.0f), h(n), d_gate(n), d_up(n);
    rms_norm_forward(x.data(), g.data(), rows, width, 1e-5f, y.data(), inv.data());
    rms_norm_backward(x.data(), g.data(), inv.data(), dy.data(), rows, width, dx.data(), dg.data());
    swiglu_forward(x.data(), up.data(), n, h.data());
    swiglu_backward(x.data(), up.data(), dy.data(), n, d_gate.data(), d_up.data());
    return std::vector<std::vector<float>>{y, inv, dx, dg, h, d_gate, d_up};
  };
  const auto one = run(1), two = run(2);
  ThreadPool::set_global_threads(0);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace edgefit::train
