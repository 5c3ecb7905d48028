// safetensors: u64 header length | JSON header | tensor bytes. The header maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header),
// plus an optional "__metadata__" object of strings. Reading maps the file and validates every
// entry (dtype known, offsets inside the file, size = numel × element size, no overlaps).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/mapped_file.h"
#include "core/tensor.h"

namespace edgefit {

struct SafetensorsEntry {
  std::string name;            // tensor name as stored
  DType dtype;                 // element type
  std::vector<int64_t> shape;  // outermost first (may have more than 4 dims in the file)
  uint64_t begin = 0;          // file offset of the first byte
  uint64_t nbytes = 0;         // byte length
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws Error on malformed files

  const std::string& path() const { return file_->path(); }
  const std::vector<SafetensorsEntry>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;
  const uint8_t* data(const SafetensorsEntry& e) const { return file_->data() + e.begin; }
  // View of a tensor (throws Error for more than 4 dimensions).
  TensorView view(const SafetensorsEntry& e) const;
  std::shared_ptr<const MappedFile> mapping() const { return file_; }
  uint64_t header_size() const { return header_size_; }

 private:
  std::shared_ptr<MappedFile> file_;
  uint64_t header_size_ = 0;               // 8 + JSON length
  std::vector<SafetensorsEntry> tensors_;  // in file-offset order
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t> index_;
};

// Name of a dtype in safetensors' spelling ("F32", "BF16", "F8_E4M3"…); throws for block types.
std::string safetensors_dtype_name(DType t);

struct SafetensorsTensorSpec {
  std::string name;                                   // tensor name
  DType dtype;                                        // plain element type
  std::vector<int64_t> shape;                         // outermost first
  std::function<void(AtomicFileWriter&)> write_data;  // writes exactly numel × size bytes
};

// Writes a safetensors file atomically, tensors in the given order, header padded to 8 bytes.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorSpec>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace edgefit
