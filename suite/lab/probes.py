"""Probes: what a network does inside, on a fixed probe batch.

- Per-layer statistics of an MLP: gradient norms, activation variance, saturation, dead units. Layers are numbered
  from 1 (closest to the input) to depth (the last hidden layer).
- The gradient of a sequence model's loss with respect to each input step (how far back the gradient reaches).

Their names and meanings, for figures, are in :mod:`suite.lab.names` (``LAYER_PROBES``, ``INPUT_GRADIENT_PROBES``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# A sigmoid unit is saturated near 0 or 1, a tanh unit near -1 or 1 (Glorot & Bengio 2010 look at the same).
SATURATION = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}


def layer_stats(model, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """One forward/backward pass on (x, y); returns rows {layer, stat, value}. Leaves no gradients behind."""
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x, capture=True), y)
    loss.backward()
    rows = []
    for i, (z, h, layer) in enumerate(zip(model.pre, model.post, model.hidden), start=1):
        # Norms are per example so that they do not grow with the probe batch size.
        rows.append({"layer": i, "stat": "grad_preact_norm", "value": z.grad.norm().item() * math.sqrt(len(x))})
        rows.append({"layer": i, "stat": "grad_weight_norm", "value": layer.weight.grad.norm().item()})
        rows.append({"layer": i, "stat": "activation_var", "value": h.var().item()})
        if model.activation in SATURATION:
            lo, hi = SATURATION[model.activation]
            rows.append({"layer": i, "stat": "saturated_frac", "value": ((h <= lo) | (h >= hi)).float().mean().item()})
        if model.activation == "relu":
            rows.append({"layer": i, "stat": "dead_frac", "value": (h.amax(0) <= 0).float().mean().item()})
    model.zero_grad(set_to_none=True)
    model.pre, model.post = [], []
    return rows


def ratio_log10(rows: list[dict], stat: str) -> float:
    """log10 of the first hidden layer's value over the last one's: below 0 means it shrinks toward the input."""
    by_layer = {r["layer"]: r["value"] for r in rows if r["stat"] == stat}
    first, last = by_layer[min(by_layer)], by_layer[max(by_layer)]
    if first <= 0 or last <= 0 or not (math.isfinite(first) and math.isfinite(last)):
        return -math.inf if first == 0 and last > 0 else math.nan
    return math.log10(first / last)


def mean_stat(rows: list[dict], stat: str) -> float:
    values = [r["value"] for r in rows if r["stat"] == stat]
    return sum(values) / len(values) if values else math.nan


def input_gradient_rows(model: nn.Module, task, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
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
