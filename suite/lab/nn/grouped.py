"""K independent MLPs trained as one: weights stacked along a leading member dimension, batched matmuls.

Small networks spend most of a CPU step on Python overhead; K members in one ``baddbmm`` per layer share it.
Each member's weights are copied from an ordinary :class:`~suite.lab.nn.mlp.MLP` built by the usual code path,
so a member starts from exactly the weights it would have alone.
"""

from __future__ import annotations

import torch
from torch import nn

from suite.lab.nn.mlp import MLP


class GroupedMLP(nn.Module):
    def __init__(self, models: list[MLP]):
        super().__init__()
        first = models[0]
        self.activation, self.act = first.activation, first.act
        layers = [*zip(*(m.hidden for m in models)), tuple(m.out for m in models)]
        # (K, in, out) so that x (K, B, in) @ w gives (K, B, out); biases (K, 1, out) broadcast over the batch.
        self.weights = nn.ParameterList(nn.Parameter(torch.stack([l.weight.detach().T for l in ls])) for ls in layers)
        self.biases = nn.ParameterList(nn.Parameter(torch.stack([l.bias.detach()[None] for l in ls])) for ls in layers)
        self.template = first  # reused to look at one member with the single-network probes

    @property
    def k(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, in), or (B, in) shared by every member; returns logits (K, B, classes)."""
        if x.dim() == 2:
            x = x.expand(self.k, *x.shape)
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self.act(h)
        return h

    @torch.no_grad()
    def member(self, k: int) -> MLP:
        """Member k as an ordinary MLP (a shared template whose weights are overwritten)."""
        layers = [*self.template.hidden, self.template.out]
        for layer, w, b in zip(layers, self.weights, self.biases):
            layer.weight.copy_(w[k].T)
            layer.bias.copy_(b[k, 0])
        return self.template


def group(models: list[MLP]) -> MLP | GroupedMLP:
    """One model for K members: the MLP itself when K = 1 (plain 2-D kernels, faster than a group of one), else
    a GroupedMLP."""
    return models[0] if len(models) == 1 else GroupedMLP(models)


def member(model: MLP | GroupedMLP, k: int) -> MLP:
    """Member k of what :func:`group` returned, as an ordinary MLP (for the single-network probes)."""
    return model.member(k) if isinstance(model, GroupedMLP) else model
