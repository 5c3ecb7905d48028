// Rank-driven BPE over one pre-tokenized word, as llama.cpp's llm_tokenizer_bpe_session and HF's
// BPE model (Word::merge_all) do it: start from the word's UTF-8 characters, repeatedly apply the
// lowest-ranked merge among adjacent pairs (leftmost on ties) until none applies.
#include <queue>

#include "tokenizer/tokenizer_state.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

namespace {

struct Sym {
  int prev;    // previous live symbol, -1 at the start
  int next;    // next live symbol, -1 at the end
  int32_t id;  // token id, -1 for a character outside the vocabulary
  uint32_t b;  // byte offset in the word
  uint32_t n;  // byte length; 0 once merged into the left neighbour
};

struct Merge {
  int32_t rank;  // merge rank (lower applies first)
  int pos;       // index of the left symbol
  int32_t left;  // ids the pair had when queued (detects stale entries)
  int32_t right;
  int32_t result;  // id of the merged token
};

struct MergeOrder {
  bool operator()(const Merge& a, const Merge& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.pos > b.pos);
  }
};

inline uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

}  // namespace

void bpe_tokenize_word(const State& s, std::string_view word, bool hf, std::vector<int32_t>& out) {
  if (word.empty()) return;
  if (s.ignore_merges) {
    const int32_t id = s.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<Sym> syms;
  syms.clear();
  for (size_t off = 0; off < word.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(word[off])), word.size() - off);
    const int idx = static_cast<int>(syms.size());
    syms.push_back({idx - 1, off + len == word.size() ? -1 : idx + 1, s.find(word.substr(off, len)),
                    static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
    off += len;
  }
  std::priority_queue<Merge, std::vector<Merge>, MergeOrder> queue;
  auto add_pair = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const int32_t a = syms[l].id, b = syms[r].id;
    if (a < 0 || b < 0) return;
    auto it = s.merge_table.find(pair_key(a, b));
    if (it == s.merge_table.end()) return;
    queue.push({it->second.first, l, a, b, it->second.second});
  };
  for (int i = 1; i < static_cast<int>(syms.size()); ++i) add_pair(i - 1, i);
  while (!queue.empty()) {
    const Merge m = queue.top();
    queue.pop();
    Sym& l = syms[m.pos];
    if (l.n == 0 || l.next < 0 || l.id != m.left) continue;
    Sym& r = syms[l.next];
    if (r.id != m.right) continue;
    l.n += r.n;
    l.id = m.result;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = m.pos;
    add_pair(l.prev, m.pos);
    add_pair(m.pos, l.next);
  }
  bool prev_unk = false;
  for (int i = 0; i != -1; i = syms[i].next) {
    const Sym& sym = syms[i];
    if (sym.id >= 0) {
      out.push_back(sym.id);
      prev_unk = false;
      continue;
    }
    const std::string_view text = word.substr(sym.b, sym.n);
    if (!hf) {
      // llama.cpp: look each byte up as a one-byte token text; drop it when absent.
      for (char c : text) {
        const int32_t id = s.find(std::string_view(&c, 1));
        if (id >= 0) out.push_back(id);
      }
      continue;
    }
    if (s.byte_fallback) {
      bool all = true;
      for (char c : text) all = all && s.byte_token[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        for (char c : text) out.push_back(s.byte_token[static_cast<uint8_t>(c)]);
        prev_unk = false;
        continue;
      }
    }
    if (s.unk >= 0) {
      if (!(s.fuse_unk && prev_unk)) out.push_back(s.unk);
      prev_unk = true;
    }
  }
}

}  // namespace edgefit::tok
