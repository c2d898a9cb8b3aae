"""The training loop of :mod:`suite.train`, for the K seeds of one variant at once (see suite.nn.batched).

Per-seed losses are summed, so each seed's gradient is exactly its own; SGD-family updates are elementwise,
so each seed follows the same trajectory as alone, up to floating-point rounding of the batched matmuls.
A seed whose loss stops being finite is marked diverged (``ctx.diverged``) and dropped from the sum.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from suite.context import RunContext
from suite.data import batch_indices
from suite.nn.batched import BatchedMLP
from suite.train import make_optimizer


@torch.no_grad()
def evaluate_batched(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, batch: int = 4096):
    """Per-seed mean cross-entropy and accuracy over a whole split: two tensors of shape (K,)."""
    loss = torch.zeros(model.k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(model.k, dtype=torch.float64, device=x.device)
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        yb = y[i:i + batch].expand(model.k, -1)
        loss += nn.functional.cross_entropy(out.transpose(1, 2), yb, reduction="none").sum(1).double()
        correct += (out.argmax(2) == yb).sum(1).double()
    return loss / len(x), correct / len(x)


def fit_batched(
    ctxs: list[RunContext],
    model: BatchedMLP,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: str = "sgd",
    on_epoch: Callable[[int, int, list[int]], None] | None = None,
    on_step: Callable[[int, list[int]], None] | None = None,
) -> list[dict[str, float] | None]:
    """Train K seeds (same config, same data) together; log each seed's curves in its own context.

    ``on_epoch(epoch, step, alive)`` runs after each evaluation with the indices of the seeds still finite;
    ``on_step(step, alive)`` after each optimizer step, while the step's gradients are still in ``.grad``.
    Returns each seed's final metrics, or None for a seed that diverged.
    """
    data = ctxs[0].data
    x, y = data.x_train, data.y_train
    model.to(ctxs[0].device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr)
    alive = list(range(len(ctxs)))
    rows: list[dict | None] = [None] * len(ctxs)
    step = 0

    def diverge(k: int, value: float) -> None:
        ctxs[k].diverged = (step, f"loss became {value} at step {step}")
        rows[k] = None
        alive.remove(k)

    def log_epoch(epoch: int) -> None:
        model.eval()
        train_loss, train_acc = evaluate_batched(model, x, y)
        val_loss, val_acc = evaluate_batched(model, data.x_val, data.y_val)
        _, test_acc = evaluate_batched(model, data.x_test, data.y_test)
        model.train()
        for k in list(alive):
            if not math.isfinite(train_loss[k].item()):
                diverge(k, train_loss[k].item())
                continue
            rows[k] = {"train_loss": train_loss[k].item(), "train_acc": train_acc[k].item(),
                       "val_loss": val_loss[k].item(), "val_acc": val_acc[k].item(), "test_acc": test_acc[k].item()}
            ctxs[k].log(epoch, **rows[k])
        if on_epoch and alive:
            on_epoch(epoch, step, list(alive))

    log_epoch(0)
    for epoch in range(1, epochs + 1):
        # Each seed draws its own data order from its own generator, exactly as it would alone.
        orders = [batch_indices(len(x), batch_size, ctx.generator, device=x.device) for ctx in ctxs]
        for batch in zip(*orders):
            idx = torch.stack(batch)                                  # (K, B)
            out = model(x[idx])                                       # (K, B, classes)
            losses = nn.functional.cross_entropy(out.transpose(1, 2), y[idx], reduction="none").mean(1)
            step += 1
            values = losses.tolist()
            for k in list(alive):
                if not math.isfinite(values[k]):
                    diverge(k, values[k])
            if not alive:
                return rows
            opt.zero_grad(set_to_none=True)
            (losses if len(alive) == len(ctxs) else losses[alive]).sum().backward()
            opt.step()
            for k in alive:
                ctxs[k].samples += idx.shape[1]
            if on_step:
                on_step(step, list(alive))
        log_epoch(epoch)
        if not alive:
            break
    return rows
