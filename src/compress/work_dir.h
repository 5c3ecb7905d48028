// The resumable state of a calibrated quantization: "<output>.work/". A killed run restarts from
// the block after the last finished one instead of from scratch.
//
//   key.txt            the hash of everything the result depends on (input file identity, plan,
//                      method options, calibration files); a different key wipes the directory
//   <tensor>.bin       finished output tensors: dtype id (u32) + byte count (u64) + bytes
//   hidden.f32         the calibration hidden states after the last finished block:
//                      magic, block index, float count, floats
//   blk.N.done         written last for block N (after its tensors and hidden.f32), so a done
//                      marker always implies complete files
// Every file is written atomically (temp + rename).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/content_key.h"  // hash_key, file_identity for the run key
#include "core/dtype.h"

namespace edgefit {

class WorkDir {
 public:
  // Opens (creating) `path` for the run described by `key`; a stale directory for another key is
  // emptied first.
  WorkDir(std::string path, const std::string& key);

  const std::string& path() const { return path_; }
  // The highest N such that blocks 0…N are all done, or -1.
  int last_done_block() const;
  void mark_done(int layer);

  void save_tensor(const std::string& name, DType type, const std::vector<uint8_t>& bytes);
  bool has_tensor(const std::string& name) const;
  // Reads a saved tensor; throws Error when missing or corrupt.
  std::vector<uint8_t> load_tensor(const std::string& name, DType* type = nullptr) const;

  // Hidden states after block `layer` (or the final ones, layer = n_layers − 1).
  void save_hidden(int layer, const std::vector<float>& h);
  // Loads the hidden states saved after `layer`; false when absent or for another layer/size.
  bool load_hidden(int layer, std::vector<float>& h) const;

  // Small named float vectors (e.g. the output head's importance).
  void save_floats(const std::string& name, const std::vector<float>& v);
  bool load_floats(const std::string& name, std::vector<float>& v) const;

  // Deletes the directory (after the output file was written).
  void remove();

 private:
  std::string file(const std::string& name) const;
  std::string path_;  // the directory
};

}  // namespace edgefit
