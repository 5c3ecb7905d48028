// A Llama-2-7B-shaped GGUF whose weights are a sparse hole: planning reads only the header, so
// compress's plan and refusal paths can be tested on a 7B model in milliseconds.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace edgefit::test {

// Writes a GGUF header with every tensor of a Llama-2-7B (F16) and truncates the file to its full
// 13 GB: the weights are a sparse hole, since planning reads only the header.
inline void write_sparse_7b(const std::string& path) {
  std::string h = "GGUF";
  auto put = [&h](auto v) { h.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto str = [&](const std::string& s) {
    put(uint64_t{s.size()});
    h += s;
  };
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
  };
  std::vector<T> ts = {{"token_embd.weight", {4096, 32000}},
                       {"output_norm.weight", {4096}},
                       {"output.weight", {4096, 32000}}};
  for (int l = 0; l < 32; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"})
      ts.push_back({p + n + ".weight", {4096, 4096}});
    ts.push_back({p + "attn_norm.weight", {4096}});
    ts.push_back({p + "ffn_norm.weight", {4096}});
    ts.push_back({p + "ffn_gate.weight", {4096, 11008}});
    ts.push_back({p + "ffn_up.weight", {4096, 11008}});
    ts.push_back({p + "ffn_down.weight", {11008, 4096}});
  }
  const std::vector<std::pair<std::string, uint32_t>> kv = {{"llama.block_count", 32},
                                                            {"llama.embedding_length", 4096},
                                                            {"llama.feed_forward_length", 11008},
                                                            {"llama.attention.head_count", 32},
                                                            {"llama.attention.head_count_kv", 32},
                                                            {"llama.context_length", 4096}};
  put(uint32_t{3});
  put(uint64_t{ts.size()});
  put(uint64_t{kv.size() + 1});
  str("general.architecture");
  put(uint32_t{8});
  str("llama");
  for (const auto& [k, v] : kv) {
    str(k);
    put(uint32_t{4});
    put(v);
  }
  uint64_t offset = 0;
  for (const auto& t : ts) {
    str(t.name);
    put(uint32_t(t.ne.size()));
    for (uint64_t e : t.ne) put(e);
    const uint32_t type = t.ne.size() == 1 ? 0 : 1;  // norms F32, matrices F16
    put(type);
    put(offset);
    uint64_t n = 1;
    for (uint64_t e : t.ne) n *= e;
    offset += (n * (type == 0 ? 4 : 2) + 31) / 32 * 32;
  }
  h.resize((h.size() + 31) / 32 * 32, '\0');
  std::ofstream(path, std::ios::binary).write(h.data(), static_cast<std::streamsize>(h.size()));
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(h.size() + offset)), 0);
}

}  // namespace edgefit::test
