// Kept-weight counts of stored q4_qmask62 blocks, read straight from their mask bytes and
// independently of the pruning code: per slot half (mask bytes 0-15 are slots 0-127, bytes 16-31
// slots 128-255: what the AVX-512 kernel's nibble split needs at most 48 of) and per aligned
// 32-weight run of the block (slot s holds weight qmask62_position(s): what pruning bounds at 12).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "quant/q_sparse.h"

namespace edgefit::test {

// The counts over every block of a tensor.
struct QMask62Counts {
  int64_t blocks = 0;  // blocks read
  int64_t kept = 0;    // mask bits set over all blocks
  int max_half = 0;    // most bits set in one slot half of a block
  int max_run = 0;     // most kept weights in one aligned 32-weight run of a block
};

// Counts the masks of `n_blocks` blocks at `data` (the tensor's bytes as stored).
inline QMask62Counts qmask62_counts(const void* data, int64_t n_blocks) {
  QMask62Counts c;
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* mask = bytes + b * static_cast<int64_t>(sizeof(BlockQ4_QMask62));
    int half[2] = {0, 0}, run[kSparseBlock / 32] = {};
    for (int s = 0; s < kSparseBlock; ++s) {
      if (!((mask[s / 8] >> (s % 8)) & 1)) continue;
      ++half[s / 128];
      ++run[qmask62_position(s) / 32];
    }
    for (int byte = 0; byte < 32; ++byte) c.kept += std::popcount(mask[byte]);
    c.max_half = std::max({c.max_half, half[0], half[1]});
    c.max_run = std::max(c.max_run, *std::max_element(run, run + kSparseBlock / 32));
    ++c.blocks;
  }
  return c;
}

}  // namespace edgefit::test
