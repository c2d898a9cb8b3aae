"""Speed of the lab against bare PyTorch, as ratios measured side by side (``python -m suite bench``): the training
loop against a hand-written one, grouped seeds against one at a time, the hand-written LSTM against
``torch.nn.LSTM``, grouped recurrent models (the small CNNs' are in :mod:`benchmarks.conv`). Registered with
:func:`suite.bench.benchmark`; the CI regression check watches "training loop" and "grouped seeds K=16 (digits)".
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from suite.bench import Ratio, benchmark, side_by_side
from suite.context import Config, RunContext
from suite.lab.data import Dataset, dataset
from suite.lab.loop import fit
from suite.lab.nn.grouped import GroupedMLP
from suite.lab.nn.mlp import MLP
from suite.lab.nn.recurrent import LSTM, SequenceModel


# --- the suite's training loop against a bare hand-written loop -------------------------------------------------

def _ctx(seed: int = 0) -> RunContext:
    return RunContext("bench", "smoke", Config({"data": "digits"}), seed, torch.device("cpu"))


@benchmark("training loop")
def bench_loop_overhead(quick: bool = False, repeats: int = 5) -> Ratio:
    """The lab's training loop (:func:`suite.lab.loop.fit`, one member) vs a minimal loop doing the same work:
    one epoch and the same three evaluations."""
    data = dataset("digits")

    def suite_loop():
        fit([_ctx()], MLP(64, 64, 3, 10, "relu"), data, epochs=1, lr=0.05, batch_size=32)

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


# --- grouped seeds against one seed after another ---------------------------------------------------------------

def _fake_dataset(n: int, features: int, classes: int = 10) -> Dataset:
    """Random tensors of a real dataset's shape: the timing depends on shapes, not on the values."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    small = max(1, n // 10)
    return Dataset("bench", x, y, x[:small], y[:small], x[:small], y[:small], (features,), classes)


def bench_grouped(k: int, size: str = "digits", repeats: int = 3) -> Ratio:
    """K seeds of one variant trained as one grouped MLP vs the same K seeds one after another."""
    n, features, width = {"digits": (1077, 64, 64), "mnist": (6000, 784, 256)}[size]
    data = _fake_dataset(n, features)
    budget = dict(epochs=1, lr=0.05, batch_size=64 if size == "mnist" else 32)

    def model(ctx):
        ctx.reseed()
        return MLP(features, width, 2, 10, "relu")

    def one_at_a_time():
        for ctx in (_ctx(s) for s in range(k)):
            fit([ctx], model(ctx), data, **budget)

    def grouped():
        ctxs = [_ctx(s) for s in range(k)]
        fit(ctxs, GroupedMLP([model(c) for c in ctxs]), data, **budget)

    ratio, spread = side_by_side(grouped, one_at_a_time, repeats)
    target = {("digits", 16): 6.0, ("mnist", 16): 2.5}.get((size, k))
    return Ratio(f"grouped seeds K={k} ({size})", "grouped", "one at a time", ratio, spread, target,
                 f"MLP {features}-{width}x2-10, 1 epoch of {n}")


for _k in (1, 2, 4, 8, 16, 32):
    benchmark(f"grouped seeds K={_k} (digits)", quick=_k in (1, 4, 16))(partial(lambda quick, k: bench_grouped(k), k=_k))
benchmark("grouped seeds K=16 (mnist)")(lambda quick: bench_grouped(16, "mnist"))


# --- recurrent cells ---------------------------------------------------------------------------------------------

def bench_lstm(steps: int = 50, hidden: int = 64, batch: int = 64, variant: str = "NP", repeats: int = 10) -> Ratio:
    """The hand-written LSTM against torch.nn.LSTM (C++ loop), forward and backward on the same shapes. NP (no
    peepholes) computes what nn.LSTM computes; "vanilla" adds Greff's peepholes."""
    torch.manual_seed(0)
    x = torch.randn(batch, steps, 2)
    ours, theirs = LSTM(2, hidden, variant), nn.LSTM(2, hidden, batch_first=True)
    ratio, spread = side_by_side(lambda: ours(x).sum().backward(), lambda: theirs(x)[0].sum().backward(), repeats)
    return Ratio(f"LSTM cell ({variant})", "suite LSTM", "nn.LSTM", ratio, spread, 0.5 if variant == "NP" else None,
                 f"fwd+bwd, T={steps} H={hidden} B={batch}")


def bench_grouped_recurrent(cell: str = "lstm", k: int = 10, repeats: int = 5) -> Ratio:
    """K recurrent models run as one group against the same K one after another (forward and backward), at the
    recurrent ablations' shapes (MNIST-1D read as 40 steps, 32 units, batch 64)."""
    torch.manual_seed(0)
    models = [SequenceModel(cell, 1, 32, 10) for _ in range(k)]
    x = torch.randn(k, 64, 40, 1)

    def grouped():
        SequenceModel.forward_grouped(models, x).sum().backward()

    def one_at_a_time():
        for model, xk in zip(models, x):
            model(xk).sum().backward()

    ratio, spread = side_by_side(grouped, one_at_a_time, repeats)
    return Ratio(f"grouped {cell.upper()} K={k}", "grouped", "one at a time", ratio, spread, None,
                 "fwd+bwd, T=40 H=32 B=64")


benchmark("LSTM cell (NP)")(lambda quick: bench_lstm())
benchmark("LSTM cell (vanilla)")(lambda quick: bench_lstm(variant="vanilla"))
for _cell in ("lstm", "gru", "rnn"):
    benchmark(f"grouped {_cell.upper()} K=10")(partial(lambda quick, cell: bench_grouped_recurrent(cell), cell=_cell))
