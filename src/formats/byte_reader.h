// Bounds-checked little-endian reading of a byte range. Every read checks the remaining length
// first and throws Error(file, offset) otherwise, which is what makes the parsers safe on hostile
// input: nothing is allocated before the bytes that justify it are known to exist.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace edgefit {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, uint64_t size, std::string file)
      : data_(data), size_(size), file_(std::move(file)) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& msg) const { throw Error(msg, file_, pos_); }
  [[noreturn]] void fail_at(uint64_t at, const std::string& msg) const {
    throw Error(msg, file_, at);
  }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
           std::to_string(remaining()) + " left");
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // little-endian host assumed (x86-64, aarch64)
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

 private:
  const uint8_t* data_;  // start of the range
  uint64_t size_;        // its length
  std::string file_;     // for error messages
  uint64_t pos_ = 0;     // next byte to read
};

}  // namespace edgefit
