// Output files that appear whole or not at all: bytes go to "<path>.tmp-<pid>" and commit()
// renames it over <path>. If the writer is destroyed without commit (an error, a kill between
// writes), the temp file is removed and <path> is untouched. A kill -9 cannot be caught, so each
// new writer first removes the temp files of the same <path> left by processes that no longer
// exist. Errors name <path>, the file the user asked for, never the temp file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace edgefit {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write_zeros(size_t n);
  uint64_t offset() const { return offset_; }  // bytes written so far
  // Flush, fsync and rename into place. Throws Error on failure (temp file removed).
  void commit();

 private:
  std::string path_;      // final destination
  std::string tmp_path_;  // where bytes go until commit
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
  int slot_ = -1;  // entry in the signal handler's table of temp files
};

// Installs SIGINT/SIGTERM/SIGHUP handlers that delete the temp files of writers still open, then
// let the signal end the process as before (Ctrl-C leaves no "<path>.tmp-<pid>" behind).
// SIGKILL cannot be caught: long pipelines also clear stale temp files when they restart.
void remove_temp_files_on_signals();

// Removes "<path>.tmp-<pid>" files whose process is gone (kill -9, power loss); temp files of
// live processes, this one included, are left alone. Called by every AtomicFileWriter.
void remove_stale_temp_files(const std::string& path);

// Convenience: write a whole string atomically.
void write_file_atomic(const std::string& path, std::string_view contents);
// Read a whole (small) file into a string; throws Error naming the file (also when it is a FIFO,
// a folder or a device: see open_regular_file).
std::string read_file(const std::string& path);

}  // namespace edgefit
