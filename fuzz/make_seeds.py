#!/usr/bin/env python3
"""Writes small seed inputs for the fuzz targets into OUT/<target>/ (made here, not copied)."""
import json, os, struct, sys

out = sys.argv[1]

def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kvs, tensors, align=32):
    h = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, typ, payload in kvs:
        h += gstr(key) + struct.pack("<I", typ) + payload
    data = b""
    for name, ne, typ, raw in tensors:
        h += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", e) for e in ne)
        h += struct.pack("<IQ", typ, len(data))
        data += raw + b"\0" * ((-len(raw)) % align)
    if tensors:
        h += b"\0" * ((-len(h)) % align)
    return h + data

kv_arch = ("general.architecture", 8, gstr("llama"))
kv_tokens = ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + gstr("<s>") + gstr("a") + gstr("b"))
kv_nested = ("x.nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 5, 1) + struct.pack("<i", -1)
             + struct.pack("<IQ", 6, 0))
kv_scalars = [("u8", 0, b"\x07"), ("f64", 12, struct.pack("<d", 0.5)), ("b", 7, b"\x01"),
              ("general.alignment", 4, struct.pack("<I", 32))]
put("gguf", "empty", gguf([], []))
put("gguf", "vocab", gguf([kv_arch, kv_tokens, kv_nested] + kv_scalars, []))
put("gguf", "f32", gguf([kv_arch], [("w", [8, 2], 0, struct.pack("<16f", *range(16)))]))
put("gguf", "q4_0", gguf([kv_arch], [("q", [32], 2, bytes(18)), ("h", [4], 1, bytes(8))]))

def st(tensors, meta=None):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    j = json.dumps(header).encode()
    j += b" " * ((-len(j)) % 8)
    return struct.pack("<Q", len(j)) + j + data

put("safetensors", "f32", st([("a", "F32", [2, 2], bytes(16)), ("b", "BF16", [3], bytes(6))], {"format": "pt"}))
put("safetensors", "empty", st([]))

cfg = {"model_type": "qwen3", "num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
       "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 100,
       "rope_scaling": {"rope_type": "llama3", "factor": 8.0}, "eos_token_id": [1, 2]}
put("hf_config", "qwen3.json", json.dumps(cfg).encode())
put("hf_config", "llama.json", json.dumps(dict(cfg, model_type="llama", tie_word_embeddings=True)).encode())

recipe = {"schema_version": 1, "name": "mixed", "base": "q4_k_m",
          "method": {"name": "gptq", "params": {"damp": 0.01}},
          "rules": [{"match": "ffn_down", "layers": [0, 3], "format": "q6_k"},
                    {"match": "attn_q", "sparsity": {"kind": "n:m", "n": 2, "m": 4}},
                    {"match": "ffn_up", "sparsity": {"kind": "structured", "keep_ffn": [0, 2]}}],
          "recovery": [{"kind": "lora", "params": {"rank": 8}}], "export": [{"format": "gguf"}]}
put("recipe", "mixed.json", json.dumps(recipe).encode())
put("recipe", "preset.json", b'{"schema_version": 1, "base": "q8_0"}')

dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 1, 4, 4
hd = dim // heads
n = vocab * dim + layers * (dim + dim * dim + 2 * dim * kv * hd + dim * dim + dim + 3 * dim * hidden) + dim + seq * hd
put("llama2c", "tiny", struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq) + bytes(4 * n))
put("llama2c", "unshared", struct.pack("<7i", dim, hidden, layers, heads, kv, -vocab, seq) + bytes(4 * (n + vocab * dim)))

# tokenizer.json: a tiny byte-level BPE and a tiny SentencePiece-style BPE with byte fallback,
# with the normalizers, pre-tokenizers and decoders real files use.
bl_vocab = {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġa": 4, "<s>": 5}
put("tokenizer_json", "byte_level.json", json.dumps({
    "model": {"type": "BPE", "vocab": bl_vocab, "merges": ["a b", "Ġ a"]},
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "NFC"}, {"type": "Replace", "pattern": {"String": " "}, "content": " "}]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
    "decoder": {"type": "ByteLevel"},
    "added_tokens": [{"id": 5, "content": "<s>", "special": True}]}).encode())
spm_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "▁": 4, "a": 5, "▁a": 6}
put("tokenizer_json", "spm.json", json.dumps({
    "model": {"type": "BPE", "vocab": spm_vocab, "merges": ["▁ a"], "byte_fallback": True,
              "unk_token": "<unk>", "fuse_unk": True},
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": None,
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"Regex": "▁"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "added_tokens": [{"id": 1, "content": "<s>", "special": True}]}).encode())

# tokenizer.model: ModelProto {1: pieces, 2: TrainerSpec, 3: NormalizerSpec} written by hand.
def varint(v):
    b = b""
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            b += bytes([byte | 0x80])
        else:
            return b + bytes([byte])

def field(num, wire, payload):
    tag = varint((num << 3) | wire)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload

def piece(text, score, typ):
    return field(1, 2, field(1, 2, text.encode()) + field(2, 5, struct.pack("<f", score)) + field(3, 0, varint(typ)))

pieces = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("<0x41>", 0, 6), ("▁", -1, 1), ("a", -2, 1), ("▁a", -3, 1)]
trainer = field(2, 2, field(3, 0, varint(2)) + field(35, 0, varint(1)) + field(40, 0, varint(0)) + field(41, 0, varint(1)))
normalizer = field(3, 2, field(1, 2, b"identity") + field(3, 0, varint(1)))
put("sentencepiece", "bpe.model", b"".join(piece(*p) for p in pieces) + trainer + normalizer)

# device profiles: the shape of devices/*.json, one measured.
dev = {"id": "board", "name": "A board", "ram_bytes": 4294967296, "ram_note": "spec sheet",
       "storage_bytes": 17179869184, "bandwidth_gbs": 8.5, "cores": 4, "accelerator": "none",
       "isa": {"neon": True, "dotprod": True, "i8mm": False, "avx2": False, "avx512_vnni": False}}
put("device_profile", "board.json", json.dumps(dev).encode())
put("device_profile", "host.json", json.dumps(dict(dev, ram_bytes=0, storage_bytes=0, bandwidth_gbs=0,
                                                   cores=0, measured=True)).encode())

# sparse blocks: type byte, then whole blocks (a valid 2:4 block: every index nibble 0b0100 =
# positions 0 and 1, zero scales; a mask block keeping 8 weights).
put("sparse_blocks", "q4_2of4.bin", bytes([0]) + bytes([0x44] * 32) + bytes(72))
put("sparse_blocks", "q4_mask62.bin", bytes([2]) + bytes([0xFF]) + bytes(31) + bytes(54))
# q4_qmask62: 8 kept slots in mask word 0 and 8 in word 3 (slot order, src/quant/q_sparse.h;
# levels spanning both nibble halves of 2 blocks), scales 1.0 (fp16 0x3C00)
qmask = bytes([0xFF]) + bytes(23) + bytes([0xFF]) + bytes(7)
put("sparse_blocks", "q4_qmask62.bin",
    bytes([3]) + (qmask + struct.pack("<4H", *[0x3C00] * 4) + bytes(range(0, 240, 5)))*2)
