// Runs the edgefit binary as a user would, capturing exit status, output and peak memory.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace edgefit::test {

struct CommandResult {
  int status = -1;       // exit status (128 + signal when killed)
  std::string out;       // stdout
  std::string err;       // stderr
  long peak_rss_kb = 0;  // the child's maximum resident set size
};

// Starts the edgefit binary with stdout/stderr redirected to the given files; returns its pid.
inline pid_t spawn_edgefit(const std::vector<std::string>& args, const std::string& out_path,
                           const std::string& err_path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen(out_path.c_str(), "w", stdout) ||
        !std::freopen(err_path.c_str(), "w", stderr))
      ::_exit(120);
    std::vector<char*> argv;
    const std::string exe = std::string(EDGEFIT_BINARY_DIR) + "/edgefit";
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

inline CommandResult run_edgefit(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base = std::string(EDGEFIT_BINARY_DIR) + "/test-scratch/cmd" +
                           std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string out_path = base + ".out", err_path = base + ".err";
  const pid_t pid = spawn_edgefit(args, out_path, err_path);
  CommandResult r;
  int wstatus = 0;
  struct rusage ru {};
  ::wait4(pid, &wstatus, 0, &ru);
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  r.peak_rss_kb = ru.ru_maxrss;
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

}  // namespace edgefit::test
