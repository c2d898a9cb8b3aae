"""Training and probing the chapter-5 classifiers: one member per run through :func:`suite.lab.loop.fit`, inputs
with their positions permuted, and accuracy on shifted test inputs.

On CPU the members of a CNN ablation train one at a time and the runs spread over the cores: grouping K = 1..16
small CNNs (a 3-layer 1-D CNN on MNIST-1D, one thread) measured 0.77-1.0x of one after another with grouped
convolutions and 0.58-0.90x with ``torch.func.vmap``, so there is no grouped path.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import torch
from torch import nn

from suite.context import Diverged, RunContext
from suite.lab.data import Dataset
from suite.lab.loop import fit
from suite.lab.nn.conv import n_params, shift

PERMUTATION_SEED = 20201130  # one fixed permutation for every run and split, as in Greydanus (2020)


def train_classifier(ctx: RunContext, build: Callable[[], nn.Module], data: Dataset,
                     **extra: Callable[[nn.Module], dict[str, float]]) -> dict[str, float] | Diverged:
    """Build the run's model from its seed (``build()`` after :meth:`RunContext.reseed`), train it with the run's
    ``epochs``, ``lr``, ``batch_size``, ``optimizer`` and ``eval_every`` (config or factors; ``eval_every`` 1 where
    the config has none), and return its final metrics (test, validation and training accuracy and loss,
    ``train_err``), ``n_params``, and what each ``extra`` function computes from the trained model in eval mode
    (in order, on the same model, each updating the metrics: one that changes the model, such as recomputing
    batch norm's statistics, goes first), or a Diverged."""
    ctx.reseed()
    model = build().to(ctx.device)
    ctx.report(n_params=n_params(model))
    cfg = ctx.cfg
    [out] = fit([ctx], model, data, epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                optimizer=cfg.optimizer, eval_every=cfg.get("eval_every", 1))
    if isinstance(out, Diverged):
        return out
    out = {**out, "train_err": 1.0 - out["train_acc"]}
    model.eval()
    with torch.no_grad():
        for fn in extra.values():
            out.update(fn(model))
    return out


def permuted(data: Dataset, seed: int = PERMUTATION_SEED) -> Dataset:
    """``data`` with the input positions of every example in every split permuted by one fixed permutation: the
    same information, no locality."""
    perm = torch.randperm(data.n_features, generator=torch.Generator().manual_seed(seed)).to(data.x_train.device)
    return dataclasses.replace(data, name=f"{data.name} (permuted)", x_train=data.x_train[:, perm],
                               x_val=data.x_val[:, perm], x_test=data.x_test[:, perm])


def offsets(size: int, dims: int) -> list[tuple[int, ...]]:
    """The shifts of ``size`` positions along each axis, both ways: (+-size,) in 1-D, four in 2-D."""
    return [tuple(sign * size if axis == a else 0 for a in range(dims)) for axis in range(dims) for sign in (1, -1)]


@torch.no_grad()
def shift_tolerance(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shape: Sequence[int],
                    size: int) -> tuple[float, float]:
    """Accuracy on ``x`` (B, features) shifted by ``size`` positions (mean over the shifts of :func:`offsets`) and
    the fraction of examples whose predicted class the shift leaves unchanged (Azulay & Weiss 2019's consistency).
    The model is evaluated in the mode it is in."""
    base = model(x).argmax(1)
    accs, same = [], []
    for offset in offsets(size, len(shape)):
        pred = model(shift(x, shape, offset)).argmax(1)
        accs.append((pred == y).double().mean().item())
        same.append((pred == base).double().mean().item())
    return sum(accs) / len(accs), sum(same) / len(same)

