#include "compress/block_method.h"

#include "core/error.h"
#include "quant/quant_traits.h"

namespace edgefit {

std::vector<float> InputStats::mean_sq() const {
  std::vector<float> m(sum_sq.size());
  for (size_t j = 0; j < m.size(); ++j)
    m[j] = rows > 0 ? static_cast<float>(sum_sq[j] / static_cast<double>(rows)) : 1.f;
  return m;
}

void BlockJob::install(const std::string& name, DType type,
                       std::shared_ptr<const std::vector<uint8_t>> bytes) const {
  ModelTensor* t = nullptr;
  for (auto& mt : work->tensors)
    if (mt.name == name) t = &mt;
  if (!t) throw Error("install: no tensor '" + name + "' in the model");
  const TensorView& old = t->view;
  std::vector<int64_t> shape(old.shape.begin(), old.shape.begin() + old.ndim);
  t->view = TensorView::contiguous(type, shape, bytes->data());
  keep->push_back(std::move(bytes));
}

std::vector<float> BlockJob::source_f32(const std::string& name) const {
  const TensorView& v = source->get(name).view;
  const int64_t rows = v.n_rows(), cols = v.row_size();
  std::vector<float> out(static_cast<size_t>(rows * cols));
  dequantize_tensor(v.dtype, v.data, rows, cols, out.data());
  return out;
}

InputGroup group_of_linear(int i) {
  static constexpr InputGroup kGroups[7] = {
      InputGroup::kAttnIn, InputGroup::kAttnIn, InputGroup::kAttnIn, InputGroup::kAttnOut,
      InputGroup::kFfnIn,  InputGroup::kFfnIn,  InputGroup::kFfnMid};
  return kGroups[i];
}

}  // namespace edgefit
