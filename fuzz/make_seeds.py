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
