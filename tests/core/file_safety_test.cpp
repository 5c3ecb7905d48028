// Nothing lost, clear errors: outputs that are inputs (core/output_path.h), files that are not
// regular files (core/mapped_file.h), stale temp files of killed writers (core/atomic_file.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/output_path.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& p, const std::string& text = "x") {
  std::ofstream(p) << text;
}

// The message of the Error `f` throws, or "" when it throws none.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OutputPath, RefusesAnInputByNameSymlinkDotDotAndHardLink) {
  const std::string dir = test::scratch_dir("output-path");
  touch(dir + "/model.gguf");
  touch(dir + "/calib.txt");
  fs::create_directory(dir + "/sub");
  fs::create_symlink(dir + "/model.gguf", dir + "/link.gguf");
  fs::create_hard_link(dir + "/calib.txt", dir + "/hard.txt");
  const std::vector<std::string> inputs = {dir + "/model.gguf", "", dir + "/calib.txt"};
  for (const std::string& out :
       {dir + "/model.gguf", dir + "/link.gguf", dir + "/sub/../model.gguf", dir + "/hard.txt",
        dir + "/calib.txt"}) {
    const std::string e = error_of([&] { check_output_not_input(out, inputs); });
    EXPECT_NE(e.find("is one of the inputs"), std::string::npos) << out << ": " << e;
    EXPECT_EQ(e.rfind(out, 0), 0u) << "the message starts with the user's output path: " << e;
  }
  // Relative spellings of an input are the same file too.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir + "/sub");
  EXPECT_THROW(check_output_not_input("../model.gguf", inputs), Error);
  fs::current_path(cwd);
  EXPECT_NO_THROW(check_output_not_input(dir + "/other.gguf", inputs));
  EXPECT_NO_THROW(check_output_not_input(dir + "/sub/model.gguf", inputs));
}

TEST(OutputPath, AFolderInputCoversItsFiles) {
  const std::string dir = test::scratch_dir("output-path-hf");
  fs::create_directory(dir + "/hf");
  touch(dir + "/hf/model.safetensors");
  touch(dir + "/hf/config.json");
  EXPECT_THROW(check_output_not_input(dir + "/hf/model.safetensors", {dir + "/hf"}), Error);
  EXPECT_THROW(check_output_not_input(dir + "/hf/config.json", {dir + "/hf"}), Error);
  EXPECT_THROW(check_output_not_input(dir + "/hf", {dir + "/hf"}), Error);
  EXPECT_NO_THROW(check_output_not_input(dir + "/hf/q4.gguf", {dir + "/hf"}));
  EXPECT_NO_THROW(check_output_not_input(dir + "/out", {dir + "/hf"}));
}

TEST(RegularFiles, FifoDirectoryAndSocketAreRefusedAtOnce) {
  const std::string dir = test::scratch_dir("regular-files");
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO for reading blocks until a writer appears; a regression would hang, and the
  // alarm turns that into a failure.
  ::alarm(20);
  for (const std::string& p : {fifo}) {
    EXPECT_NE(error_of([&] { MappedFile f(p); }).find("FIFO"), std::string::npos);
    EXPECT_NE(error_of([&] { read_file(p); }).find("FIFO"), std::string::npos);
    EXPECT_NE(error_of([&] { read_file_prefix(p, 4); }).find("FIFO"), std::string::npos);
  }
  EXPECT_NE(error_of([&] { read_file(dir); }).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { MappedFile f(dir); }).find("is a directory"), std::string::npos);
  const std::string sock = dir + "/sock";
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  if (sock.size() < sizeof addr.sun_path &&
      ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    EXPECT_NE(error_of([&] { MappedFile f(sock); }).find("socket"), std::string::npos);
    EXPECT_NE(error_of([&] { read_file(sock); }).find("socket"), std::string::npos);
  }
  ::close(s);
  EXPECT_NE(error_of([&] { MappedFile f("/dev/zero"); }).find("character device"),
            std::string::npos);
  ::alarm(0);
  touch(dir + "/ok.txt", "hello");
  EXPECT_EQ(read_file(dir + "/ok.txt"), "hello");
  EXPECT_EQ(read_file_prefix(dir + "/ok.txt", 2), "he");
  EXPECT_EQ(read_file_prefix(dir + "/ok.txt", 99), "hello");
}

// A process id that certainly belonged to a process which has exited.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, RemovesStaleTempFilesOfDeadProcessesOnly) {
  const std::string dir = test::scratch_dir("stale-temp");
  const std::string out = dir + "/model.gguf";
  const std::string dead = out + ".tmp-" + std::to_string(dead_pid());
  const std::string live = out + ".tmp-" + std::to_string(::getppid());  // our parent is alive
  const std::string other = dir + "/other.gguf.tmp-" + std::to_string(dead_pid());
  const std::string unrelated = out + ".tmp-notapid";
  for (const auto& p : {dead, live, other, unrelated}) touch(p);
  write_file_atomic(out, "new");
  EXPECT_FALSE(fs::exists(dead)) << "a killed writer's temp file stays forever";
  EXPECT_TRUE(fs::exists(live)) << "another live process's temp file was removed";
  EXPECT_TRUE(fs::exists(other)) << "a temp file of another output was removed";
  EXPECT_TRUE(fs::exists(unrelated));
  EXPECT_EQ(read_file(out), "new");
}

TEST(AtomicFile, ErrorsNameTheUsersPathNotTheTempFile) {
  const std::string dir = test::scratch_dir("atomic-errors");
  const std::string out = dir + "/missing-folder/x.gguf";
  const std::string e = error_of([&] { write_file_atomic(out, "data"); });
  EXPECT_EQ(e.rfind(out + ": ", 0), 0u) << e;
  EXPECT_EQ(e.find(".tmp-"), std::string::npos) << e;
}

}  // namespace
}  // namespace edgefit
