"""A fully connected network whose activation, initialization and batch-norm placement are parameters.

With ``capture=True`` the forward pass keeps each layer's pre-activation, the input of its nonlinearity (with its
gradient retained when it has one), and post-activation, the output of the nonlinearity, which is what the
gradient and saturation probes read.

Batch normalization (Ioffe & Szegedy 2015), per hidden layer: ``bn="before"`` normalizes the linear part's output
before the nonlinearity (the paper's placement), ``bn="after"`` normalizes the nonlinearity's output, i.e. the next
layer's input. With ``"after"``, ``post`` is still the nonlinearity's output, before normalization.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": nn.functional.leaky_relu,
    "elu": nn.functional.elu,
    "softplus": nn.functional.softplus,
}

# The init each activation usually gets: Glorot & Bengio (2010) for symmetric, saturating units,
# He et al. (2015) for rectifiers.
_USUAL = {"sigmoid": "xavier", "tanh": "xavier", "softplus": "xavier",
          "relu": "he", "leaky_relu": "he", "elu": "he"}

# matched: the init that gives the activation unit gain in its linear regime - Xavier scaled by 4 for the
# sigmoid, whose slope at 0 is 1/4 (the factor of the Deep Learning Tutorials' MLP, after Glorot & Bengio 2010),
# Xavier scaled by tanh's gain 5/3 (torch.nn.init.calculate_gain), He for rectifiers and softplus;
# naive: N(0, 0.01^2), the small-random-weights recipe of the pre-2010 literature;
# large: N(0, 1), big enough to explode a deep network's signals.
INITS = ("usual", "matched", "xavier", "he", "naive", "large", "torch")
_GAIN = {"sigmoid": 4.0, "tanh": 5.0 / 3.0}
BN_PLACEMENTS = ("none", "before", "after")


def usual_init(activation: str) -> str:
    return _USUAL[activation]


def init_linear(layer: nn.Linear, scheme: str, activation: str) -> None:
    if scheme == "usual":
        scheme = usual_init(activation)
    if scheme == "matched":
        scheme = "xavier" if activation in _GAIN else "he"
        gain = _GAIN.get(activation, 1.0)
    else:
        gain = 1.0
    w = layer.weight
    if scheme == "xavier":
        nn.init.xavier_normal_(w, gain=gain)
    elif scheme == "he":
        nn.init.kaiming_normal_(w, nonlinearity="leaky_relu" if activation == "leaky_relu" else "relu")
    elif scheme == "naive":
        nn.init.normal_(w, 0.0, 0.01)
    elif scheme == "large":
        nn.init.normal_(w, 0.0, 1.0)
    elif scheme == "torch":
        nn.init.kaiming_uniform_(w, a=math.sqrt(5))  # PyTorch's own default, U(-1/sqrt(n), 1/sqrt(n))
    else:
        raise ValueError(f"unknown init {scheme!r}; known: {', '.join(INITS)}")
    nn.init.zeros_(layer.bias)


class MLP(nn.Module):
    def __init__(self, n_in: int, width: int, depth: int, n_out: int, activation: str = "relu", init: str = "usual",
                 bn: str = "none"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        if bn not in BN_PLACEMENTS:
            raise ValueError(f"unknown batch-norm placement {bn!r}; known: {', '.join(BN_PLACEMENTS)}")
        self.bn = bn
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        sizes = [n_in] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], n_out)
        for layer in self.hidden:
            init_linear(layer, init, activation)
        # The output layer is linear (softmax in the loss): Xavier whatever the hidden units are, except for the
        # deliberately naive and large arms, which apply everywhere.
        init_linear(self.out, init if init in ("naive", "large", "torch") else "xavier", activation)
        # BatchNorm1d draws no random numbers, so the weights above are the same with or without it.
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in self.hidden) if bn != "none" else None
        self.pre: list[torch.Tensor] = []
        self.post: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, capture: bool = False) -> torch.Tensor:
        self.pre, self.post = [], []
        h = x
        for i, layer in enumerate(self.hidden):
            z = layer(h)
            if self.bn == "before":
                z = self.norms[i](z)
            h = self.act(z)
            if capture:
                if z.requires_grad:  # not under torch.no_grad()
                    z.retain_grad()
                self.pre.append(z)
                self.post.append(h.detach())
            if self.bn == "after":
                h = self.norms[i](h)
        return self.out(h)
