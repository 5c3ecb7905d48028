// SentencePiece tokenizer.model: a serialized ModelProto, read by hand (no protobuf dependency).
// Fields used:
//   ModelProto      1: repeated SentencePiece pieces, 2: TrainerSpec, 3: NormalizerSpec
//   SentencePiece   1: piece (string), 2: score (float), 3: type (enum, same numbers as GGUF)
//   TrainerSpec     3: model_type (1 unigram, 2 BPE), 35: byte_fallback, 40-43: unk/bos/eos/pad id
//   NormalizerSpec  1: name, 2: precompiled_charsmap, 3: add_dummy_prefix (default true),
//                   4: remove_extra_whitespaces (default true), 5: escape_whitespaces (default
//                   true)
// SentencePiece's BPE encoder is the algorithm of llama.cpp's SPM tokenizer, so the result uses it.
#include <cstring>

#include "core/error.h"
#include "tokenizer/tokenizer_state.h"

namespace edgefit {

namespace {

class ProtoReader {
 public:
  ProtoReader(std::string_view buf, size_t base, const std::string& origin)
      : buf_(buf), base_(base), origin_(origin) {}
  bool done() const { return pos_ >= buf_.size(); }
  size_t offset() const { return base_ + pos_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= buf_.size()) fail("truncated varint");
      const uint8_t b = static_cast<uint8_t>(buf_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  // Next field: returns (field number, wire type).
  std::pair<uint32_t, uint32_t> tag() {
    const uint64_t t = varint();
    return {static_cast<uint32_t>(t >> 3), static_cast<uint32_t>(t & 7)};
  }
  std::string_view bytes(size_t* start = nullptr) {
    const uint64_t n = varint();
    if (n > buf_.size() - pos_) fail("length-delimited field runs past its container");
    if (start) *start = base_ + pos_;
    std::string_view v = buf_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  uint32_t fixed32() {
    if (buf_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, buf_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0:
        varint();
        break;
      case 1:
        if (buf_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        break;
      case 2:
        bytes();
        break;
      case 5:
        fixed32();
        break;
      default:
        fail("unsupported protobuf wire type " + std::to_string(wire));
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("tokenizer.model: " + what, origin_, offset());
  }

 private:
  std::string_view buf_;       // this message's bytes
  size_t base_;                // their offset in the file (for errors)
  const std::string& origin_;  // file name
  size_t pos_ = 0;             // read position in buf_
};

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_from_sentencepiece(std::string_view proto,
                                                             const std::string& origin) {
  auto s = std::make_unique<tok::State>();
  s->origin = origin;
  s->flavor = TokenizerFlavor::LlamaCpp;
  s->model = TokenizerModel::Spm;
  int64_t model_type = 1, unk = 0, bos = 1, eos = 2, pad = -1;
  bool add_dummy_prefix = true, remove_extra = true, escape_ws = true;
  std::string norm_name;
  size_t charsmap_size = 0;

  ProtoReader top(proto, 0, origin);
  while (!top.done()) {
    const auto [field, wire] = top.tag();
    if (field == 1 && wire == 2) {
      size_t at = 0;
      std::string_view msg = top.bytes(&at);
      ProtoReader r(msg, at, origin);
      tok::TokenData t;
      t.type = TokenType::Normal;
      while (!r.done()) {
        const auto [f, w] = r.tag();
        if (f == 1 && w == 2) {
          t.text = std::string(r.bytes());
        } else if (f == 2 && w == 5) {
          const uint32_t bits = r.fixed32();
          std::memcpy(&t.score, &bits, 4);
        } else if (f == 3 && w == 0) {
          const uint64_t ty = r.varint();
          if (ty < 1 || ty > 6)
            r.fail("piece " + std::to_string(s->tokens.size()) + ": bad type " +
                   std::to_string(ty));
          t.type = static_cast<TokenType>(ty);
        } else {
          r.skip(w);
        }
      }
      s->tokens.push_back(std::move(t));
    } else if (field == 2 && wire == 2) {
      size_t at = 0;
      std::string_view msg = top.bytes(&at);
      ProtoReader r(msg, at, origin);
      while (!r.done()) {
        const auto [f, w] = r.tag();
        const auto as_i32 = [](uint64_t v) {
          return static_cast<int64_t>(static_cast<int32_t>(v));
        };
        if (w != 0) {
          r.skip(w);
        } else if (f == 3) {
          model_type = static_cast<int64_t>(r.varint());
        } else if (f == 35) {
          s->byte_fallback = r.varint() != 0;
        } else if (f == 40) {
          unk = as_i32(r.varint());
        } else if (f == 41) {
          bos = as_i32(r.varint());
        } else if (f == 42) {
          eos = as_i32(r.varint());
        } else if (f == 43) {
          pad = as_i32(r.varint());
        } else {
          r.varint();
        }
      }
    } else if (field == 3 && wire == 2) {
      size_t at = 0;
      std::string_view msg = top.bytes(&at);
      ProtoReader r(msg, at, origin);
      while (!r.done()) {
        const auto [f, w] = r.tag();
        if (f == 1 && w == 2) {
          norm_name = std::string(r.bytes());
        } else if (f == 2 && w == 2) {
          charsmap_size = r.bytes().size();
        } else if (f == 3 && w == 0) {
          add_dummy_prefix = r.varint() != 0;
        } else if (f == 4 && w == 0) {
          remove_extra = r.varint() != 0;
        } else if (f == 5 && w == 0) {
          escape_ws = r.varint() != 0;
        } else {
          r.skip(w);
        }
      }
    } else {
      top.skip(wire);
    }
  }
  if (s->tokens.empty())
    throw Error("tokenizer.model: no pieces (field 1) - not a SentencePiece model", origin);
  if (model_type != 2)
    throw Error("tokenizer.model: trainer_spec.model_type " + std::to_string(model_type) +
                    (model_type == 1 ? " (unigram)" : "") + " is not supported (only BPE)",
                origin);
  if (charsmap_size != 0)
    throw Error("tokenizer.model: normalizer_spec \"" + norm_name +
                    "\" uses a precompiled charsmap, which is not supported",
                origin);
  if (!escape_ws)
    throw Error("tokenizer.model: normalizer_spec.escape_whitespaces=false is not supported",
                origin);
  const int64_t n = static_cast<int64_t>(s->tokens.size());
  const auto id = [&](int64_t v) { return v >= 0 && v < n ? static_cast<int32_t>(v) : -1; };
  s->unk = id(unk);
  s->bos = id(bos);
  s->eos = id(eos);
  s->pad = id(pad);
  s->add_bos = true;
  s->add_space_prefix = add_dummy_prefix;
  s->remove_extra_whitespaces = remove_extra;
  s->pre = "default";
  s->finalize();
  return std::make_unique<Tokenizer>(std::move(s));
}

}  // namespace edgefit
