// GPTQ through the layer-streaming pipeline on a TinyLlama-1.1B-shaped model with random F16
// weights (d 2048, FFN 5632, 32 heads / 4 KV heads, vocab 32000), generated here with GgufWriter
// — only a few of its 22 blocks, since every block costs the same: the per-block time and the
// peak RSS extrapolate directly. Calibration: 64 × 512 random tokens by default.
//
// Reports per block: the calibration forward (original + compressed block over all tokens), the
// statistics (Hessian accumulation), GPTQ itself; and the process's peak RSS. Targets: peak RSS
// < 2.5 GB; GPTQ's own time (statistics + method) <= the calibration forward's time.
//
//   gptq_bench [--layers 2] [--samples 64] [--seqlen 512] [--type q4_k] [--reference-matmul]
//              [--dir /tmp/edgefit-gptq-bench]
// The block forwards and the Hessians' products run on the runtime SIMD kernels;
// --reference-matmul passes the plain f32 reference to the pipeline instead.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "compress/layer_pipeline.h"
#include "compress/methods/gptq/gptq_block.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_writer.h"
#include "model/matmul.h"
#include "quant/presets.h"

using namespace edgefit;
namespace fs = std::filesystem;

namespace {

// Random F16 tensor bytes, written in slices so generating them needs no whole-tensor buffer.
void write_random_f16(AtomicFileWriter& w, uint64_t n, float sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint16_t> buf(1 << 16);
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = std::min<uint64_t>(buf.size(), n - done);
    for (uint64_t i = 0; i < k; ++i) {
      // Sum of uniforms: cheap, roughly normal.
      const double u =
          (static_cast<double>(rng() >> 11) + static_cast<double>(rng() >> 11)) * 0x1p-53 - 1.0;
      buf[i] = fp32_to_fp16(static_cast<float>(u * sd * 2.45));
    }
    w.write(buf.data(), k * 2);
    done += k;
  }
}

void write_ones_f32(AtomicFileWriter& w, uint64_t n) {
  std::vector<float> ones(n, 1.0f);
  w.write(ones.data(), n * 4);
}

std::string make_model(const std::string& path, int layers) {
  ArchConfig c;
  c.architecture = "llama";
  c.n_layers = layers;
  c.d_model = 2048;
  c.n_heads = 32;
  c.n_kv_heads = 4;
  c.head_dim = 64;
  c.d_ff = 5632;
  c.vocab_size = 32000;
  c.max_context = 2048;
  c.rms_eps = 1e-5f;
  c.rope_theta = 10000.f;
  c.rope_interleaved = true;
  GgufWriter w;
  for (auto& kv : arch_config_to_gguf(c)) w.set(kv.key, kv.value);
  w.set("general.name", GgufValue::make_string("tinyllama-shaped-random"));
  uint64_t seed = 1;
  auto mat = [&](const std::string& name, uint64_t rows, uint64_t cols) {
    const uint64_t s = seed++;
    w.add_tensor({name, DType::F16, {cols, rows}, [rows, cols, s](AtomicFileWriter& out) {
                    write_random_f16(out, rows * cols, 0.02f, s);
                  }});
  };
  auto vec = [&](const std::string& name, uint64_t n) {
    w.add_tensor({name, DType::F32, {n}, [n](AtomicFileWriter& out) { write_ones_f32(out, n); }});
  };
  mat("token_embd.weight", 32000, 2048);
  vec("output_norm.weight", 2048);
  mat("output.weight", 32000, 2048);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vec(p + "attn_norm.weight", 2048);
    mat(p + "attn_q.weight", 2048, 2048);
    mat(p + "attn_k.weight", 256, 2048);
    mat(p + "attn_v.weight", 256, 2048);
    mat(p + "attn_output.weight", 2048, 2048);
    vec(p + "ffn_norm.weight", 2048);
    mat(p + "ffn_gate.weight", 5632, 2048);
    mat(p + "ffn_up.weight", 5632, 2048);
    mat(p + "ffn_down.weight", 2048, 5632);
  }
  w.write(path);
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  int layers = 2, samples = 64, seqlen = 512;
  std::string type_name = "q4_k", dir = "/tmp/edgefit-gptq-bench";
  bool reference = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--layers")
      layers = std::atoi(next().c_str());
    else if (a == "--samples")
      samples = std::atoi(next().c_str());
    else if (a == "--seqlen")
      seqlen = std::atoi(next().c_str());
    else if (a == "--type")
      type_name = next();
    else if (a == "--dir")
      dir = next();
    else if (a == "--reference-matmul")
      reference = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const DType type = parse_quant_type(type_name);
  fs::create_directories(dir);
  const std::string model_path = dir + "/tinyllama-shaped-" + std::to_string(layers) + "l.gguf";
  if (!fs::exists(model_path)) {
    std::fprintf(stderr, "writing %s …\n", model_path.c_str());
    make_model(model_path, layers);
  }

  const Model m = load_model(model_path);
  CalibrationWindows cw;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> id(3, m.config.vocab_size - 1);
  for (int s = 0; s < samples; ++s) {
    std::vector<int32_t> w(static_cast<size_t>(seqlen));
    for (auto& t : w) t = id(rng);
    w[0] = 1;
    cw.windows.push_back(std::move(w));
    cw.file_of.push_back(0);
  }
  cw.per_file = {static_cast<size_t>(samples)};

  WorkDir wd(dir + "/work", "bench-" + std::to_string(std::random_device{}()));  // never resume
  GptqBlockMethod method(GptqOptions{});
  PipelineOptions po;
  po.release_pages = true;
  if (reference) po.matmul.fn = matmul_ref;
  auto target = [type](const std::string& name) {
    return name.ends_with(".weight") && name.find("_norm") == std::string::npos ? type : DType::F32;
  };
  const PipelineResult r = run_layer_pipeline(m, cw, method, wd, target, po);
  wd.remove();

  const double n = static_cast<double>(layers);
  const double own = r.stats_seconds + r.method_seconds;
  std::printf(
      "GPTQ bench: TinyLlama-1.1B shape, %d of 22 blocks, %d × %d calibration tokens, %s, "
      "%d threads, %s matmul\n",
      layers, samples, seqlen, std::string(dtype_name(type)).c_str(), ThreadPool::global().size(),
      reference ? "reference" : "runtime SIMD");
  for (size_t i = 0; i < r.block_seconds.size(); ++i)
    std::printf("  block %zu: %.1f s\n", i, r.block_seconds[i]);
  std::printf("per block: forward %.1f s (original + compressed), statistics %.1f s, GPTQ %.1f s\n",
              r.forward_seconds / n, r.stats_seconds / n, r.method_seconds / n);
  std::printf("GPTQ's own time (statistics + GPTQ) / calibration forward = %.2f (target <= 1)\n",
              own / r.forward_seconds);
  std::printf("extrapolated to 22 blocks: %.1f min\n", (r.forward_seconds + own) / n * 22 / 60);
  std::printf("peak RSS: %.2f GiB (target < 2.5 GB)\n",
              static_cast<double>(r.peak_rss_bytes) / (1024.0 * 1024.0 * 1024.0));
  return 0;
}
