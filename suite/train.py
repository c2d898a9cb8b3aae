"""The one supervised training loop: minibatch SGD-family training, learning-rate schedules, divergence detection."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from suite.context import RunContext
from suite.data import batch_indices


class Diverged(Exception):
    """The loss became NaN or infinite; the run is stored as diverged at this step."""

    def __init__(self, step: int, loss: float, what: str = "loss"):
        super().__init__(f"{what} became {loss} at step {step}")
        self.step = step


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """The named optimizer with PyTorch's default hyperparameters apart from ``lr`` (and ``momentum``).

    Those defaults: Adagrad eps 1e-10; Adadelta rho 0.9, eps 1e-6 (``lr`` scales Zeiler's unit-free step, 1.0 in
    the paper); RMSprop alpha 0.99, eps 1e-8; Adam betas (0.9, 0.999), eps 1e-8. ``params`` are tensors or
    parameter groups (dicts with "params" and their own "lr").

    SGD, momentum, Adagrad and Adam use PyTorch's fused kernels on CPU and CUDA: the same update in one kernel
    per step instead of several per tensor (Adam's step is about 3x faster on a small MLP on CPU).
    """
    params = list(params)
    tensors = [t for g in params for t in (g["params"] if isinstance(g, dict) else [g])]
    fused = {"fused": True} if tensors and all(t.device.type in ("cpu", "cuda") for t in tensors) else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, **fused)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov", **fused)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, **fused)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **fused)
    raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


SCHEDULES = ("constant", "linear", "exponential", "step", "plateau")
FINAL_LR_FACTOR = 0.01  # linear and exponential decay end at 1% of the initial rate
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.1, 3  # reduce-on-plateau: x0.1 after more than 3 epochs without a lower val loss


def make_scheduler(name: str, opt: torch.optim.Optimizer, epochs: int):
    """A per-epoch learning-rate schedule over ``epochs`` epochs; None for a constant rate.

    linear: from lr down to 1% of it; exponential: the same end point, geometrically; step: x0.1 after half and
    after three quarters of the epochs; plateau: x0.1 once the validation loss has gone more than 3 epochs without
    improving (``step(val_loss)``).
    """
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return None
    if name == "linear":
        return sched.LinearLR(opt, 1.0, FINAL_LR_FACTOR, total_iters=max(epochs - 1, 1))
    if name == "exponential":
        return sched.ExponentialLR(opt, FINAL_LR_FACTOR ** (1 / max(epochs - 1, 1)))
    if name == "step":
        return sched.MultiStepLR(opt, sorted({max(epochs // 2, 1), max(3 * epochs // 4, 1)}), 0.1)
    if name == "plateau":
        return sched.ReduceLROnPlateau(opt, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE)
    raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split, in eval mode (the mode it found is restored)."""
    was_training = model.training
    if was_training:  # switching walks every submodule: callers evaluating several splits switch once
        model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        loss += nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    if was_training:
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
    schedule: str = "constant",
    on_step: Callable[[int, float], None] | None = None,
    drop_last: bool = False,
) -> dict[str, float]:
    """Train on ``ctx.data`` and log train loss, validation and test accuracy each epoch (epoch 0 = at init).

    ``on_epoch(epoch, step)`` runs after each epoch's evaluation (and once at init), e.g. for probes.
    ``on_step(step, loss)`` runs after each optimizer step, while the step's gradients are still in ``.grad``.
    ``schedule`` is one of :data:`SCHEDULES`, applied per epoch; the rate of the last epoch is logged as ``lr``.
    ``n_train`` trains on the first ``n_train`` training examples only (the split is already shuffled).
    ``drop_last`` skips each epoch's last, smaller batch (batch norm cannot normalize a batch of one).
    Returns the final epoch's metrics.
    """
    data = ctx.data
    x, y = data.x_train, data.y_train
    if n_train:
        x, y = x[:n_train], y[:n_train]
    model.to(ctx.device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr)
    scheduler = make_scheduler(schedule, opt, epochs)
    step = 0

    def log_epoch(epoch: int, train_loss: float | None = None) -> dict[str, float]:
        model.eval()
        full_loss, train_acc = evaluate(model, x, y)
        if not math.isfinite(full_loss):
            raise Diverged(step, full_loss)
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
        _, test_acc = evaluate(model, data.x_test, data.y_test)
        model.train()
        row = {"train_loss": full_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc,
               "test_acc": test_acc}
        ctx.log(epoch, **row)
        if on_epoch:
            on_epoch(epoch, step)
        return row

    row = log_epoch(0)
    for epoch in range(1, epochs + 1):
        for idx in batch_indices(len(x), batch_size, ctx.generator, device=x.device):
            if drop_last and len(idx) < batch_size:
                continue
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            step += 1
            if not math.isfinite(value := loss.item()):
                raise Diverged(step, value)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ctx.samples += len(idx)
            if on_step:
                on_step(step, value)
        if scheduler is not None:
            ctx.log(epoch, lr=opt.param_groups[0]["lr"])
        row = log_epoch(epoch)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(row["val_loss"])
        elif scheduler is not None:
            scheduler.step()
    return row
