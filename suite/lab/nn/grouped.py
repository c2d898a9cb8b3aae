"""K independent MLPs trained as one: weights stacked along a leading member dimension, batched matmuls.

Small networks spend most of a CPU step on Python overhead; K members in one ``baddbmm`` per layer share it.
Each member's weights are copied from an ordinary :class:`~suite.lab.nn.mlp.MLP` built by the usual code path,
so a member starts from exactly the weights it would have alone. Batch normalization, where the MLP has it, is
computed per member over that member's own batch, with ``nn.BatchNorm1d``'s arithmetic (biased variance to
normalize, unbiased variance into the running averages, momentum and eps taken from the member's layers).
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
        self.bn = first.bn
        if self.bn != "none":
            norms = list(zip(*(m.norms for m in models)))  # per hidden layer, the K members' BatchNorm1d

            def stacked(attr):
                return [torch.stack([getattr(n, attr).detach()[None] for n in ns]) for ns in norms]  # (K, 1, W)

            self.gammas = nn.ParameterList(nn.Parameter(t) for t in stacked("weight"))
            self.betas = nn.ParameterList(nn.Parameter(t) for t in stacked("bias"))
            for i, (mean, var) in enumerate(zip(stacked("running_mean"), stacked("running_var"))):
                self.register_buffer(f"running_mean{i}", mean.clone())
                self.register_buffer(f"running_var{i}", var.clone())
            self.momentum, self.eps = first.norms[0].momentum, first.norms[0].eps
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
                if self.bn == "before":
                    h = self._norm(i, h)
                h = self.act(h)
                if self.bn == "after":
                    h = self._norm(i, h)
        return h

    def _norm(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Hidden layer i's batch normalization of h (K, B, W), each member over its own batch."""
        running_mean, running_var = getattr(self, f"running_mean{i}"), getattr(self, f"running_var{i}")
        if self.training:
            mean, var = h.mean(1, keepdim=True), h.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():
                n = h.shape[1]
                running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
        else:
            mean, var = running_mean, running_var
        return (h - mean) / torch.sqrt(var + self.eps) * self.gammas[i] + self.betas[i]

    @torch.no_grad()
    def member(self, k: int) -> MLP:
        """Member k as an ordinary MLP (a shared template whose weights are overwritten)."""
        layers = [*self.template.hidden, self.template.out]
        for layer, w, b in zip(layers, self.weights, self.biases):
            layer.weight.copy_(w[k].T)
            layer.bias.copy_(b[k, 0])
        if self.bn != "none":
            for i, norm in enumerate(self.template.norms):
                norm.weight.copy_(self.gammas[i][k, 0])
                norm.bias.copy_(self.betas[i][k, 0])
                norm.running_mean.copy_(getattr(self, f"running_mean{i}")[k, 0])
                norm.running_var.copy_(getattr(self, f"running_var{i}")[k, 0])
        return self.template


def group(models: list[MLP]) -> MLP | GroupedMLP:
    """One model for K members: the MLP itself when K = 1 (plain 2-D kernels, faster than a group of one), else
    a GroupedMLP."""
    return models[0] if len(models) == 1 else GroupedMLP(models)


def member(model: MLP | GroupedMLP, k: int) -> MLP:
    """Member k of what :func:`group` returned, as an ordinary MLP (for the single-network probes)."""
    return model.member(k) if isinstance(model, GroupedMLP) else model
