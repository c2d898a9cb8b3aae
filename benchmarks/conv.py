"""Speed of the lab's small CNNs (:mod:`suite.lab.nn.conv`) as ratios measured side by side (``python -m suite
bench``): the training loop on a ConvNet against a hand-written one, for the digits images and the MNIST-1D
sequences, and a CNN training step in channels_last against the default memory layout, at a generic size and at
the digits CNN's own shapes (the layout the lab trains in is channels_last for 2-D maps, where it measured faster).
Registered with :func:`suite.bench.benchmark`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
from torch import nn

from suite.bench import Ratio, benchmark, side_by_side
from suite.context import Config, RunContext
from suite.lab.data import dataset
from suite.lab.loop import fit
from suite.lab.nn.conv import ConvNet, conv_unit, pool


def _ctx(seed: int = 0) -> RunContext:
    return RunContext("bench", "smoke", Config({"data": "digits"}), seed, torch.device("cpu"))


def _digits_cnn(channels_last: bool | None = None) -> ConvNet:
    return ConvNet((8, 8), nn.Sequential(conv_unit(1, 16, 3), conv_unit(16, 16, 3), pool("max", 2),
                                         conv_unit(16, 32, 3)), 10, "gap", channels_last=channels_last)


def _mnist1d_cnn() -> ConvNet:
    return ConvNet((40,), nn.Sequential(conv_unit(1, 32, 5, 1), conv_unit(32, 32, 5, 1), pool("max", 2, 1),
                                        conv_unit(32, 32, 3, 1)), 10, "gap")


# name -> (the dataset, its CNN, what the Ratio's detail says)
CNNS: dict[str, tuple[str, Callable[[], ConvNet], str]] = {
    "digits": ("digits", _digits_cnn, "digits 8x8 CNN 3x3 16-16-pool-32, gap"),
    "MNIST-1D": ("mnist1d", _mnist1d_cnn, "MNIST-1D CNN k5 32-32-pool-k3 32, gap"),
}


# --- the suite's training loop against a bare hand-written loop -------------------------------------------------

def bench_cnn_loop(name: str, repeats: int = 5) -> Ratio:
    """The lab's training loop (:func:`suite.lab.loop.fit`, one member) on a ConvNet vs a minimal loop doing the
    same work: the same model, one epoch of SGD at batch 32, the same three evaluations at start and end, and the
    per-step loss read back that fit needs for its divergence check."""
    data_name, build, what = CNNS[name]
    data = dataset(data_name)

    def model() -> ConvNet:
        torch.manual_seed(0)
        return build()

    def suite_loop():
        fit([_ctx()], model(), data, epochs=1, lr=0.05, batch_size=32)

    def bare_loop():
        net = model()
        opt = torch.optim.SGD(net.parameters(), lr=0.05, fused=True)  # what fit's "sgd" builds on CPU
        gen = torch.Generator().manual_seed(0)
        x, y = data.x_train, data.y_train

        def evaluate():
            with torch.no_grad():
                for xs, ys in ((x, y), (data.x_val, data.y_val), (data.x_test, data.y_test)):
                    out = net(xs)
                    nn.functional.cross_entropy(out, ys).item(), (out.argmax(1) == ys).sum().item()

        evaluate()
        for idx in torch.randperm(len(x), generator=gen).split(32):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            if not math.isfinite(loss.item()):  # fit stops a member whose loss is not finite
                raise FloatingPointError(f"loss {loss.item()}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        evaluate()

    ratio, spread = side_by_side(suite_loop, bare_loop, repeats)
    return Ratio(f"CNN training loop ({name})", "suite fit", "bare loop", ratio, spread, 0.95, f"{what}, 1 epoch")


for _name in CNNS:
    benchmark(f"CNN training loop ({_name})")(partial(lambda quick, name: bench_cnn_loop(name), name=_name))


# --- memory layout of a CNN training step -----------------------------------------------------------------------

def _layout_ratio(build: Callable[[bool], nn.Module], shape: tuple[int, ...], steps: int,
                  repeats: int) -> tuple[float, float]:
    """channels_last vs default layout: ``steps`` SGD steps of the model ``build(channels_last)`` makes on one
    random batch of ``shape`` (B, C, H, W) (the time depends on shapes, not on the values)."""
    def make(channels_last: bool):
        torch.manual_seed(0)
        model, x = build(channels_last), torch.randn(shape)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        model, x = model.to(memory_format=layout), x.contiguous(memory_format=layout)
        y = torch.randint(0, 10, shape[:1])
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def run():
            for _ in range(steps):
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return run

    return side_by_side(make(True), make(False), repeats)


def _layout_detail(ratio: float, spread: float, what: str) -> str:
    """What was measured and which layout won: one wins only by more than half the repeats' spread, else the
    default stays."""
    if abs(ratio - 1) <= spread / 2:
        return f"{what}: no layout faster beyond noise (default kept)"
    return f"{what}: {'channels_last' if ratio > 1 else 'default layout'} faster"


@benchmark("small CNN step")
def bench_cnn(quick: bool = False, repeats: int = 5) -> Ratio:
    """One training step of a small CNN (two 3x3 convolutions, 32 channels, 28x28, batch 128): channels_last
    vs the default memory layout."""
    def build(channels_last: bool):
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    ratio, spread = _layout_ratio(build, (128, 1, 28, 28), 1, repeats)
    return Ratio("small CNN step", "channels_last", "default layout", ratio, spread, None,
                 _layout_detail(ratio, spread, "2 conv 3x3, 32 ch, 28x28, batch 128"))


@benchmark("small CNN step (digits)")
def bench_cnn_digits(quick: bool = False, repeats: int = 5) -> Ratio:
    """The digits CNN's training steps at the shapes fit trains it at (8x8, batch 32), channels_last vs the
    default layout: one epoch's steps per repeat, since one step of these shapes is too short to time alone."""
    steps = math.ceil(len(dataset("digits").y_train) / 32)
    ratio, spread = _layout_ratio(_digits_cnn, (32, 1, 8, 8), steps, repeats)
    return Ratio("small CNN step (digits)", "channels_last", "default layout", ratio, spread, None,
                 _layout_detail(ratio, spread, f"{CNNS['digits'][2]}, batch 32, {steps} steps"))
