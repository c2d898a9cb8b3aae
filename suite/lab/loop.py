"""The supervised training loop: minibatch training of K >= 1 members on a classification dataset.

The members are K runs (seeds, or settings of one variant) with one model each: a single ``nn.Module`` when K = 1,
or one grouped model (:class:`~suite.lab.nn.grouped.GroupedMLP`) whose weights carry a leading member
dimension. Per-member losses are summed, so each member's gradient is exactly its own; the SGD family updates
element-wise, so each member follows the trajectory it follows alone, up to the floating-point rounding of the
batched matmuls. Each member draws its data order from its own context's generator. A member whose loss stops
being finite gets a :class:`~suite.context.Diverged` and leaves the sum; the others go on.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from suite.context import Diverged, RunContext
from suite.lab.data import Dataset, batch_indices
from suite.lab.optim import make_optimizer, make_scheduler


def _members(model: nn.Module) -> int | None:
    """K for a grouped model, None for a single model."""
    return getattr(model, "k", None)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> tuple[list[float], list[float]]:
    """Per member, mean cross-entropy and accuracy over a whole split, in eval mode (the mode it found is restored:
    callers evaluating several splits switch once, since switching walks every submodule)."""
    was_training = model.training
    if was_training:
        model.eval()
    k = _members(model)
    if k is None:
        total, correct = 0.0, 0
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            total += nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + batch]).sum().item()
        losses, accs = [total / len(x)], [correct / len(x)]
    else:
        loss = torch.zeros(k, dtype=torch.float64, device=x.device)
        hits = torch.zeros(k, dtype=torch.float64, device=x.device)
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            yb = y[i:i + batch].expand(k, -1)
            loss += nn.functional.cross_entropy(out.transpose(1, 2), yb, reduction="none").sum(1).double()
            hits += (out.argmax(2) == yb).sum(1).double()
        losses, accs = (loss / len(x)).tolist(), (hits / len(x)).tolist()
    if was_training:
        model.train()
    return losses, accs


def fit(
    ctxs: list[RunContext],
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    lr: float | Sequence[float],
    batch_size: int,
    optimizer: str = "sgd",
    schedule: str = "constant",
    drop_last: bool = False,
    on_epoch: Callable[[int, int, list[int]], None] | None = None,
    on_step: Callable[[int, list[int]], None] | None = None,
    loss_target: float | None = None,
    eval_every: int = 1,
) -> list[dict[str, float] | Diverged]:
    """Train the members (one context each; ``model`` single for K = 1, grouped for K > 1) on ``data`` and log,
    in each member's context, training loss and accuracy, validation loss and accuracy, and test accuracy each
    epoch (epoch 0 = at init).

    ``on_epoch(epoch, step, alive)`` runs after each epoch's evaluation (and once at init) with the indices of the
    members still training; ``on_step(step, alive)`` after each optimizer step, while the step's gradients are
    still in ``.grad``. ``schedule`` is one of :data:`suite.lab.optim.SCHEDULES`, applied per epoch (the rate of
    each epoch is logged as ``lr``); "plateau" follows one member's validation loss, so it needs K = 1.
    ``drop_last`` skips each epoch's last, smaller batch (batch norm cannot normalize a batch of one).
    ``loss_target`` (nats): each member reports ``updates_to_loss``, the updates done at the first evaluated epoch
    end (see ``eval_every``) whose training loss is at most the target (the whole budget when none is, or when it
    diverges), and ``reached_loss`` (1 or 0): a time to an event, censored at the budget.
    ``eval_every`` (epochs): evaluate, log and call ``on_epoch`` at init, every that many epochs and after the last
    one only (evaluating three splits every epoch can cost more than training when the training set is small).
    ``lr`` may be one rate per member, for plain SGD and SGD with (Nesterov) momentum at a constant rate: their
    updates are linear in the gradient, so each member's gradient is scaled by its rate and the optimizer steps at
    rate 1 - the update each member gets alone, up to rounding (``on_step`` then sees the scaled gradients).
    Returns, per member, the final epoch's metrics or a Diverged. Raises ValueError when K does not match, or for
    per-member rates with another optimizer or a schedule.
    """
    k = _members(model)
    if len(ctxs) != (k or 1):
        raise ValueError(f"{len(ctxs)} run contexts for a model of {k or 1} member(s)")
    if schedule == "plateau" and k is not None:
        raise ValueError("reduce-on-plateau follows one validation loss: train its members one at a time")
    if schedule == "plateau" and eval_every != 1:
        raise ValueError("reduce-on-plateau reads the validation loss every epoch: it needs eval_every=1")
    x, y = data.x_train, data.y_train
    model.to(ctxs[0].device).train()
    rates = None  # per-member rates, (K,), which scale the gradients
    if not isinstance(lr, (int, float)):
        if len(lr) != len(ctxs):
            raise ValueError(f"{len(lr)} learning rates for {len(ctxs)} members")
        if len(set(lr)) == 1 or k is None:
            lr = lr[0]
        elif optimizer not in ("sgd", "momentum", "nesterov") or schedule != "constant":
            raise ValueError(f"one rate per member needs sgd, momentum or nesterov at a constant rate, not "
                             f"{optimizer} with schedule {schedule}")
        else:
            rates, lr = torch.tensor(lr, device=x.device), 1.0
    # Every trained tensor of a group leads with the member dimension: (K, 1, ...) rates broadcast over it (the
    # one-member template a group keeps for probes is not trained).
    scaled = [] if rates is None else [(p, rates.view(-1, *[1] * (p.dim() - 1)).to(p.dtype))
                                       for name, p in model.named_parameters() if not name.startswith("template.")]
    opt = make_optimizer(optimizer, model.parameters(), lr)
    scheduler = make_scheduler(schedule, opt, epochs)
    out: list = [None] * len(ctxs)
    alive = list(range(len(ctxs)))
    step = 0
    budget = epochs * (len(x) // batch_size + (0 if drop_last or len(x) % batch_size == 0 else 1))
    waiting = set(alive) if loss_target is not None else set()  # members yet to reach the loss target

    def censor(i: int) -> None:
        if i in waiting:
            waiting.discard(i)
            ctxs[i].report(updates_to_loss=budget, reached_loss=0.0)

    def diverge(i: int, value: float) -> None:
        out[i] = Diverged(step, f"loss became {value} at step {step}")
        alive.remove(i)
        censor(i)

    def log_epoch(epoch: int) -> None:
        model.eval()
        train_loss, train_acc = evaluate(model, x, y)
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
        _, test_acc = evaluate(model, data.x_test, data.y_test)
        model.train()
        for i in list(alive):
            if not math.isfinite(train_loss[i]):
                diverge(i, train_loss[i])
                continue
            out[i] = {"train_loss": train_loss[i], "train_acc": train_acc[i], "val_loss": val_loss[i],
                      "val_acc": val_acc[i], "test_acc": test_acc[i]}
            ctxs[i].log(epoch, **out[i])
            if i in waiting and train_loss[i] <= loss_target:
                waiting.discard(i)
                ctxs[i].report(updates_to_loss=step, reached_loss=1.0)
        if on_epoch and alive:
            on_epoch(epoch, step, list(alive))

    log_epoch(0)
    for epoch in range(1, epochs + 1):
        orders = [batch_indices(len(x), batch_size, ctx.generator, device=x.device) for ctx in ctxs]
        for batch in zip(*orders):
            if drop_last and len(batch[0]) < batch_size:
                continue
            if k is None:  # a single model: the plain 2-D kernels and the mean loss of a lone run
                loss = nn.functional.cross_entropy(model(x[batch[0]]), y[batch[0]])
                values = [loss.item()]
            else:
                idx = torch.stack(batch)                                  # (K, B)
                losses = nn.functional.cross_entropy(model(x[idx]).transpose(1, 2), y[idx], reduction="none").mean(1)
                values = losses.tolist()
            step += 1
            for i in list(alive):
                if not math.isfinite(values[i]):
                    diverge(i, values[i])
            if not alive:
                return out
            opt.zero_grad(set_to_none=True)
            if k is None:
                loss.backward()
            else:
                (losses if len(alive) == k else losses[alive]).sum().backward()
            for p, rate in scaled:
                if p.grad is not None:
                    p.grad.mul_(rate)
            opt.step()
            for i in alive:
                ctxs[i].samples += len(batch[i])
            if on_step:
                on_step(step, list(alive))
        if scheduler is not None:
            for i in alive:
                ctxs[i].log(epoch, lr=opt.param_groups[0]["lr"])
        if epoch % eval_every == 0 or epoch == epochs:
            log_epoch(epoch)
        if not alive:
            break
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(out[0]["val_loss"])
        elif scheduler is not None:
            scheduler.step()
    for i in list(waiting):
        censor(i)
    return out
