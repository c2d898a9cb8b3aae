"""Sequence tasks for recurrent networks and their training loop (K >= 1 members, one model each).

Long-lag tasks from Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", section 5, with the sequence
length T as a parameter, and a real task read as a sequence:

- ``adding`` (their Experiment 4). Each step is a pair (value, marker); values are uniform in [-1, 1]. The length
  is a random integer in [T, T + T/10]. One of the first ten pairs is marked (marker 1.0, value X1; for T < 20,
  one of the first T/2, so that it stays clear of the last pair), then one of the first T/2 - 1 still unmarked
  pairs (X2); every other marker is 0, except the first and the last pair's,
  which are -1. When the first pair is marked, its value is set to 0. The target, given only at the end, is
  0.5 + (X1 + X2) / 4 (the sum scaled to [0, 1]); a sequence is processed correctly when the absolute error at
  the end is below 0.04. Predicting the mean 0.5 gets about 15% of sequences right.
- ``continual_adding``: the adding problem as a stream that must be forgotten in parts, after the continual tasks
  of Gers, Schmidhuber & Cummins (2000), "Learning to forget", which a network solves only by resetting its cells.
  Each step is a triple (value, marker, reset); the length is drawn as for ``adding``. The stream is cut into 2 to
  4 segments (1 to 3 resets, each a reset value of 1 at a segment's first step, segments at least 4 steps long);
  every segment marks two of its steps (marker 1.0). The target, given only at the end, is 0.5 + (X1 + X2) / 4
  for the two values marked in the last segment: the pairs before the last reset must be forgotten. Scored as
  ``adding``.
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

from suite.context import Diverged
from suite.lab.nn.recurrent import SequenceModel
from suite.lab.optim import make_optimizer

TASKS = ("adding", "continual_adding", "order", "mnist1d", "digits")
ADDING_TOLERANCE = 0.04  # Hochreiter & Schmidhuber's criterion for a correctly processed sequence
_EVAL_SEED = 1997        # validation and test sequences never depend on a run's seed
_EVAL_CHUNK = 256        # sequences per length in the fixed evaluation sets
# Sequences x grouped models per evaluation pass: passes of 2,048 evaluate MNIST-1D twice as fast as passes of
# 8,192 (their 0.3 GB of states at T=40, H=32 were page-faulted in anew each pass) and faster than smaller ones.
_EVAL_BUDGET = 2048


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


def continual_adding(n: int, lag: int, generator: torch.Generator, length: int | None = None):
    """``n`` continual-adding sequences of one length L: x (n, L, 3) holds (value, marker, reset) triples, y (n, 1)
    the target from the last segment's marked pair."""
    if lag < 16:
        raise ValueError(f"continual adding needs T >= 16 (up to four segments of at least 4 steps), got {lag}")
    length = _lengths(lag, generator) if length is None else length
    values = torch.rand(n, length, generator=generator) * 2 - 1
    cuts = torch.randint(1, 4, (n,), generator=generator)  # resets, so 2 to 4 segments
    free = (length - 4 * (cuts + 1)).unsqueeze(1)  # steps beyond the 4 each segment needs
    extra = torch.sort((torch.rand(n, 3, generator=generator) * (free + 1)).floor().long(), 1).values
    starts = torch.cat([torch.zeros(n, 1, dtype=torch.long), 4 * torch.arange(1, 4) + extra], 1)  # (n, 4)
    valid = torch.arange(4).unsqueeze(0) <= cuts.unsqueeze(1)  # segments 0..cuts exist
    starts = torch.where(valid, starts, length)
    span = torch.cat([starts[:, 1:], torch.full((n, 1), length)], 1) - starts  # 0 for a missing segment
    # Two distinct marked steps per segment.
    first = (torch.rand(n, 4, generator=generator) * span).floor().long()
    second = (torch.rand(n, 4, generator=generator) * (span - 1).clamp(min=0)).floor().long()
    second = second + (second >= first).long()
    rows = torch.arange(n).unsqueeze(1).expand(n, 4)
    markers = torch.zeros(n, length)
    markers[rows[valid], (starts + first)[valid]] = 1.0
    markers[rows[valid], (starts + second)[valid]] = 1.0
    resets = torch.zeros(n, length)
    later = valid.clone()
    later[:, 0] = False
    resets[rows[later], starts[later]] = 1.0
    last = torch.arange(n), cuts
    target = 0.5 + (values[last[0], (starts + first)[last]] + values[last[0], (starts + second)[last]]) / 4
    return torch.stack([values, markers, resets], -1), target.unsqueeze(1)


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
    return nn.functional.one_hot(symbols, 8).to(torch.get_default_dtype()), bits[:, 0] * 2 + bits[:, 1]


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

    def member_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-model mean losses, (K,), of K models' outputs (K, batch, n_out) against targets (K, batch[, n_out])."""
        if self.regression:
            return nn.functional.mse_loss(out, y, reduction="none").flatten(1).mean(1)
        return nn.functional.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(1)

    def correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Whether each sequence is right: (..., batch) for outputs (..., batch, n_out)."""
        if self.regression:
            return ((out - y).abs() < ADDING_TOLERANCE).all(-1)
        return out.argmax(-1) == y


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
    if name == "continual_adding":
        return _synthetic(name, continual_adding, lag, device, n_val, n_test)
    if name == "order":
        return _synthetic(name, temporal_order, lag, device, n_val, n_test)
    if name in ("mnist1d", "digits"):
        if data is None or data.name != name:
            raise ValueError(f"task {name!r} needs the {name} dataset loaded (data={name})")
        return _from_dataset(data, {"mnist1d": 40, "digits": 8}[name])
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")


@torch.no_grad()
def evaluate(models: list[nn.Module], task: Task, split: list) -> list[tuple[float, float]]:
    """Per model, mean loss and fraction of sequences correct over the chunks of a split (models of one kind,
    run as one group on the same sequences)."""
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    loss = torch.zeros(len(models), dtype=torch.float64)
    correct = torch.zeros(len(models), dtype=torch.float64)
    n = 0
    # The forward pass keeps every step's gates of every model: bound the sequences x models per pass.
    per_pass = max(1, _EVAL_BUDGET // len(models))
    for chunk_x, chunk_y in split:
        for x, y in zip(chunk_x.split(per_pass), chunk_y.split(per_pass)):
            out = SequenceModel.forward_grouped(models, x)
            loss += task.member_losses(out, y.expand(len(models), *y.shape)).double().cpu() * len(x)
            correct += task.correct(out, y).sum(-1).double().cpu()
            n += len(x)
    for m, was in zip(models, was_training):
        m.train(was)
    return [(float(lo) / n, float(c) / n) for lo, c in zip(loss, correct)]


def _pad_stack(batches: list[tuple[torch.Tensor, torch.Tensor]]):
    """Each member's (x, y) batch stacked: x (K, batch, time, n_in), shorter sequences padded with zeros at the
    end, and each member's last real step (None when every length is the same)."""
    lengths = [x.shape[1] for x, _ in batches]
    longest = max(lengths)
    xs = [x if x.shape[1] == longest else nn.functional.pad(x, (0, 0, 0, longest - x.shape[1])) for x, _ in batches]
    last = None if min(lengths) == longest else torch.tensor(lengths, device=xs[0].device) - 1
    return torch.stack(xs), torch.stack([y for _, y in batches]), last


