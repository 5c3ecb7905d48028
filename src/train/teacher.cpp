#include "train/teacher.h"

namespace edgefit::train {

std::vector<float> Teacher::logits(std::span<const int32_t> ids) {
  KVCache cache = tf_.make_cache(static_cast<int64_t>(ids.size()));
  return tf_.forward(ids, cache);
}

}  // namespace edgefit::train
