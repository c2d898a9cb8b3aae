"""Greedy layer-wise unsupervised pretraining: denoising autoencoders and RBMs trained by contrastive divergence.

Each hidden layer of an :class:`~suite.lab.nn.mlp.MLP` is trained in turn, bottom up, on the codes the layers below
produce for the unlabelled inputs, and its weights and bias are written into the network for supervised
fine-tuning (Hinton et al. 2006; Bengio et al. 2007; Vincent et al. 2008).

- Denoising autoencoder (Vincent et al. 2008, 2010): encoder ``act(W x~ + b)`` on an input ``x~`` with a fraction of
  its components masked to 0 (0 is the mean of standardized inputs), tied decoder ``W^T h + c``, trained to
  reconstruct the clean ``x``: in squared error for real-valued inputs, and through a sigmoid in cross-entropy for
  inputs in [0, 1] (the codes of sigmoid layers), as Vincent et al. do.
- RBM (Hinton 2002, 2006): one step of contrastive divergence (CD-1). The first layer's visible units are Gaussian
  with unit variance (the inputs are standardized); above it they are the units of the layer below. Hidden units
  are binary for sigmoid networks (Hinton 2006) and noisy rectified linear units for ReLU networks (Nair & Hinton
  2010). A tanh network gets the sigmoid RBM stack mapped exactly onto tanh units, since
  2 sigmoid(a) - 1 = tanh(a / 2).
"""

from __future__ import annotations

import torch
from torch import nn

from suite.lab.data import batch_indices
from suite.lab.nn.mlp import ACTIVATIONS, MLP
from suite.lab.optim import make_optimizer


