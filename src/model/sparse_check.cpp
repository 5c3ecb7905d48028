#include "model/sparse_check.h"

#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/q_sparse.h"

namespace edgefit {

void check_sparse_tensors(const Model& model) {
  for (const ModelTensor& t : model.tensors) {
    const TensorView& v = t.view;
    if (!is_sparse_dtype(v.dtype)) continue;
    std::string why;
    const int64_t n = static_cast<int64_t>(v.nbytes() / dtype_info(v.dtype)->type_size) *
                      static_cast<int64_t>(dtype_info(v.dtype)->block_size);
    const int64_t bad = find_corrupt_sparse_block(v.dtype, v.data, n, &why);
    if (bad >= 0)
      throw Error("tensor '" + t.name + "' (" + std::string(dtype_name(v.dtype)) + ") block " +
                      std::to_string(bad) + " is corrupt: " + why,
                  t.source,
                  t.file_offset + static_cast<uint64_t>(bad) * dtype_info(v.dtype)->type_size);
  }
}

}  // namespace edgefit
