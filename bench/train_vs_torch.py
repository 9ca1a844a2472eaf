#!/usr/bin/python3
"""PyTorch peer of build/bench/train_step: the same model, data shape and steps.

The model is built from a materia architecture string (docs/models.md), so both sides train
exactly the same layers.  Prints one JSON line: samples_per_s, step_ms, cpu_ms_per_step,
latency_ms (single utterance, eval mode, median), peak_rss_mb.

usage: train_vs_torch.py --arch ARCH --input 64x1250 [--classes 10] [--batch 32] [--steps 20]
                         [--warmup 3] [--threads 2] [--latency-reps 50]
Needs Debian's python3-torch (run with /usr/bin/python3).
"""
import argparse
import json
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Slice(nn.Module):
    def __init__(self, c0, c1, t0, t1, step):
        super().__init__()
        self.c0, self.c1, self.t0, self.t1, self.step = c0, c1, t0, t1, step

    def forward(self, x):
        return x[:, self.c0:self.c1, self.t0:self.t1:self.step]


class Gap(nn.Module):
    def forward(self, x):
        return F.avg_pool1d(x, x.shape[-1])


def build(arch, c, t, classes):
    layers = []
    toks = [s.strip() for s in arch.split(",") if s.strip()]
    for tok in toks:
        if tok == "bn":
            layers.append(nn.BatchNorm1d(c))
        elif m := re.fullmatch(r"conv(\d+)k(\d+)((?:[spd]\d+)*)", tok):
            n, k = int(m.group(1)), int(m.group(2))
            opts = dict(re.findall(r"([spd])(\d+)", m.group(3)))
            s, p, d = int(opts.get("s", 1)), int(opts.get("p", 0)), int(opts.get("d", 1))
            layers.append(nn.Conv1d(c, n, k, stride=s, padding=p, dilation=d))
            c, t = n, (t + 2 * p - d * (k - 1) - 1) // s + 1
        elif m := re.fullmatch(r"fc(\d*)", tok):
            n = int(m.group(1)) if m.group(1) else classes
            layers += [nn.Flatten(), nn.Linear(c * t, n)]
            c, t = n, 1
            layers.append(nn.Unflatten(1, (n, 1)))
        elif m := re.fullmatch(r"(max|avg)pool(\d+)(?:s(\d+))?", tok):
            k = int(m.group(2))
            s = int(m.group(3)) if m.group(3) else k
            layers.append((nn.MaxPool1d if m.group(1) == "max" else nn.AvgPool1d)(k, s))
            t = (t - k) // s + 1
        elif tok == "gap":
            layers.append(Gap())
            t = 1
        elif tok in ("tanh", "relu", "swish", "silu", "logsigmoid"):
            layers.append({"tanh": nn.Tanh(), "relu": nn.ReLU(), "swish": nn.SiLU(), "silu": nn.SiLU(),
                           "logsigmoid": nn.LogSigmoid()}[tok])
        elif m := re.fullmatch(r"dropout([0-9.]+)", tok):
            layers.append(nn.Dropout(float(m.group(1))))
        elif m := re.fullmatch(r"decimate(\d+)", tok):
            n = int(m.group(1))
            layers.append(Slice(0, c, 0, t, n))
            t = (t + n - 1) // n
        elif m := re.fullmatch(r"time(\d+):(\d*)(?::(\d+))?", tok):
            a, b = int(m.group(1)), min(int(m.group(2)) if m.group(2) else t, t)
            s = int(m.group(3)) if m.group(3) else 1
            layers.append(Slice(0, c, a, b, s))
            t = (b - a + s - 1) // s
        elif m := re.fullmatch(r"chans(\d+):(\d+)", tok):
            a, b = int(m.group(1)), min(int(m.group(2)), c)
            layers.append(Slice(a, b, 0, t, 1))
            c = b - a
        else:
            sys.exit(f"train_vs_torch.py: unsupported token {tok!r}")
    return nn.Sequential(*layers, nn.Flatten())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--input", default="64x1250")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency-reps", type=int, default=50)
    a = ap.parse_args()
    c, t = (int(v) for v in a.input.lower().split("x"))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.arch, c, t, a.classes)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(a.batch, c, t)
    y = torch.randint(0, a.classes, (a.batch,))
    model.train()
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    lat = []
    with torch.no_grad():
        x1 = x[:1].contiguous()
        for i in range(a.latency_reps + 3):
            s = time.perf_counter()
            model(x1)
            if i >= 3:
                lat.append(time.perf_counter() - s)
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "input": [c, t], "batch": a.batch,
        "steps": a.steps, "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "samples_per_s": round(a.steps * a.batch / wall, 2),
        "step_ms": round(1e3 * wall / a.steps, 3),
        "cpu_ms_per_step": round(1e3 * cpu / a.steps, 3),
        "latency_ms": round(1e3 * statistics.median(lat), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