def fit_sequences(ctxs: list, models: list[nn.Module], task: Task, *, steps: int, lrs: list[float],
                  batch_size: int, clip: float, optimizer: str = "adam", eval_every: int = 100,
                  solve_acc: float | None = None, stop_when_solved: bool = False,
                  patience: int | None = None) -> list[dict[str, float] | Diverged]:
    """Train K >= 1 models of one kind together (one run context each), on fresh batches of ``task`` for ``steps``
    updates, each with its own learning rate, clipping each one's gradient norm at ``clip``.

    Each model draws its batches from its own context's generator and gets exactly its own gradient (the
    losses are summed; the grouped forward pass is a batched matmul), so it follows the trajectory it would
    follow alone, up to the rounding of batched matmuls. Short sequences of one member are padded at the end and
    read out at their own last step, which the padding cannot reach.

    Logs, per model, every ``eval_every`` steps (the curves' epoch column holds the step): the training loss and
    the pre-clipping gradient norm averaged over the window, the fraction of steps clipped, validation loss and
    accuracy. ``steps_to_solve`` is the first evaluated step whose validation accuracy reaches ``solve_acc``; a
    run that never gets there gets ``steps`` (a lower bound), and ``solved`` 0. A model that is solved (with
    ``stop_when_solved``) or diverges stops: it leaves the group and its parameters are not touched again.

    Early stopping, with ``patience`` (>= 1): a model whose validation accuracy has not risen above its best for
    ``patience`` evaluations in a row stops, and goes back to the parameters of its best evaluation (the first,
    on ties); its ``val_acc`` and test metrics are those of that checkpoint. ``steps_run`` is when it stopped. A
    model that diverges goes back to its best checkpoint too, and reports ``diverged`` 1 (0 for the others).
    Returns each model's final metrics, or for one that diverged (without ``patience``) a ``Diverged``.
    Raises ValueError for a patience below 1.
    """
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 evaluation, got {patience}")
    k_all = range(len(models))
    for m in models:
        m.to(ctxs[0].device).train()
    # One parameter group per learning rate (members that share one share the optimizer's fused update).
    by_lr: dict[float, list] = {}
    for m, lr in zip(models, lrs):
        by_lr.setdefault(lr, []).extend(m.parameters())
    opt = make_optimizer(optimizer, [{"params": ps, "lr": lr} for lr, ps in by_lr.items()], lrs[0])
    windows = [{"loss": [], "norm": []} for _ in k_all]
    norms: list[list[float]] = [[] for _ in k_all]
    solved_at: list[int | None] = [None] * len(models)
    stopped_at = [steps] * len(models)  # a model that never stops runs the whole budget
    val_acc = [float("nan")] * len(models)
    best: list[tuple[float, list[torch.Tensor]] | None] = [None] * len(models)  # early stopping's checkpoints
    since_best = [0] * len(models)
    alive, step = list(k_all), 0
    out: list[dict | Diverged | None] = [None] * len(models)

    def stop(k: int, failure: Diverged | None = None) -> None:
        alive.remove(k)
        stopped_at[k] = step
        if failure is not None:
            out[k] = failure

    def log() -> None:
        if not alive:  # every member stopped at this step (diverged, say): nothing left to evaluate
            return
        for k, (val_loss, acc) in zip(list(alive), evaluate([models[k] for k in alive], task, task.val)):
            row = {"val_loss": val_loss, "val_acc": acc}
            window = windows[k]
            if window["loss"]:
                norm = torch.tensor(window["norm"])
                row |= {"train_loss": sum(window["loss"]) / len(window["loss"]), "grad_norm": norm.mean().item(),
                        "clipped_frac": (norm > clip).float().mean().item()}
            ctxs[k].log(step, **row)
            window["loss"], window["norm"] = [], []
            val_acc[k] = acc
            if patience is not None:
                if best[k] is None or acc > best[k][0]:
                    best[k], since_best[k] = (acc, [p.detach().clone() for p in models[k].parameters()]), 0
                else:
                    since_best[k] += 1
            if solve_acc is not None and step > 0 and solved_at[k] is None and acc >= solve_acc:
                solved_at[k] = step  # this pass is also the best so far: no earlier one reached solve_acc
                if stop_when_solved:
                    stop(k)
                    continue
            if patience is not None and since_best[k] >= patience:
                stop(k)

    log()
    while step < steps and alive:
        group = list(alive)
        x, y, last = _pad_stack([task.batch(batch_size, ctxs[k].generator) for k in group])
        losses = task.member_losses(SequenceModel.forward_grouped([models[k] for k in group], x, last), y)
        step += 1
        opt.zero_grad(set_to_none=True)
        for k, value in zip(group, losses.tolist()):
            if math.isfinite(value):
                windows[k]["loss"].append(value)
            else:
                stop(k, Diverged(step, f"loss became {value} at step {step}"))
        if alive:
            losses[[i for i, k in enumerate(group) if k in alive]].sum().backward()
        for k in list(alive):
            norm = nn.utils.clip_grad_norm_(list(models[k].parameters()), clip).item()  # the norm before clipping
            if not math.isfinite(norm):
                stop(k, Diverged(step, f"gradient norm became {norm} at step {step}"))
                continue
            windows[k]["norm"].append(norm)
            norms[k].append(norm)
            ctxs[k].samples += batch_size
        for k in set(group) - set(alive):
            for p in models[k].parameters():
                p.grad = None  # the optimizer skips parameters without a gradient: a stopped member stays put
        opt.step()
        if step % eval_every == 0 or step == steps:
            log()
    diverged = set()
    if patience is not None:  # a run that diverged after a checkpoint is tested there, and says it diverged
        for k in k_all:
            if isinstance(out[k], Diverged) and best[k] is not None:
                diverged.add(k)
                out[k] = None
    done = [k for k in k_all if out[k] is None]
    with torch.no_grad():
        for k in done:
            if best[k] is not None:
                val_acc[k] = best[k][0]
                for p, saved in zip(models[k].parameters(), best[k][1]):
                    p.copy_(saved)
    tests = dict(zip(done, evaluate([models[k] for k in done], task, task.test))) if done else {}
    for k in done:
        # Empty for a run that diverged at its first update (tested at its initial checkpoint): NaN, not an error.
        all_norms = torch.tensor(norms[k]) if norms[k] else torch.tensor([float("nan")])
        out[k] = {"test_loss": tests[k][0], "test_acc": tests[k][1], "val_acc": val_acc[k],
                  "steps_run": float(stopped_at[k]),
                  "grad_norm_median": all_norms.median().item(),
                  "clipped_frac": float("nan") if not norms[k] else (all_norms > clip).float().mean().item()}
        if solve_acc is not None:
            out[k] |= {"steps_to_solve": float(solved_at[k] if solved_at[k] is not None else steps),
                       "solved": float(solved_at[k] is not None)}
        if patience is not None:
            out[k]["diverged"] = float(k in diverged)
    return out
