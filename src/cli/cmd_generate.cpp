// `edgefit generate MODEL --prompt "..." [--n 128] [--temp 0.8] [--top-k 40] [--top-p 0.95]
// [--seed 1] [--tokenizer PATH] [--lora ADAPTER] [--lora-scaled ADAPTER SCALE]`: continue a prompt,
// streaming text to stdout as tokens come.
// --temp 0 is greedy decoding. Stops after --n tokens, at an end-of-generation token, or when the
// model's context is full. Ends with a speed line on stderr, like llama.cpp's timings: prompt
// tokens/s (the prompt's one batched forward pass) and generation tokens/s (one pass per token).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "cli/commands.h"
#include "cli/lora_args.h"
#include "core/error.h"
#include "eval/model_tokenizer.h"
#include "formats/model.h"
#include "model/sampler.h"
#include "model/transformer.h"

namespace edgefit::cli {
namespace {

struct GenerateOptions {
  std::string model;      // model path
  std::string prompt;     // text to continue ("" = start from BOS)
  std::string tokenizer;  // tokenizer override
  int n = 128;            // tokens to generate
  float temp = 0.8f;      // sampling temperature (0 = greedy)
  int top_k = 40;         // top-k filter
  float top_p = 0.95f;    // nucleus filter
  uint64_t seed = 1;      // sampling seed
  LoraArgs lora;          // adapters applied on the model
};

// Length of the longest prefix of s that does not end inside a UTF-8 sequence, so a character
// split over byte tokens is printed once complete.
size_t complete_utf8_prefix(const std::string& s) {
  size_t i = s.size();
  int back = 0;
  while (i > 0 && back < 4) {
    const unsigned char c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII): is its sequence complete?
      const int need = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 1;
      return back + 1 >= need ? s.size() : i - 1;
    }
    --i;
    ++back;
  }
  return s.size();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "prompt 12 tokens in 35.1 ms, 341.9 tokens/s" (no rate for zero tokens or no measurable time).
std::string speed_part(const char* what, int64_t tokens, double seconds) {
  char buf[160];
  if (tokens > 0 && seconds > 0)
    std::snprintf(buf, sizeof buf, "%s %lld tokens in %.1f ms, %.1f tokens/s", what,
                  static_cast<long long>(tokens), seconds * 1e3,
                  static_cast<double>(tokens) / seconds);
  else
    std::snprintf(buf, sizeof buf, "%s %lld tokens", what, static_cast<long long>(tokens));
  return buf;
}

void run_generate(const GenerateOptions& o) {
  if (o.n < 0) throw UsageError("--n must be >= 0");
  Model model = load_model(o.model);
  Transformer tf(model);
  tf.repack_weights();  // inference only: faster kernels where they pay, same results
  const std::vector<LoraAdapter> adapters = attach_lora_args(o.lora, model, tf);
  const auto tok = load_model_tokenizer(o.model, o.tokenizer, tf.vocab_size());
  std::vector<int32_t> ids = tok->encode(o.prompt, /*add_special=*/true, /*parse_special=*/true);
  if (ids.empty()) {
    if (tok->bos_id() < 0) throw Error("the prompt is empty and the tokenizer has no BOS token");
    ids.push_back(tok->bos_id());
  }
  const int64_t max_ctx = model.config.max_context > 0 ? model.config.max_context : 2048;
  if (static_cast<int64_t>(ids.size()) >= max_ctx)
    throw Error("prompt has " + std::to_string(ids.size()) + " tokens; the model's context is " +
                std::to_string(max_ctx));
  const int64_t total = std::min<int64_t>(max_ctx, static_cast<int64_t>(ids.size()) + o.n);
  KVCache cache = tf.make_cache(total, KVType::F16, KVType::F16);  // llama.cpp's default
  Sampler sampler({o.temp, o.top_k, o.top_p, o.seed});

  // Text is re-decoded from all ids and only the new suffix printed: decoders treat the first
  // piece and byte tokens specially, so per-token pieces would not always concatenate correctly.
  // A leading BOS is left out of what is decoded so that SentencePiece-style decoders drop the
  // first word's space prefix, as llama2.c and llama.cpp print it.
  const size_t skip = !ids.empty() && ids[0] == tok->bos_id() ? 1 : 0;
  auto render = [&] { return tok->decode(std::span(ids).subspan(skip), /*skip_special=*/true); };
  std::string printed = render();
  std::fwrite(printed.data(), 1, printed.size(), stdout);
  std::fflush(stdout);
  const auto t_prompt = std::chrono::steady_clock::now();
  std::vector<float> logits = tf.forward(ids, cache, static_cast<int64_t>(ids.size()) - 1);
  const double prompt_seconds = seconds_since(t_prompt);
  const int64_t prompt_tokens = static_cast<int64_t>(ids.size());
  int64_t decoded = 0;  // tokens run through the model one at a time
  const auto t_gen = std::chrono::steady_clock::now();
  for (int i = 0; i < o.n && cache.size() < total; ++i) {
    const int32_t next = sampler.sample(logits);
    if (tok->is_eog(next)) break;
    ids.push_back(next);
    const std::string text = render();
    const size_t upto = complete_utf8_prefix(text);
    if (upto > printed.size() && text.compare(0, printed.size(), printed) == 0) {
      std::fwrite(text.data() + printed.size(), 1, upto - printed.size(), stdout);
      std::fflush(stdout);
      printed = text.substr(0, upto);
    }
    if (cache.size() >= total || i + 1 == o.n) break;  // the last token needs no forward
    const int32_t one[1] = {next};
    tf.forward(one, cache, logits.data(), 0);
    ++decoded;
  }
  const double gen_seconds = seconds_since(t_gen);
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr, "speed: %s; %s\n",
               speed_part("prompt", prompt_tokens, prompt_seconds).c_str(),
               speed_part("generation", decoded, gen_seconds).c_str());
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "continue a prompt, streaming tokens to stdout");
  cmd->add_option("model", opts->model, "GGUF file, Hugging Face folder or llama2.c .bin")
      ->required();
  cmd->add_option("-p,--prompt", opts->prompt, "text to continue (default: empty, BOS only)");
  cmd->add_option("-n,--n", opts->n, "tokens to generate (default 128)");
  cmd->add_option("--temp", opts->temp, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", opts->top_k, "keep the k most likely tokens (default 40; 0 = all)");
  cmd->add_option("--top-p", opts->top_p, "nucleus probability mass (default 0.95)");
  cmd->add_option("--seed", opts->seed, "random seed (default 1)");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer file/folder (default: the model's own)");
  add_lora_options(cmd, opts->lora);
  cmd->callback([opts] { run_generate(*opts); });
}

}  // namespace edgefit::cli
