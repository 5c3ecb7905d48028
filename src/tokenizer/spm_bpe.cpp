// SentencePiece-style BPE driven by token scores, as llama.cpp's llm_tokenizer_spm and
// SentencePiece's bpe_model do it: start from UTF-8 characters, repeatedly merge the adjacent pair
// whose concatenation is the highest-scoring token (leftmost on ties), then emit each symbol,
// falling back to <0xNN> byte tokens for symbols that are not tokens.
//
// llama.cpp also records each merge to re-split a final symbol that is not a token, but a merge
// is only made when the merged text is a token, so that path can never trigger; it is left out.
#include <queue>
#include <unordered_map>

#include "tokenizer/tokenizer_state.h"
#include "tokenizer/unicode.h"

namespace edgefit::tok {

namespace {

struct Symbol {
  int prev;          // index of the previous live symbol, -1 at the start
  int next;          // index of the next live symbol, -1 at the end
  const char* text;  // start of its bytes in the escaped input
  size_t n;          // byte length; 0 once merged into its left neighbour
};

struct Bigram {
  int left;     // index of the left symbol
  int right;    // index of the right symbol
  float score;  // score of the merged token
  size_t size;  // byte length of the merged text (detects stale entries)
};

struct BigramOrder {
  // Highest score first; on ties the leftmost pair.
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

class SpmSession {
 public:
  explicit SpmSession(const State& s) : s_(s) {}

  void tokenize(std::string_view text, std::vector<int32_t>& out) {
    size_t offs = 0;
    int index = 0;
    while (offs < text.size()) {
      const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[offs])), text.size() - offs);
      Symbol sym{index - 1, offs + len == text.size() ? -1 : index + 1, text.data() + offs, len};
      offs += len;
      ++index;
      symbols_.push_back(sym);
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);
    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add_bigram(l.prev, b.left);
      try_add_bigram(b.left, l.next);
    }
    for (int i = symbols_.empty() ? -1 : 0; i != -1; i = symbols_[i].next)
      resegment(symbols_[i], out);
  }

 private:
  void try_add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const std::string_view text(symbols_[left].text, symbols_[left].n + symbols_[right].n);
    const int32_t id = s_.find(text);
    if (id < 0) return;
    queue_.push({left, right, s_.tokens[id].score, text.size()});
  }

  void resegment(const Symbol& sym, std::vector<int32_t>& out) {
    const std::string_view text(sym.text, sym.n);
    const int32_t id = s_.find(text);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    for (char c : text) {
      const int32_t b = s_.byte_token[static_cast<uint8_t>(c)];
      if (b >= 0) {
        out.push_back(b);
      } else if (s_.unk >= 0) {
        out.push_back(s_.unk);
      }
    }
  }

  const State& s_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void spm_tokenize(const State& s, std::string_view text, std::vector<int32_t>& out) {
  SpmSession(s).tokenize(text, out);
}

std::string spm_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ') {
      out += "\xE2\x96\x81";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace edgefit::tok
