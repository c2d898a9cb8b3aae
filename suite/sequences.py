"""Sequence tasks for recurrent networks and their training loop.

Long-lag tasks from Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", section 5, with the sequence
length T as a parameter, and a real task read as a sequence:

- ``adding`` (their Experiment 4). Each step is a pair (value, marker); values are uniform in [-1, 1]. The length
  is a random integer in [T, T + T/10]. One of the first ten pairs is marked (marker 1.0, value X1; for T < 20,
  one of the first T/2, so that it stays clear of the last pair), then one of the first T/2 - 1 still unmarked
  pairs (X2); every other marker is 0, except the first and the last pair's,
  which are -1. When the first pair is marked, its value is set to 0. The target, given only at the end, is
  0.5 + (X1 + X2) / 4 (the sum scaled to [0, 1]); a sequence is processed correctly when the absolute error at
  the end is below 0.04. Predicting the mean 0.5 gets about 15% of sequences right.
- ``order`` (their Experiment 6a, temporal order). Symbols one-hot over {a, b, c, d, X, Y, B, E}: B first, E last,
  a..d elsewhere except two positions t1 in [T/10, T/5] and t2 in [T/2, 0.6 T] holding X or Y; the class is the
  ordered pair (XX, XY, YX, YY). Length in [T, T + T/10]. With T = 100 these are the paper's numbers.
- ``mnist1d`` (Greydanus 2020) read as 40 steps of one value, ``digits`` as 8 rows of 8 pixels.

One length is drawn per minibatch rather than per sequence, so that a batch is one tensor: each sequence's length
has the paper's distribution, only lengths within a batch are shared. Training batches come from the run's
generator; validation and test sets are fixed (a constant seed), so every run is scored on the same sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from suite.train import Diverged, make_optimizer

TASKS = ("adding", "order", "mnist1d", "digits")
ADDING_TOLERANCE = 0.04  # Hochreiter & Schmidhuber's criterion for a correctly processed sequence
_EVAL_SEED = 1997        # validation and test sequences never depend on a run's seed
_EVAL_CHUNK = 256        # sequences per length in the fixed evaluation sets


def _lengths(lag: int, generator: torch.Generator) -> int:
    return int(torch.randint(lag, lag + lag // 10 + 1, (1,), generator=generator))


def adding_problem(n: int, lag: int, generator: torch.Generator, length: int | None = None):
    """``n`` adding-problem sequences of one length L (drawn in [lag, lag + lag/10] unless given):
    x (n, L, 2) holds (value, marker) pairs, y (n, 1) the target."""
    if lag < 4:
        raise ValueError(f"the adding problem needs T >= 4 (X2 is among the first T/2 - 1 pairs), got {lag}")
    length = _lengths(lag, generator) if length is None else length
    values = torch.rand(n, length, generator=generator) * 2 - 1
    markers = torch.zeros(n, length)
    markers[:, 0] = markers[:, -1] = -1.0
    rows = torch.arange(n)
    first = torch.randint(0, min(10, lag // 2), (n,), generator=generator)  # the first ten; T/2 when T < 20
    # The r-th of the first T/2 - 1 pairs that are not already marked.
    r = torch.randint(0, lag // 2 - 1, (n,), generator=generator)
    second = r + (r >= first).long()
    markers[rows, first] = markers[rows, second] = 1.0
    values[:, 0] = torch.where(markers[:, 0] == 1.0, 0.0, values[:, 0])
    target = 0.5 + (values[rows, first] + values[rows, second]) / 4
    return torch.stack([values, markers], -1), target.unsqueeze(1)


ORDER_SYMBOLS = "abcdXYBE"


def temporal_order(n: int, lag: int, generator: torch.Generator, length: int | None = None):
    """``n`` temporal-order sequences: x (n, L, 8) one-hot over a, b, c, d, X, Y, B, E; y (n,) class 0..3 for
    XX, XY, YX, YY."""
    if lag < 10:
        raise ValueError(f"the temporal order task needs T >= 10, got {lag}")
    length = _lengths(lag, generator) if length is None else length
    symbols = torch.randint(0, 4, (n, length), generator=generator)
    symbols[:, 0], symbols[:, -1] = 6, 7
    rows = torch.arange(n)
    t1 = torch.randint(lag // 10, lag // 5 + 1, (n,), generator=generator)
    t2 = torch.randint(lag // 2, math.floor(0.6 * lag) + 1, (n,), generator=generator)
    bits = torch.randint(0, 2, (n, 2), generator=generator)
    symbols[rows, t1], symbols[rows, t2] = 4 + bits[:, 0], 4 + bits[:, 1]
    return nn.functional.one_hot(symbols, 8).float(), bits[:, 0] * 2 + bits[:, 1]


@dataclass
class Task:
    """A sequence task: ``batch(n, generator)`` draws training data; ``val`` and ``test`` are fixed lists of
    (x, y) chunks. Regression tasks score a sequence correct within ``ADDING_TOLERANCE``."""

    name: str
    n_in: int
    n_out: int
    regression: bool
    batch: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    val: list
    test: list

    def loss(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.regression:
            return nn.functional.mse_loss(out, y, reduction=reduction)
        return nn.functional.cross_entropy(out, y, reduction=reduction)

    def correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.regression:
            return ((out - y).abs() < ADDING_TOLERANCE).all(1)
        return out.argmax(1) == y


def _synthetic(name: str, make, lag: int, device, n_val: int, n_test: int) -> Task:
    g = torch.Generator().manual_seed(_EVAL_SEED)

    def chunks(total: int) -> list:
        sizes = [_EVAL_CHUNK] * (total // _EVAL_CHUNK) + ([total % _EVAL_CHUNK] if total % _EVAL_CHUNK else [])
        return [tuple(t.to(device) for t in make(k, lag, g)) for k in sizes]

    val, test = chunks(n_val), chunks(n_test)

    def batch(n: int, generator: torch.Generator):
        return tuple(t.to(device) for t in make(n, lag, generator))

    x, y = val[0]
    regression = y.dtype.is_floating_point
    return Task(name, x.shape[-1], y.shape[-1] if regression else 4, regression, batch, val, test)


def _from_dataset(data, steps: int) -> Task:
    """A classification dataset read as ``steps`` steps of its flattened features."""
    def seq(x: torch.Tensor) -> torch.Tensor:
        return x.view(len(x), steps, -1)

    x_train, y_train = seq(data.x_train), data.y_train

    def batch(n: int, generator: torch.Generator):
        idx = torch.randint(0, len(y_train), (n,), generator=generator).to(y_train.device)
        return x_train[idx], y_train[idx]

    return Task(data.name, x_train.shape[-1], data.n_classes, False, batch,
                [(seq(data.x_val), data.y_val)], [(seq(data.x_test), data.y_test)])


def make_task(name: str, *, lag: int = 100, device="cpu", data=None, n_val: int = 512, n_test: int = 2048) -> Task:
    """A task by name; ``lag`` is T for the synthetic tasks, ``data`` the loaded dataset for the real ones."""
    if name == "adding":
        return _synthetic(name, adding_problem, lag, device, n_val, n_test)
    if name == "order":
        return _synthetic(name, temporal_order, lag, device, n_val, n_test)
    if name in ("mnist1d", "digits"):
        if data is None or data.name != name:
            raise ValueError(f"task {name!r} needs the {name} dataset loaded (data={name})")
        return _from_dataset(data, {"mnist1d": 40, "digits": 8}[name])
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")


def _finite(step: int, value: float) -> float:
    """A loss or gradient norm, or ``Diverged`` when it is NaN or infinite."""
    if not math.isfinite(value):
        raise Diverged(step, value)
    return value


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, split: list) -> tuple[float, float]:
    """Mean loss and fraction of sequences correct over the chunks of a split."""
    was_training = model.training
    model.eval()
    loss = correct = n = 0
    for x, y in split:
        out = model(x)
        loss += task.loss(out, y, reduction="sum").item() / (out.shape[1] if task.regression else 1)
        correct += task.correct(out, y).sum().item()
        n += len(x)
    model.train(was_training)
    return loss / n, correct / n


def train_sequences(ctx, model: nn.Module, task: Task, *, steps: int, lr: float, batch_size: int,
                    clip: float, optimizer: str = "adam", eval_every: int = 100, solve_acc: float | None = None,
                    stop_when_solved: bool = False) -> dict[str, float]:
    """Train on fresh batches of ``task`` for ``steps`` updates, clipping the gradient norm at ``clip``.

    Logs, every ``eval_every`` steps (the curves' epoch column holds the step): the training loss and the
    pre-clipping gradient norm averaged over the window, the fraction of steps clipped, validation loss and
    accuracy. ``steps_to_solve`` is the first evaluated step whose validation accuracy reaches ``solve_acc``;
    a run that never gets there gets ``steps`` (a lower bound), and ``solved`` 0.
    """
    model.to(ctx.device).train()
    params = list(model.parameters())
    opt = make_optimizer(optimizer, params, lr)
    window: dict[str, list] = {"loss": [], "norm": []}
    norms, solved_at, step = [], None, 0

    def log() -> float:
        val_loss, val_acc = evaluate(model, task, task.val)
        row = {"val_loss": val_loss, "val_acc": val_acc}
        if window["loss"]:
            norm = torch.tensor(window["norm"])
            row |= {"train_loss": sum(window["loss"]) / len(window["loss"]), "grad_norm": norm.mean().item(),
                    "clipped_frac": (norm > clip).float().mean().item()}
        ctx.log(step, **row)
        window["loss"], window["norm"] = [], []
        return val_acc

    val_acc = log()
    while step < steps:
        x, y = task.batch(batch_size, ctx.generator)
        loss = task.loss(model(x), y)
        step += 1
        window["loss"].append(_finite(step, loss.item()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = _finite(step, nn.utils.clip_grad_norm_(params, clip).item())  # the norm before clipping
        window["norm"].append(norm)
        norms.append(norm)
        opt.step()
        ctx.samples += len(x)
        if step % eval_every == 0 or step == steps:
            val_acc = log()
            if solve_acc is not None and solved_at is None and val_acc >= solve_acc:
                solved_at = step
                if stop_when_solved:
                    break
    test_loss, test_acc = evaluate(model, task, task.test)
    all_norms = torch.tensor(norms)
    out = {"test_loss": test_loss, "test_acc": test_acc, "val_acc": val_acc, "steps_run": float(step),
           "grad_norm_median": all_norms.median().item(), "clipped_frac": (all_norms > clip).float().mean().item()}
    if solve_acc is not None:
        out |= {"steps_to_solve": float(solved_at if solved_at is not None else steps),
                "solved": float(solved_at is not None)}
    return out


def input_gradient_rows(model: nn.Module, task: Task, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per-example norm of d loss / d x_t for every step, in float64 so that tiny gradients do not underflow.

    Rows {"t": steps before the end (0 = the last input), "stat": "grad_input_norm", "value": ...}.
    """
    import copy

    probe = copy.deepcopy(model).double()
    x = x.double().requires_grad_(True)
    y = y.double() if task.regression else y
    (grad,) = torch.autograd.grad(task.loss(probe(x), y), x)
    norms = grad.norm(dim=2).mean(0) * len(x)  # per example: the mean loss divides each gradient by n
    last = len(norms) - 1
    return [{"t": last - t, "stat": "grad_input_norm", "value": v} for t, v in enumerate(norms.tolist())]


def decay_log10(rows: list[dict]) -> float:
    """log10 of the gradient reaching the first input over the gradient at the last one (0: no decay)."""
    by_t = {r["t"]: r["value"] for r in rows if r["stat"] == "grad_input_norm"}
    first, last = by_t[max(by_t)], by_t[0]
    return math.log10(first / last) if first > 0 and last > 0 else float("-inf")
