#!/usr/bin/env python3
"""PyTorch's CPU training speed on the shapes edgefit trains, for the side-by-side in
docs/training.md (issue 20: "side by side with PyTorch's CPU training on the same shapes").

A Llama-shaped model built from the same hyperparameters (embedding, RMSNorm, RoPE, GQA causal
attention, SwiGLU, untied head), frozen fp32 base with LoRA rank r on the chosen projections
(q, k, v, o, gate, up, down; A ~ kaiming-uniform, B = 0, scale alpha/r as PEFT does), trained
with AdamW on batch x ctx random token windows: forward + backward + optimizer step, exactly
the work of one `edgefit recover` step without the teacher. Random weights: only the shapes
matter for speed. Reports the median tokens/s over the timed steps, tokens per CPU-second (what
still compares on a loaded host) and the peak RSS.

Run with Debian's PyTorch (apt-get install python3-torch; 1.13), e.g.
  /usr/bin/python3 bench/train_pytorch.py --like polyglot --threads 2 --batch 1 --steps 10
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn.functional as F

# The shapes of the models the edgefit benchmark trains (polyglot's README; tinyllama-1.1b as
# `edgefit synth --like tinyllama-1.1b` writes it).
SHAPES = {
    "polyglot": dict(d=256, layers=6, heads=8, kv_heads=4, ff=768, vocab=8192),
    "tinyllama-1.1b": dict(d=2048, layers=22, heads=32, kv_heads=4, ff=5632, vocab=32000),
}


class LoraLinear(torch.nn.Module):
    """A frozen weight W {out, in} plus the trainable low-rank update (alpha/r)·B·A."""

    def __init__(self, n_in, n_out, rank, alpha, lora):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in),
                                         requires_grad=False)
        self.lora = lora
        if lora:
            bound = 1.0 / math.sqrt(n_in)
            self.a = torch.nn.Parameter(torch.empty(rank, n_in).uniform_(-bound, bound))
            self.b = torch.nn.Parameter(torch.zeros(n_out, rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.lora:
            y = y + F.linear(F.linear(x, self.a), self.b) * self.scale
        return y


def rms_norm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, cos, sin):
    # HF rotate-half layout: the speed is the same as llama.cpp's interleaved one.
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(torch.nn.Module):
    def __init__(self, s, rank, alpha, targets):
        super().__init__()
        d, hd = s["d"], s["d"] // s["heads"]
        self.heads, self.kv_heads, self.hd = s["heads"], s["kv_heads"], hd

        def lin(name, n_in, n_out):
            return LoraLinear(n_in, n_out, rank, alpha, name in targets)

        self.q = lin("q", d, s["heads"] * hd)
        self.k = lin("k", d, s["kv_heads"] * hd)
        self.v = lin("v", d, s["kv_heads"] * hd)
        self.o = lin("o", s["heads"] * hd, d)
        self.gate = lin("gate", d, s["ff"])
        self.up = lin("up", d, s["ff"])
        self.down = lin("down", s["ff"], d)
        self.attn_norm = torch.nn.Parameter(torch.ones(d), requires_grad=False)
        self.ffn_norm = torch.nn.Parameter(torch.ones(d), requires_grad=False)

    def forward(self, x, cos, sin, mask):
        b, n, _ = x.shape
        h = rms_norm(x, self.attn_norm)
        q = self.q(h).view(b, n, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(b, n, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v(h).view(b, n, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        group = self.heads // self.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)
        x = x + self.o(y)
        h = rms_norm(x, self.ffn_norm)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self, s, rank, alpha, targets):
        super().__init__()
        self.embd = torch.nn.Parameter(torch.randn(s["vocab"], s["d"]) * 0.02,
                                       requires_grad=False)
        self.blocks = torch.nn.ModuleList(
            Block(s, rank, alpha, targets) for _ in range(s["layers"]))
        self.norm = torch.nn.Parameter(torch.ones(s["d"]), requires_grad=False)
        self.head = torch.nn.Parameter(torch.randn(s["vocab"], s["d"]) * 0.02,
                                       requires_grad=False)
        self.hd = s["d"] // s["heads"]

    def forward(self, ids):
        n = ids.shape[1]
        pos = torch.arange(n, dtype=torch.float32)
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        ang = torch.outer(pos, inv)
        cos = torch.cat((ang.cos(), ang.cos()), -1)
        sin = torch.cat((ang.sin(), ang.sin()), -1)
        mask = torch.full((n, n), float("-inf")).triu(1)
        x = F.embedding(ids, self.embd)
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        return F.linear(rms_norm(x, self.norm), self.head)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--like", choices=SHAPES, default="polyglot")
    p.add_argument("--layers", type=int, default=0, help="keep only N blocks (0: all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--targets", default="q,k,v,o,gate,up,down")
    p.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    a = p.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    s = dict(SHAPES[a.like])
    if a.layers:
        s["layers"] = a.layers
    model = Model(s, a.rank, a.alpha, set(a.targets.split(",")))
    trainable = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, s["vocab"], (a.batch, a.ctx))

    times, cpu_times = [], []
    for i in range(a.steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, s["vocab"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
    tok_s = a.batch * a.ctx / statistics.median(times)
    # Tokens per CPU-second of the whole process: on a shared (loaded) host this is the number
    # that still compares, since waiting for a core costs wall time but no CPU time.
    tok_cpu_s = a.batch * a.ctx / statistics.median(cpu_times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"pytorch {torch.__version__} {a.like} layers={s['layers']} threads={a.threads} "
          f"batch={a.batch}x{a.ctx} lora r{a.rank} trainable={sum(q.numel() for q in trainable)} "
          f"median {tok_s:.1f} tok/s (min {a.batch * a.ctx / max(times):.1f}, max "
          f"{a.batch * a.ctx / min(times):.1f}), {tok_cpu_s:.1f} tok per CPU-s, peak_rss {rss:.0f} MiB")


if __name__ == "__main__":
    main()