class DenoisingAutoencoder(nn.Module):
    """One layer's autoencoder, with the encoder a given ``nn.Linear`` (trained in place) and a tied decoder."""

    def __init__(self, encoder: nn.Linear, activation: str, noise: float = 0.25, unit_inputs: bool = False):
        super().__init__()
        self.encoder, self.act, self.noise = encoder, ACTIVATIONS[activation], noise
        self.unit_inputs = unit_inputs  # inputs in [0, 1]: sigmoid decoder and cross-entropy
        self.decoder_bias = nn.Parameter(torch.zeros(encoder.in_features, device=encoder.weight.device))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.encoder(x))

    def decoder_logits(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(self.encode(x), self.encoder.weight.t(), self.decoder_bias)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        out = self.decoder_logits(x)
        return torch.sigmoid(out) if self.unit_inputs else out

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.rand_like(x) >= self.noise)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss per example of clean ``x`` from its corrupted copy."""
        out = self.decoder_logits(self.corrupt(x))
        if self.unit_inputs:
            return nn.functional.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1).mean()
        return (out - x).pow(2).sum(1).mean()

    @torch.no_grad()
    def reconstruction_error(self, x: torch.Tensor) -> float:
        """Squared error per example of reconstructing clean ``x`` from itself."""
        return (self.reconstruct(x) - x).pow(2).sum(1).mean().item()


# Unit types: the mean of a unit given its total input, and a sample.
def _nrelu_sample(a: torch.Tensor) -> torch.Tensor:
    # Nair & Hinton's noisy rectified unit: max(0, a + N(0, sigmoid(a))).
    return torch.relu(a + torch.randn_like(a) * torch.sigmoid(a).sqrt())


UNITS = {
    "binary": (torch.sigmoid, lambda a: torch.bernoulli(torch.sigmoid(a))),
    "gaussian": (lambda a: a, lambda a: a + torch.randn_like(a)),
    "nrelu": (torch.relu, _nrelu_sample),
}


class RBM:
    """A restricted Boltzmann machine with weights ``W`` (hidden x visible) and biases, trained by CD-1."""

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "binary", hidden: str = "binary",
                 std: float = 0.01, device=None):
        self.W = torch.randn(n_hidden, n_visible, device=device) * std  # Hinton's guide: N(0, 0.01^2)
        self.b_visible = torch.zeros(n_visible, device=device)
        self.b_hidden = torch.zeros(n_hidden, device=device)
        self.visible, self.hidden = UNITS[visible], UNITS[hidden]

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        return self.hidden[0](v @ self.W.t() + self.b_hidden)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        return self.visible[0](h @ self.W + self.b_visible)

    def cd1_gradients(self, v0: torch.Tensor) -> list[torch.Tensor]:
        """Minus the CD-1 estimate of the log-likelihood gradient for (W, b_visible, b_hidden).

        Positive phase on the data, one Gibbs step from a sampled hidden state, negative phase on the mean-field
        reconstruction (Hinton's practical guide: sample the hidden states driven by data, use probabilities
        elsewhere).
        """
        a0 = v0 @ self.W.t() + self.b_hidden
        h0, h0_sample = self.hidden[0](a0), self.hidden[1](a0)
        v1 = self.visible_mean(h0_sample)
        h1 = self.hidden_mean(v1)
        n = len(v0)
        return [-(h0.t() @ v0 - h1.t() @ v1) / n, -(v0 - v1).mean(0), -(h0 - h1).mean(0)]

    def params(self) -> list[torch.Tensor]:
        return [self.W, self.b_visible, self.b_hidden]

    @torch.no_grad()
    def reconstruction_error(self, v: torch.Tensor) -> float:
        """Squared error per example of the mean-field reconstruction v -> h -> v (a proxy; CD does not minimize it)."""
        return (self.visible_mean(self.hidden_mean(v)) - v).pow(2).sum(1).mean().item()


def train_dae(dae: DenoisingAutoencoder, x: torch.Tensor, *, epochs: int, lr: float, batch_size: int,
              generator: torch.Generator, optimizer: str = "adam") -> None:
    opt = make_optimizer(optimizer, dae.parameters(), lr)
    for _ in range(epochs):
        for idx in batch_indices(len(x), batch_size, generator, device=x.device):
            opt.zero_grad(set_to_none=True)
            dae.loss(x[idx]).backward()
            opt.step()


@torch.no_grad()
def train_rbm(rbm: RBM, x: torch.Tensor, *, epochs: int, lr: float, batch_size: int, generator: torch.Generator,
              optimizer: str = "momentum") -> None:
    """CD-1 with one of suite.lab.optim's optimizers fed the CD gradient estimate (Hinton's guide: SGD with momentum)."""
    params = [p.requires_grad_(False) for p in rbm.params()]
    opt = make_optimizer(optimizer, params, lr)
    for _ in range(epochs):
        for idx in batch_indices(len(x), batch_size, generator, device=x.device):
            for p, g in zip(params, rbm.cd1_gradients(x[idx])):
                p.grad = g
            opt.step()


def _load_layer(layer: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)


def pretrain(model: MLP, x: torch.Tensor, method: str, *, epochs: int, lr: float, batch_size: int,
             generator: torch.Generator, noise: float = 0.25) -> list[dict]:
    """Greedy layer-wise pretraining of ``model``'s hidden layers on unlabelled ``x``, in place.

    ``method`` is "dae" or "rbm". Returns one row per layer with its reconstruction error before and after
    training, measured on the clean codes of the layer below.
    """
    if method not in ("dae", "rbm"):
        raise ValueError(f"unknown pretraining method {method!r}; known: dae, rbm")
    rows = []
    codes = x
    if method == "dae":
        for i, layer in enumerate(model.hidden, start=1):
            dae = DenoisingAutoencoder(layer, model.activation, noise, unit_inputs=i > 1 and model.activation == "sigmoid")
            before = dae.reconstruction_error(codes)
            train_dae(dae, codes, epochs=epochs, lr=lr, batch_size=batch_size, generator=generator)
            rows.append({"layer": i, "before": before, "after": dae.reconstruction_error(codes)})
            with torch.no_grad():
                codes = dae.encode(codes)
        return rows

    # RBMs: the sigmoid stack (or noisy-ReLU stack) is trained first, then mapped onto the network's units.
    hidden = "nrelu" if model.activation == "relu" else "binary"
    if model.activation not in ("sigmoid", "tanh", "relu"):
        raise ValueError(f"RBM pretraining is defined for sigmoid, tanh and relu networks, not {model.activation}")
    visible = "gaussian"
    for i, layer in enumerate(model.hidden, start=1):
        rbm = RBM(layer.in_features, layer.out_features, visible, hidden, device=x.device)
        before = rbm.reconstruction_error(codes)
        # Gaussian visible units need a smaller step than binary ones (Hinton's practical guide, section 13.2).
        train_rbm(rbm, codes, epochs=epochs, lr=lr / 10 if visible == "gaussian" else lr, batch_size=batch_size,
                  generator=generator)
        rows.append({"layer": i, "before": before, "after": rbm.reconstruction_error(codes)})
        weight, bias = rbm.W, rbm.b_hidden
        if model.activation == "tanh":
            # tanh layer i must output 2 s_i - 1 where s_i = sigmoid(W s_{i-1} + b) and its input is 2 s_{i-1} - 1
            # (the raw input for i = 1): pre-activation (W s_{i-1} + b) / 2.
            if i == 1:
                weight, bias = weight / 2, bias / 2
            else:
                weight, bias = weight / 4, bias / 2 + weight.sum(1) / 4
        _load_layer(layer, weight, bias)
        with torch.no_grad():
            codes = rbm.hidden_mean(codes)
        visible = hidden
    return rows
