"""Speed as ratios measured side by side in one process (absolute seconds vary between machines; ratios less).

Each benchmark times a candidate and its baseline in interleaved repeats and reports the median ratio, so a
burst of load on a noisy machine hits both. ``python -m suite bench`` prints the table; the pytest-benchmark
files in ``benchmarks/`` time the same functions.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn


@dataclass
class Ratio:
    name: str
    candidate: str
    baseline: str
    ratio: float          # how many times faster the candidate is (baseline time / candidate time)
    spread: float         # (max - min) / median of the per-repeat ratios: the noise of this measurement
    target: float | None  # the ratio it should reach, where there is one
    detail: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


def side_by_side(candidate: Callable[[], None], baseline: Callable[[], None], repeats: int = 5) -> tuple[float, float]:
    """Median and spread of baseline_time / candidate_time over interleaved repeats (after one warm-up each)."""
    candidate(), baseline()
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        candidate()
        t1 = time.perf_counter()
        baseline()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    median = statistics.median(ratios)
    return median, (max(ratios) - min(ratios)) / median


# --- the suite's training loop against a bare hand-written loop -------------------------------------------------

def _digits_ctx(seed: int = 0):
    from suite.context import Config, RunContext

    return RunContext("bench", "smoke", Config({"data": "digits"}), seed, torch.device("cpu"))


def bench_loop_overhead(repeats: int = 5) -> Ratio:
    """``suite.train.fit`` vs a minimal loop doing the same work: one epoch and the same three evaluations."""
    from suite.nn import MLP
    from suite.train import fit

    data = _digits_ctx().data

    def suite_loop():
        ctx = _digits_ctx()
        fit(ctx, MLP(64, 64, 3, 10, "relu"), epochs=1, lr=0.05, batch_size=32)

    def bare_loop():
        torch.manual_seed(0)
        model = MLP(64, 64, 3, 10, "relu")
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(0)
        x, y = data.x_train, data.y_train

        def evaluate():
            with torch.no_grad():
                for xs, ys in ((x, y), (data.x_val, data.y_val), (data.x_test, data.y_test)):
                    out = model(xs)
                    nn.functional.cross_entropy(out, ys).item(), (out.argmax(1) == ys).float().mean().item()

        evaluate()
        for idx in torch.randperm(len(x), generator=gen).split(32):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        evaluate()

    ratio, spread = side_by_side(suite_loop, bare_loop, repeats)
    return Ratio("training loop", "suite fit", "bare loop", ratio, spread, 0.95, "digits MLP 64x3, 1 epoch")


# --- batched seeds against one seed after another ---------------------------------------------------------------

def _fake_dataset(n: int, features: int, classes: int = 10):
    """Random tensors of a real dataset's shape: the timing depends on shapes, not on the values."""
    from suite.data import Dataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    small = max(1, n // 10)
    return Dataset("bench", x, y, x[:small], y[:small], x[:small], y[:small], (features,), classes)


def bench_batched(k: int, size: str = "digits", repeats: int = 3) -> Ratio:
    """K seeds of one variant trained together (stacked MLP) vs the same K seeds one after another."""
    from suite.batched import fit_batched
    from suite.nn import MLP
    from suite.nn.batched import BatchedMLP
    from suite.train import fit

    n, features, width = {"digits": (1077, 64, 64), "mnist": (6000, 784, 256)}[size]
    data = _fake_dataset(n, features)
    budget = dict(epochs=1, lr=0.05, batch_size=64 if size == "mnist" else 32)

    def contexts():
        ctxs = [_digits_ctx(s) for s in range(k)]
        for ctx in ctxs:
            ctx._data = data
        return ctxs

    def model(ctx):
        ctx.reseed()
        return MLP(features, width, 2, 10, "relu")

    def sequential():
        for ctx in contexts():
            fit(ctx, model(ctx), **budget)

    def batched():
        ctxs = contexts()
        fit_batched(ctxs, BatchedMLP([model(c) for c in ctxs]), **budget)

    ratio, spread = side_by_side(batched, sequential, repeats)
    target = {("digits", 16): 6.0, ("mnist", 16): 2.5}.get((size, k))
    return Ratio(f"batched seeds K={k} ({size})", "batched", "sequential", ratio, spread, target,
                 f"MLP {features}-{width}x2-10, 1 epoch of {n}")


# --- loading and aggregating the store ---------------------------------------------------------------------------

def bench_store(n_records: int = 10_000, repeats: int = 3) -> Ratio:
    """Loading n stored records into tidy tables and judging them, against reading the same bytes as JSON."""
    from suite import tables, verdicts
    from suite.registry import get
    from suite.store import Store

    abl = get("vanishing_gradients")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        factors = [dict(zip(abl.factors, v)) for v in __import__("itertools").product(*abl.factors.values())]
        curve = {"epoch": [e for e in range(21) for _ in range(5)], "metric": ["train_loss", "train_acc", "val_loss",
                                                                              "val_acc", "test_acc"] * 21,
                 "value": [0.5] * 105}
        for i in range(n_records):
            f = factors[i % len(factors)]
            store.write({"key": f"r{i:06d}", "ablation": abl.name, "tier": "quick", "seed": i // len(factors),
                         "device": "cpu", "status": "ok", "factors": f, "config": f,
                         "metrics": {m: float(i % 7) for m in abl.metrics}, "curves": curve, "probes": {}})
        paths = sorted((Path(tmp) / abl.name).glob("*.json"))

        def aggregate():
            records = list(store.records(abl.name))
            tables.curves(records)
            verdicts.judge(abl, records)

        def raw():
            for p in paths:
                json.loads(p.read_text())

        t0 = time.perf_counter()
        aggregate()
        seconds = time.perf_counter() - t0
        ratio, spread = side_by_side(aggregate, raw, repeats)
    return Ratio(f"load+judge {n_records} records", "store+tables+verdicts", "json.loads alone", ratio, spread, None,
                 f"{seconds:.2f} s for {n_records} records")


# --- a small CNN step --------------------------------------------------------------------------------------------

def bench_cnn(repeats: int = 5) -> Ratio:
    """One training step of a small CNN (two 3x3 convolutions, 32 channels, 28x28, batch 128): channels_last
    vs the default memory layout."""
    def make(channels_last: bool):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
        x = torch.randn(128, 1, 28, 28)
        if channels_last:
            model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (128,))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step():
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    ratio, spread = side_by_side(make(True), make(False), repeats)
    return Ratio("small CNN step", "channels_last", "default layout", ratio, spread, None, "2 conv 3x3, 32 ch")


