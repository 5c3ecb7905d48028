// libFuzzer target: sparse weight blocks (Q4_2OF4, Q4_MASK50, Q4_MASK62, Q4_QMASK62) as a hostile
// file holds them. The loader's check (find_corrupt_sparse_block) must accept exactly the blocks
// the decoder accepts, and on accepted blocks the best kernel table must equal the scalar twin bit
// for bit (no read past a block, whatever its index nibbles or mask), and so must its kernels on
// the blocks repacked as the loader repacks them. First byte: the type.
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "quant/q_sparse.h"
#include "quant/quant_traits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgefit;
  if (size < 1) return 0;
  const DType types[] = {DType::Q4_2OF4, DType::Q4_MASK50, DType::Q4_MASK62, DType::Q4_QMASK62};
  const DType t = types[data[0] % 4];
  const size_t block = quant_row_size(t, 256);
  const int64_t n_blocks = static_cast<int64_t>((size - 1) / block);
  if (n_blocks == 0) return 0;
  const int64_t n = 256 * n_blocks;
  // Exactly the row's bytes in their own allocation, so ASan sees any read past them.
  std::vector<uint8_t> row(data + 1, data + 1 + n_blocks * block);
  const bool corrupt = find_corrupt_sparse_block(t, row.data(), n, nullptr) >= 0;
  std::vector<float> w(static_cast<size_t>(n));
  bool decoded = true;
  try {
    quant_traits(t)->dequantize_row(row.data(), w.data(), n);
  } catch (const Error&) {
    decoded = false;
  }
  if (decoded == corrupt) __builtin_trap();
  if (corrupt) return 0;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(data[1 + i % (size - 1)]) - 128.f;
  const kernels::FormatKernels* ref = kernels::kernel_dispatch_for(kernels::Isa::kScalar).find(t);
  const kernels::FormatKernels* best = kernels::kernel_dispatch().find(t);
  // Each table prepares its own activations (the AVX-512 2:4 kernel reorders the quants).
  std::vector<uint8_t> act(ref->act_row_bytes(n)), best_act(best->act_row_bytes(n));
  ref->prepare_act(x.data(), n, act.data());
  best->prepare_act(x.data(), n, best_act.data());
  const float a = ref->vec_dot(n, row.data(), act.data());
  const float b = best->vec_dot(n, row.data(), best_act.data());
  if (std::memcmp(&a, &b, sizeof a) != 0 && !(a != a && b != b)) __builtin_trap();
  // The load-time repacking of accepted blocks (AVX-512 VBMI2 tables: 2:4 expand, masks
  // compress-store with padding cleared) must give the same float too.
  const int64_t shape[2] = {1, n};
  const TensorView view = TensorView::contiguous(t, shape, row.data());
  if (!kernels::can_repack(kernels::kernel_dispatch(), view)) return 0;
  std::vector<uint8_t> packed(row.size());
  const TensorView pv = kernels::repack_weight(view, packed.data());
  const kernels::FormatKernels* pk = kernels::kernel_dispatch().find(pv);
  std::vector<uint8_t> packed_act(pk->act_row_bytes(n));
  pk->prepare_act(x.data(), n, packed_act.data());
  const float c = pk->vec_dot(n, packed.data(), packed_act.data());
  if (std::memcmp(&a, &c, sizeof a) != 0 && !(a != a && c != c)) __builtin_trap();
  return 0;
}
