"""A fully connected network whose activation and initialization are parameters, with optional probes.

With ``capture=True`` the forward pass keeps each layer's pre-activation (with its gradient retained) and
post-activation, which is what the gradient and saturation probes read.
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

# naive: N(0, 0.01^2), the small-random-weights recipe of the pre-2010 literature;
# large: N(0, 1), big enough to explode a deep network's signals.
INITS = ("usual", "xavier", "he", "naive", "large", "torch")


def usual_init(activation: str) -> str:
    return _USUAL[activation]


def init_linear(layer: nn.Linear, scheme: str, activation: str) -> None:
    if scheme == "usual":
        scheme = usual_init(activation)
    w = layer.weight
    if scheme == "xavier":
        nn.init.xavier_normal_(w)
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
    def __init__(self, n_in: int, width: int, depth: int, n_out: int, activation: str = "relu", init: str = "usual"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
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
        self.pre: list[torch.Tensor] = []
        self.post: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, capture: bool = False) -> torch.Tensor:
        self.pre, self.post = [], []
        h = x
        for layer in self.hidden:
            z = layer(h)
            h = self.act(z)
            if capture:
                z.retain_grad()
                self.pre.append(z)
                self.post.append(h.detach())
        return self.out(h)
