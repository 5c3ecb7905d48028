#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace edgefit {

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) throw Error(std::string("cannot create: ") + std::strerror(errno), tmp_path_);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, file_) != n)
    throw Error(std::string("write failed: ") + std::strerror(errno), tmp_path_, offset_);
  offset_ += n;
}

void AtomicFileWriter::write_zeros(size_t n) {
  static const std::vector<char> zeros(4096, 0);
  while (n > 0) {
    const size_t k = n < zeros.size() ? n : zeros.size();
    write(zeros.data(), k);
    n -= k;
  }
}

void AtomicFileWriter::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw Error(std::string("flush failed: ") + std::strerror(errno), tmp_path_);
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw Error(std::string("cannot rename into place: ") + std::strerror(errno), path_);
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter w(path);
  w.write(contents);
  w.commit();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot open: ") + std::strerror(errno), path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace edgefit
