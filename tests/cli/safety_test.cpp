// Nothing lost, clear errors, as a user meets them on the command line (issue 21): outputs that
// are inputs, inconsistent or non-finite models, too many threads, FIFOs, stale temp files, usage
// errors, and llama-quantize's habits.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "run_command.h"
#include "test_data.h"

namespace edgefit {
namespace {

namespace fs = std::filesystem;
using test::run_edgefit;
using test::shared_path;

const std::string kStoriesF32 = shared_path("models/stories260K/gguf/stories260K-f32.gguf");
const std::string kStoriesHf = shared_path("models/stories260K/hf");
const std::string kCalib = shared_path("text/tinystories/TinyStories-valid.head31k.txt");

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One "edgefit: error: …" (or usage error) line and the given exit status.
void expect_error(const test::CommandResult& r, int status, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.status, status) << r.err;
  const std::string prefix = status == 2 ? "edgefit: usage error: " : "edgefit: error: ";
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << r.err;
}

// Files in `dir` whose name contains ".tmp-".
int temp_files_in(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

TEST(SafetyCli, NoCommandWritesOverOneOfItsInputs) {
  const std::string dir = test::scratch_dir("cli-out-is-in");
  const std::string model = dir + "/m.gguf", calib = dir + "/calib.txt";
  fs::copy_file(kStoriesF32, model);
  fs::copy_file(kCalib, calib);
  fs::create_symlink(model, dir + "/link.gguf");
  fs::create_directory(dir + "/sub");
  const std::string model_bytes = slurp(model), calib_bytes = slurp(calib);
  const std::vector<std::string> imatrix = {"imatrix", model, "--calib", calib,
                                            "--ctx",   "64",  "-o"};
  for (const std::string& out :
       {model, calib, dir + "/link.gguf", dir + "/sub/../m.gguf", dir + "/sub/../calib.txt"}) {
    auto args = imatrix;
    args.push_back(out);
    expect_error(run_edgefit(args), 1, {"is one of the inputs"});
  }
  expect_error(run_edgefit({"quantize", model, dir + "/link.gguf", "q8_0"}), 1,
               {"is one of the inputs"});
  // A file of a Hugging Face folder, and the folder as compress's output folder.
  const std::string hf = dir + "/hf";
  fs::copy(kStoriesHf, hf);
  expect_error(run_edgefit({"quantize", hf, hf + "/model.safetensors", "q8_0"}), 1,
               {"is one of the inputs", "model.safetensors"});
  expect_error(
      run_edgefit({"compress", hf, "--device", "raspberry-pi-5", "--text", calib, "-o", hf}), 1,
      {"is one of the inputs"});
  // A model that is one of the files compress writes into its output folder.
  fs::copy_file(model, dir + "/q4_k_m.gguf");
  expect_error(run_edgefit({"compress", dir + "/q4_k_m.gguf", "--device", "raspberry-pi-5",
                            "--text", calib, "-o", dir}),
               1, {"is one of the inputs", "q4_k_m.gguf"});
  EXPECT_EQ(slurp(dir + "/q4_k_m.gguf"), model_bytes);
  // plan writes a recipe: not over a file of the model folder either.
  const std::string config_bytes = slurp(hf + "/config.json");
  expect_error(run_edgefit({"plan", hf, "--device", "raspberry-pi-5", "-o", hf + "/config.json"}),
               1, {"is one of the inputs", "config.json"});
  EXPECT_EQ(slurp(hf + "/config.json"), config_bytes);
  EXPECT_EQ(slurp(model), model_bytes);
  EXPECT_EQ(slurp(calib), calib_bytes);
  EXPECT_EQ(temp_files_in(dir), 0);
  // A different output still works.
  const auto ok = run_edgefit({"quantize", "-q", model, dir + "/q.gguf", "q4_k_m"});
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// A copy of the stories260K HF folder with a NaN or Inf at one flat index of one tensor.
std::string hf_with_bad_weight(const std::string& dir, const std::string& tensor, int64_t index,
                               float value) {
  fs::copy(kStoriesHf, dir);
  const std::string st = dir + "/model.safetensors";
  std::string bytes = slurp(st);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  const uint64_t begin = header[tensor]["data_offsets"][0].get<uint64_t>();
  std::memcpy(bytes.data() + 8 + n + begin + 4 * index, &value, 4);
  std::ofstream(st, std::ios::binary | std::ios::trunc) << bytes;
  return dir;
}

TEST(SafetyCli, NonFiniteWeightsAreRefusedAndNothingIsWritten) {
  const std::string root = test::scratch_dir("cli-nan");
  const std::string nan_dir =
      hf_with_bad_weight(root + "/nan", "model.layers.3.mlp.up_proj.weight", 777, std::nanf(""));
  const std::string out = root + "/out.gguf";
  for (const char* type : {"q4_k_m", "q6_k", "f16"}) {
    expect_error(run_edgefit({"quantize", "-q", nan_dir, out, type}), 1,
                 {"blk.3.ffn_up.weight", "nan", "flat index 777"});
    EXPECT_FALSE(fs::exists(out));
  }
  // The calibrated methods plan first, so they refuse before any calibration work.
  expect_error(run_edgefit({"quantize", "-q", nan_dir, out, "q4_k_m", "--method", "gptq", "--calib",
                            kCalib}),
               1, {"blk.3.ffn_up.weight", "flat index 777"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".work"));
  const std::string inf_dir = hf_with_bad_weight(root + "/inf", "model.norm.weight", 5, -INFINITY);
  expect_error(run_edgefit({"quantize", "-q", inf_dir, out, "q6_k"}), 1,
               {"output_norm.weight", "-inf", "flat index 5"});
  expect_error(run_edgefit({"quantize", "--dry-run", inf_dir, "--type", "q6_k"}), 1,
               {"output_norm.weight"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(temp_files_in(root), 0);
}

TEST(SafetyCli, InconsistentModelIsRefusedByEveryCommand) {
  const std::string dir = test::scratch_dir("cli-inconsistent") + "/hf";
  fs::copy(kStoriesHf, dir);
  auto cfg = nlohmann::json::parse(slurp(dir + "/config.json"));
  cfg["num_hidden_layers"] = 7;
  std::ofstream(dir + "/config.json", std::ios::trunc) << cfg.dump();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"quantize", dir, dir + "/../q.gguf", "q6_k"},
        {"inspect", dir},
        {"eval", dir, "--text", kCalib, "--ctx", "64"},
        {"generate", dir, "-n", "2"}}) {
    SCOPED_TRACE(args[0]);
    expect_error(run_edgefit(args), 1, {"no tensor 'blk.5."});
  }
  EXPECT_FALSE(fs::exists(dir + "/../q.gguf"));
}

// Runs edgefit with an address-space limit; kills it after `timeout` (a hang is a failure).
struct LimitedRun {
  bool timed_out = false;  // had to be killed
  int status = -1;         // exit status otherwise
  std::string err;         // stderr
};
LimitedRun run_with_memory_limit(const std::vector<std::string>& args, rlim_t bytes,
                                 std::chrono::seconds timeout) {
  const std::string base = test::scratch_dir("cli-limited") + "/run";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit lim{bytes, bytes};
    ::setrlimit(RLIMIT_AS, &lim);
    if (!std::freopen((base + ".out").c_str(), "w", stdout) ||
        !std::freopen((base + ".err").c_str(), "w", stderr))
      ::_exit(120);
    const std::string exe = std::string(EDGEFIT_BINARY_DIR) + "/edgefit";
    std::vector<char*> argv = {const_cast<char*>(exe.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  LimitedRun r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int ws = 0;
  while (::waitpid(pid, &ws, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &ws, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  r.err = slurp(base + ".err");
  return r;
}

TEST(SafetyCli, TooManyThreadsIsAnErrorNotAHang) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan reserves terabytes of shadow memory; an address-space limit stops it";
#else
  // 1000 threads need ~8 GB of stack address space; 1 GiB runs out after about a hundred.
  const LimitedRun r = run_with_memory_limit({"-t", "1000", "inspect", kStoriesF32}, 1ull << 30,
                                             std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out) << "edgefit hung when its threads could not start";
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("edgefit: error: cannot start 1000 threads", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
#endif
}

TEST(SafetyCli, FifoAsModelOrTextIsRefusedAtOnce) {
  const std::string dir = test::scratch_dir("cli-fifo");
  const std::string fifo = dir + "/model.gguf";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ::alarm(
      120);  // a regression blocks in open(); the alarm ends the test instead of ctest's timeout
  expect_error(run_edgefit({"inspect", fifo}), 1, {"FIFO"});
  expect_error(run_edgefit({"quantize", fifo, dir + "/o.gguf", "q8_0"}), 1, {"FIFO"});
  expect_error(run_edgefit({"eval", kStoriesF32, "--text", fifo, "--ctx", "64"}), 1, {"FIFO"});
  expect_error(run_edgefit({"tokenize", fifo, "--text", "hi"}), 1, {"FIFO"});
  expect_error(run_edgefit({"tokenize", kStoriesF32, "--file", fifo}), 1, {"FIFO"});
  expect_error(run_edgefit({"eval", kStoriesF32, "--text", dir, "--ctx", "64"}), 1,
               {"is a directory"});
  ::alarm(0);
}

TEST(SafetyCli, StaleTempFilesOfKilledRunsAreRemoved) {
  const std::string dir = test::scratch_dir("cli-stale");
  const std::string out = dir + "/q.gguf";
  // A quantize killed with -9 while writing: start one, let it create its temp file, kill it.
  const pid_t pid =
      test::spawn_edgefit({"quantize", shared_path("models/polyglot/hf"), out, "q4_k_m"},
                          dir + "/killed.out", dir + "/killed.err");
  const std::string tmp = out + ".tmp-" + std::to_string(pid);
  for (int i = 0; i < 3000 && !fs::exists(tmp); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  if (!fs::exists(tmp)) std::ofstream(tmp) << "partial";  // finished too fast: leave one by hand
  ASSERT_TRUE(fs::exists(tmp));
  const auto r = run_edgefit({"quantize", "-q", kStoriesF32, out, "q4_k_m"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp)) << "the killed run's temp file was left behind";
  EXPECT_EQ(temp_files_in(dir), 0);
}

TEST(SafetyCli, DeviceProfileNumbersAreValidated) {
  const std::string dir = test::scratch_dir("cli-device");
  std::ofstream(dir + "/bad.json") << R"({"id":"bad","name":"bad","ram_bytes":-5,)"
                                      R"("storage_bytes":1073741824,"bandwidth_gbs":5,"cores":4})";
  expect_error(run_edgefit({"devices", dir + "/bad.json"}), 1, {"'ram_bytes'", "-5"});
}

TEST(SafetyCli, UsageErrorsAreOneLineWithExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                           // no command
      {"inspect"},                                  // missing positional
      {"quantize", kStoriesF32},                    // missing output
      {"-t", "abc", "inspect", kStoriesF32},        // not a number
      {"inspect", kStoriesF32, "-t", "lots"},       // not a number, after the command
      {"inspect", "--bogus", kStoriesF32},          // unknown option
      {"no-such-command"},                          // unknown command
      {"generate", kStoriesF32, "-n", "x"},         // conversion
      {"-t", "-3", "inspect", kStoriesF32},         // negative threads
      {"quantize", kStoriesF32, "o.gguf", "q9_9"},  // unknown type
  };
  for (const auto& args : cases) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    SCOPED_TRACE(line);
    expect_error(run_edgefit(args), 2, {});
  }
  expect_error(run_edgefit({}), 2, {"a command is required", "inspect"});
}

TEST(SafetyCli, GlobalOptionsWorkBeforeOrAfterTheCommand) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-t", "2", "inspect", kStoriesF32},
        {"inspect", kStoriesF32, "-t", "2"},
        {"inspect", "--threads", "2", kStoriesF32}}) {
    const auto r = run_edgefit(args);
    EXPECT_EQ(r.status, 0) << r.err;
  }
}

TEST(SafetyCli, QuantizeTakesTypesAndThreadsAsLlamaQuantizeDoes) {
  const std::string dir = test::scratch_dir("cli-llama-habits");
  const auto ref = run_edgefit({"quantize", "-q", kStoriesF32, dir + "/ref.gguf", "q4_k_m"});
  ASSERT_EQ(ref.status, 0) << ref.err;
  const std::string want = slurp(dir + "/ref.gguf");
  // Q4_K_M in capitals, the family alias Q4_K, llama_ftype 15, and a trailing thread count.
  const std::vector<std::vector<std::string>> spellings = {
      {"Q4_K_M"}, {"Q4_K"}, {"q4_k"}, {"15"}, {"q4_k_m", "2"}, {"Q4_K", "1"}};
  for (const auto& s : spellings) {
    std::vector<std::string> args = {"quantize", "-q", kStoriesF32, dir + "/x.gguf"};
    args.insert(args.end(), s.begin(), s.end());
    const auto r = run_edgefit(args);
    ASSERT_EQ(r.status, 0) << s[0] << ": " << r.err;
    EXPECT_EQ(slurp(dir + "/x.gguf"), want) << s[0];
  }
  // Q5_K and Q3_K are their _M mixes too.
  for (const auto& [alias, full] : {std::pair{"Q5_K", "q5_k_m"}, std::pair{"q3_k", "q3_k_m"}}) {
    ASSERT_EQ(run_edgefit({"quantize", "-q", kStoriesF32, dir + "/a.gguf", alias}).status, 0);
    ASSERT_EQ(run_edgefit({"quantize", "-q", kStoriesF32, dir + "/b.gguf", full}).status, 0);
    EXPECT_EQ(slurp(dir + "/a.gguf"), slurp(dir + "/b.gguf")) << alias;
  }
  expect_error(run_edgefit({"quantize", kStoriesF32, dir + "/x.gguf", "q4_k_m", "-2"}), 2, {});
}

TEST(SafetyCli, RequantizingNeedsAllowRequantize) {
  const std::string dir = test::scratch_dir("cli-requantize");
  const std::string q4 = shared_path("models/stories260K/gguf/quantized/stories260K-Q4_K_M.gguf");
  expect_error(run_edgefit({"quantize", "-q", q4, dir + "/q2.gguf", "q2_k"}), 1,
               {"requantizing from type", "is disabled", "--allow-requantize"});
  EXPECT_FALSE(fs::exists(dir + "/q2.gguf"));
  const auto r =
      run_edgefit({"quantize", "-q", "--allow-requantize", q4, dir + "/q2.gguf", "q2_k"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/q2.gguf"));
}

TEST(SafetyCli, GenerateEndsWithASpeedLine) {
  const auto r = run_edgefit(
      {"generate", kStoriesF32, "--prompt", "Once upon a time", "--temp", "0", "-n", "16"});
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t at = r.err.rfind("speed: prompt ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string line = r.err.substr(at);
  EXPECT_NE(line.find("tokens/s; generation 15 tokens in"), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
}

}  // namespace
}  // namespace edgefit
