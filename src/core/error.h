// The one error type of edgefit: a message plus, where known, the file and byte offset it concerns.
// Commands catch it at the top and print one line: "edgefit: error: <file>: at byte <n>:
// <message>".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace edgefit {

class Error : public std::runtime_error {
 public:
  static constexpr uint64_t kNoOffset = UINT64_MAX;

  explicit Error(const std::string& message) : Error(message, "", kNoOffset) {}
  Error(const std::string& message, std::string file, uint64_t offset = kNoOffset)
      : std::runtime_error(format(message, file, offset)),
        message_(message),
        file_(std::move(file)),
        offset_(offset) {}

  const std::string& message() const { return message_; }  // without file/offset prefix
  const std::string& file() const { return file_; }        // "" when not about a file
  uint64_t offset() const { return offset_; }              // kNoOffset when unknown

 private:
  static std::string format(const std::string& message, const std::string& file, uint64_t offset) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (offset != kNoOffset) s += "at byte " + std::to_string(offset) + ": ";
    return s + message;
  }

  std::string message_;
  std::string file_;
  uint64_t offset_;
};

// Error for bad command-line usage (exit status 2 instead of 1).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace edgefit
