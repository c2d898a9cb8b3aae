"""The one supervised training loop: minibatch SGD-family training with divergence detection."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from suite.context import RunContext
from suite.data import batch_indices


class Diverged(Exception):
    """The loss became NaN or infinite; the run is stored as diverged at this step."""

    def __init__(self, step: int, loss: float):
        super().__init__(f"loss became {loss} at step {step}")
        self.step = step


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        loss += nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def fit(
    ctx: RunContext,
    model: nn.Module,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: str = "sgd",
    n_train: int | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Train on ``ctx.data`` and log train loss, validation and test accuracy each epoch (epoch 0 = at init).

    ``on_epoch(epoch, step)`` runs after each epoch's evaluation (and once at init), e.g. for probes.
    Returns the final epoch's metrics.
    """
    data = ctx.data
    x, y = data.x_train, data.y_train
    if n_train:
        x, y = x[:n_train], y[:n_train]
    model.to(ctx.device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr)
    step = 0

    def log_epoch(epoch: int, train_loss: float | None = None) -> dict[str, float]:
        full_loss, train_acc = evaluate(model, x, y)
        if not math.isfinite(full_loss):
            raise Diverged(step, full_loss)
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
        _, test_acc = evaluate(model, data.x_test, data.y_test)
        row = {"train_loss": full_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
               "test_acc": test_acc}
        ctx.log(epoch, **row)
        if on_epoch:
            on_epoch(epoch, step)
        return row

    row = log_epoch(0)
    for epoch in range(1, epochs + 1):
        for idx in batch_indices(len(x), batch_size, ctx.generator, device=x.device):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            step += 1
            if not math.isfinite(value := loss.item()):
                raise Diverged(step, value)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ctx.samples += len(idx)
        row = log_epoch(epoch)
    return row
