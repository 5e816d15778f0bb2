#!/usr/bin/python3
"""The engine benchmark's model in PyTorch, for a side-by-side with `npm run bench:engine` (bench/vs-pytorch.ts).

Same Llama decoder as src/learner/model (RMSNorm, rotary, SwiGLU, grouped-query attention, untied head, fp32),
same configs and measurements as bench/engine.ts: training tokens/s (forward + backward + Adam on random tokens),
prefill tokens/s and KV-cache greedy decode tokens/s with every step's tokens read back, as sampling does.

    /usr/bin/python3 bench/engine_torch.py --threads 1 --configs S,M --reps 3 --json

Prints one JSON line per config: {"backend": "pytorch-1t", "config": "S", "train_tok_s": ..., ...}.
"""
import argparse
import json
import math
import os
import sys
import time


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# Debian's torch does its matMuls in OpenBLAS, whose own thread pool ignores torch.set_num_threads: without these
# a "1-thread" run used both cores (and 2 torch threads × 2 OpenBLAS threads thrashed). Read at import.
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads_from_argv()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CONFIGS = {
    # layers, hidden, heads, kv heads, intermediate, vocab; train batch × seq; decode rows, prompt, new tokens
    "S": dict(layers=4, hidden=256, heads=4, kv=4, inter=704, vocab=64, train=(16, 128), decode=(16, 64, 64)),
    "M": dict(layers=8, hidden=512, heads=8, kv=2, inter=1408, vocab=512, train=(8, 128), decode=(16, 128, 64)),
}


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden"], c["heads"], c["kv"]
        self.hd = h // self.heads
        self.q = torch.nn.Linear(h, self.heads * self.hd, bias=False)
        self.k = torch.nn.Linear(h, self.kv * self.hd, bias=False)
        self.v = torch.nn.Linear(h, self.kv * self.hd, bias=False)
        self.o = torch.nn.Linear(self.heads * self.hd, h, bias=False)
        self.gate = torch.nn.Linear(h, c["inter"], bias=False)
        self.up = torch.nn.Linear(h, c["inter"], bias=False)
        self.down = torch.nn.Linear(c["inter"], h, bias=False)
        self.n1, self.n2 = RMSNorm(h), RMSNorm(h)

    def forward(self, x, cos, sin, cache=None):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        g = self.heads // self.kv
        Tk = k.shape[2]
        # GQA as in HF: repeat K/V over the query heads that share them.
        k = k[:, :, None].expand(B, self.kv, g, Tk, self.hd).reshape(B, self.heads, Tk, self.hd)
        v = v[:, :, None].expand(B, self.kv, g, Tk, self.hd).reshape(B, self.heads, Tk, self.hd)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        past = Tk - T
        mask = torch.ones(T, Tk, dtype=torch.bool).triu(past + 1)
        scores = scores.masked_fill(mask, -1e9)
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o(ctx)
        h2 = self.n2(x)
        return x + self.down(F.silu(self.gate(h2)) * self.up(h2))


class CausalLM(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = torch.nn.Embedding(c["vocab"], c["hidden"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"])
        self.head = torch.nn.Linear(c["hidden"], c["vocab"], bias=False)
        hd = c["hidden"] // c["heads"]
        self.inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        for p in self.parameters():
            torch.nn.init.normal_(p, std=0.02) if p.dim() > 1 else None

    def forward(self, ids, caches=None, past=0, last_only=False):
        B, T = ids.shape
        pos = torch.arange(past, past + T).float()
        freqs = pos[:, None] * self.inv_freq[None]
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i])
        x = self.norm(x)
        if last_only:
            x = x[:, -1:]
        return self.head(x)


def timed(fn, reps, warmup=1):
    """Medians of wall and whole-process CPU seconds (CPU time is robust to other load on a shared machine)."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]


def bench(name, reps, gen):
    c = CONFIGS[name]
    model = CausalLM(c)
    B, T = c["train"]
    ids = torch.randint(0, c["vocab"], (B, T), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        loss.item()

    train_wall, train_cpu = timed(train_step, reps)

    rows, prompt, new = c["decode"]
    pre, dec, pre_cpu, dec_cpu = [], [], [], []
    with torch.no_grad():
        for r in range(reps + 1):
            caches = [{} for _ in model.layers]
            p = torch.randint(0, c["vocab"], (rows, prompt), generator=gen)
            t0, c0 = time.perf_counter(), time.process_time()
            nxt = model(p, caches, 0, last_only=True)[:, -1].argmax(-1)
            nxt.tolist()
            t1, c1 = time.perf_counter(), time.process_time()
            for t in range(new):
                nxt = model(nxt[:, None], caches, prompt + t, last_only=True)[:, -1].argmax(-1)
                nxt.tolist()  # sampling reads every step's tokens back
            t2, c2 = time.perf_counter(), time.process_time()
            if r > 0:
                pre.append(t1 - t0)
                dec.append(t2 - t1)
                pre_cpu.append(c1 - c0)
                dec_cpu.append(c2 - c1)
    return {
        "train_tok_s": B * T / train_wall,
        "prefill_tok_s": rows * prompt / (sum(pre) / reps),
        "decode_tok_s": rows * new / (sum(dec) / reps),
        "train_tok_cpu_s": B * T / train_cpu,
        "prefill_tok_cpu_s": rows * prompt / (sum(pre_cpu) / reps),
        "decode_tok_cpu_s": rows * new / (sum(dec_cpu) / reps),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", default="S,M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    for name in a.configs.split(","):
        r = bench(name, a.reps, gen)
        row = {"backend": f"pytorch-{a.threads}t", "config": name, **{k: round(v, 1) for k, v in r.items()}}
        row["load_avg"] = round(os.getloadavg()[0], 2)
        row["torch"] = torch.__version__
        print(json.dumps(row) if a.json else row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
