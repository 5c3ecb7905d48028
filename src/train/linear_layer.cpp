#include "train/linear_layer.h"

#include <vector>

#include "model/matmul.h"
#include "train/linear.h"

namespace edgefit::train {

int64_t LinearLayer::n_out() const {
  return weight ? weight->shape[0] : frozen->shape[0];
}
int64_t LinearLayer::n_in() const {
  return weight ? weight->shape[1] : frozen->shape[1];
}

namespace {

TensorView view_of(const Parameter& p) {
  return f32_matrix_view(p.value.data(), p.shape[0], p.shape[1]);
}

}  // namespace

void linear_layer_forward(const LinearLayer& l, const float* x, int64_t n, float* y) {
  const int64_t n_out = l.n_out(), n_in = l.n_in();
  if (l.weight) {
    linear_forward(l.weight->value.data(), l.bias ? l.bias->value.data() : nullptr, n_out, n_in, x,
                   n, y);
  } else {
    matmul(l.product, *l.frozen, x, n, y);
    if (l.bias)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t o = 0; o < n_out; ++o) y[t * n_out + o] += l.bias->value[o];
  }
  if (l.lora.a) {
    const LoraAdapter& ad = l.lora;
    const int64_t r = ad.a->shape[0];
    std::vector<float> u(static_cast<size_t>(n * r));
    linear_forward(ad.a->value.data(), nullptr, r, n_in, x, n, u.data());
    // y += s · (u · Bᵀ) in the GEMM: no [n, n_out] delta buffer, no serial pass over y.
    linear_forward(ad.b->value.data(), nullptr, n_out, r, u.data(), n, y, ad.scale, true);
  }
}

void linear_layer_backward(const LinearLayer& l, const float* x, const float* dy, int64_t n,
                           float* dx, bool accumulate) {
  const int64_t n_out = l.n_out(), n_in = l.n_in();
  if (l.weight) {
    linear_backward_input(view_of(*l.weight), dy, n, dx, accumulate);
    linear_backward_weight(x, dy, n, n_out, n_in, l.weight->grad.data(),
                           l.bias ? l.bias->grad.data() : nullptr);
  } else {
    // A layer on a plain forward function (the f32 reference, matmul_ref) keeps the f32 backward
    // too: the reference stays f32 end to end whatever the process's product choice.
    const TrainProducts products =
        l.product.fn ? TrainProducts::kF32 : train_products(l.frozen->dtype);
    linear_backward_input(*l.frozen, dy, n, dx, accumulate, products);
    if (l.bias)
      for (int64_t o = 0; o < n_out; ++o) {
        double s = 0;
        for (int64_t t = 0; t < n; ++t) s += dy[t * n_out + o];
        l.bias->grad[o] += static_cast<float>(s);
      }
  }
  if (l.lora.a) {
    const LoraAdapter& ad = l.lora;
    const int64_t r = ad.a->shape[0];
    std::vector<float> u(static_cast<size_t>(n * r)), g(static_cast<size_t>(n * r));
    linear_forward(ad.a->value.data(), nullptr, r, n_in, x, n, u.data());
    for (float& v : u) v *= ad.scale;  // s·(x·Aᵀ): dB += dyᵀ·that
    linear_backward_weight(u.data(), dy, n, n_out, r, ad.b->grad.data(), nullptr);
    linear_backward_input(view_of(*ad.b), dy, n, g.data(), false);
    for (float& v : g) v *= ad.scale;  // s·(dy·B)
    linear_backward_weight(x, g.data(), n, r, n_in, ad.a->grad.data(), nullptr);
    linear_backward_input(view_of(*ad.a), g.data(), n, dx, true);
  }
}

}  // namespace edgefit::train
