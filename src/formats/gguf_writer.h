// Writes GGUF v3 files. Metadata and tensor infos are written in the order given, each tensor's
// data padded with zeros to `general.alignment` — the layout llama.cpp and gguf-py produce, so
// reading a GGUF and writing it back gives the same bytes.
//
// Tensor data is pulled through a callback when the file is written, so a quantizer can stream
// one tensor at a time instead of holding the whole model in memory. Output goes to a temp file
// renamed into place only when complete.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "formats/gguf.h"

namespace edgefit {

struct GgufTensorSpec {
  std::string name;          // tensor name
  DType type;                // ggml type
  std::vector<uint64_t> ne;  // extents innermost first (ne[0] = row length)
  // Writes exactly the tensor's bytes (dtype_bytes(type, numel)) to the sink.
  std::function<void(AtomicFileWriter&)> write_data;
};

class GgufWriter {
 public:
  void set_alignment(uint64_t a) { alignment_ = a; }
  // Adds or replaces a metadata value (replacing keeps the original position).
  void set(const std::string& key, GgufValue value);
  void remove(const std::string& key);
  const GgufValue* find(const std::string& key) const;
  void add_tensor(GgufTensorSpec spec);
  // Adds a tensor whose bytes are already in memory (e.g. an mmap); `data` must outlive write().
  void add_tensor(const std::string& name, DType type, std::vector<uint64_t> ne, const void* data);

  // Writes the file atomically; throws Error on I/O failure or a callback writing the wrong size.
  void write(const std::string& path) const;

  const std::vector<GgufKV>& kvs() const { return kvs_; }
  const std::vector<GgufTensorSpec>& tensors() const { return tensors_; }

 private:
  uint64_t alignment_ = 32;              // data alignment (general.alignment)
  std::vector<GgufKV> kvs_;              // metadata in write order
  std::vector<GgufTensorSpec> tensors_;  // tensors in write order
};

// A writer pre-filled with every key and tensor of `src` (tensor bytes referenced from its mmap).
GgufWriter gguf_writer_from(const GgufFile& src);

}  // namespace edgefit
