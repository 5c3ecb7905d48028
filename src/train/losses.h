// Training losses on logits [n, vocab] and their gradients with respect to those logits. Both
// take log-sum-exp in double, so the loss itself is exact to ~1e-12 relative before rounding.
//
// Cross-entropy, as in ../shared/ref/grad: the mean over positions 0 … n−2 of
//   −log softmax(logits_t)[ids_{t+1}]        (token t predicts token t+1; natural log)
// Distillation, KL(teacher ‖ student) at temperature T, summed over the vocabulary and averaged
// over all n positions, with no T² factor:
//   (1/n) Σ_t Σ_v p_tv (log p_tv − log q_tv),  p = softmax(teacher/T), q = softmax(student/T)
//   d/d student_tv = (q_tv − p_tv) / (T · n)
#pragma once

#include <cstdint>

namespace edgefit::train {

// Returns the mean next-token cross-entropy of ids[1 … n) under logits[0 … n−1); writes its
// gradient into dlogits [n, vocab] (the last row, which predicts nothing, is zero). n >= 2.
double cross_entropy_loss(const float* logits, const int32_t* ids, int64_t n, int64_t vocab,
                          float* dlogits);

// Returns KL(teacher ‖ student) at temperature T as defined above and writes its gradient with
// respect to the student's logits into dlogits [n, vocab].
double distillation_loss(const float* student, const float* teacher, int64_t n, int64_t vocab,
                         double temperature, float* dlogits);

// The same losses over rows [t0, t1) of an n-position sequence, so the training head can hold the
// logits of a few positions at a time instead of [n, vocab] (train/train_model.cpp): `logits`,
// `teacher` and `dlogits` point at row t0 (t1 − t0 rows each), `ids` at the whole sequence. They
// return the rows' summed loss, not its mean; the gradient is already the full loss's (divided
// by the whole sequence's count). Summing the ranges' returns in order and dividing by the count
// gives the functions above.
double cross_entropy_rows(const float* logits, const int32_t* ids, int64_t n, int64_t t0,
                          int64_t t1, int64_t vocab, float* dlogits);
double distillation_rows(const float* student, const float* teacher, int64_t n, int64_t t0,
                         int64_t t1, int64_t vocab, double temperature, float* dlogits);

}  // namespace edgefit::train