# --- recurrent cells ---------------------------------------------------------------------------------------------

def bench_lstm(steps: int = 50, hidden: int = 64, batch: int = 64, variant: str = "NP", repeats: int = 10) -> Ratio:
    """The hand-written LSTM against torch.nn.LSTM (C++ loop), forward and backward on the same shapes. NP (no
    peepholes) computes what nn.LSTM computes; "vanilla" adds Greff's peepholes."""
    from suite.nn.recurrent import LSTM

    torch.manual_seed(0)
    x = torch.randn(batch, steps, 2)
    ours, theirs = LSTM(2, hidden, variant), nn.LSTM(2, hidden, batch_first=True)
    ratio, spread = side_by_side(lambda: ours(x).sum().backward(), lambda: theirs(x)[0].sum().backward(), repeats)
    return Ratio(f"LSTM cell ({variant})", "suite LSTM", "nn.LSTM", ratio, spread, 0.5 if variant == "NP" else None,
                 f"fwd+bwd, T={steps} H={hidden} B={batch}")


def bench_stacked_recurrent(cell: str = "lstm", k: int = 10, repeats: int = 5) -> Ratio:
    """K recurrent models run as one stack against the same K one after another (forward and backward), at the
    recurrent ablations' shapes (MNIST-1D read as 40 steps, 32 units, batch 64)."""
    from suite.nn.recurrent import SequenceModel

    torch.manual_seed(0)
    models = [SequenceModel(cell, 1, 32, 10) for _ in range(k)]
    x = torch.randn(k, 64, 40, 1)

    def stacked():
        SequenceModel.forward_stacked(models, x).sum().backward()

    def sequential():
        for model, xk in zip(models, x):
            model(xk).sum().backward()

    ratio, spread = side_by_side(stacked, sequential, repeats)
    return Ratio(f"stacked {cell.upper()} K={k}", "stacked", "sequential", ratio, spread, None,
                 "fwd+bwd, T=40 H=32 B=64")


# --- reports -----------------------------------------------------------------------------------------------------

def bench_reports(results: str | Path | None = None) -> Ratio | None:
    """Building the HTML and PDF reports of every ablation with stored results, against the statistics alone
    (the CSV tables: the same records loaded and judged), from the results directory (default: the usual one).
    None when it holds no results."""
    import argparse
    import contextlib
    import io

    from suite.registry import discover
    from suite.report import build_reports
    from suite.store import Store

    store = Store(results)
    names = [n for n in sorted(discover()) if next(iter(store.records(n)), None) is not None]
    if not names:
        return None
    timings = {}
    with tempfile.TemporaryDirectory() as out:
        for fmt in ("csv", "html,pdf"):
            args = argparse.Namespace(names=names, format=fmt, out=out, tier=None, results=results)
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                build_reports(args)
            timings[fmt] = time.perf_counter() - t0
    return Ratio("all reports", "HTML+PDF", "statistics alone (CSV)", timings["csv"] / timings["html,pdf"], 0.0, None,
                 f"{timings['html,pdf']:.1f} s for {len(names)} ablations (statistics {timings['csv']:.1f} s)")


def run_all(quick: bool = False, results: str | Path | None = None) -> list[Ratio]:
    ks = (1, 4, 16) if quick else (1, 2, 4, 8, 16, 32)
    out = [bench_loop_overhead()]
    out += [bench_batched(k) for k in ks]
    out += [bench_batched(16, "mnist")]
    out += [bench_lstm(), bench_lstm(variant="vanilla")]
    out += [bench_stacked_recurrent(cell) for cell in ("lstm", "gru", "rnn")]
    out += [bench_cnn(), bench_store(2_000 if quick else 10_000)]
    if (report := bench_reports(results)) is not None:
        out.append(report)
    return out
