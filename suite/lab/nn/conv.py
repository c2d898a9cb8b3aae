"""Convolutional networks for 1-D sequences and 2-D images: the pieces of the book's chapter 5.

A :class:`ConvNet` reads the flat, standardized rows of :class:`~suite.lab.data.Dataset` (B, features) as one
input channel of the example's original shape ((B, 1, L) for MNIST-1D's 40 steps, (B, 1, H, W) for images), runs
a body of the blocks below and ends in a head: global average pooling then a linear layer ("gap"), or flattening
then a linear layer ("flatten", which keeps where each feature was). Every piece takes ``dims`` (1 or 2):

- :func:`conv_unit`: convolution (kernel size, stride, "same" padding for odd kernels), optional batch norm, ReLU;
  a 1x1 convolution is ``kernel=1``.
- :func:`conv_stack`: n such units of one kernel size (VGG's stacks of 3x3, Simonyan & Zisserman 2015), or with
  ``factorized=True`` each n x n unit replaced by a 1 x n unit then an n x 1 unit (Szegedy et al. 2016, Inception
  v3, section 3.2).
- :func:`pool`: max or average pooling; :class:`Block`: a plain block of two 3x3 units, or the same with a
  residual shortcut (He et al. 2016: identity, or a 1x1 projection where the shape changes) or a highway gate
  (Srivastava et al. 2015: ``T * H(x) + (1 - T) * x`` with the transform gate ``T`` a sigmoid convolution whose
  bias starts negative, so that blocks carry their input at first).

Weights: He et al. (2015) normal init for every convolution (they feed ReLUs), zero biases, batch norm at scale 1
and shift 0, a Xavier-normal head. Training goes through :func:`suite.lab.loop.fit` like any single model: members
are trained one at a time (see the module :mod:`suite.lab.nn.grouped` for the MLPs' grouped path, which CNNs do
not have: on CPU, grouping small CNNs measured slower than one after another).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from suite.lab.nn.mlp import init_linear
from suite.lab.nn.recurrent import n_params  # noqa: F401 (the lab's one parameter count, for CNNs too)

HEADS = ("gap", "flatten")
BLOCKS = ("plain", "residual", "highway")
POOLS = ("max", "avg")
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}


def _dims(dims: int) -> int:
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 (sequences) or 2 (images), got {dims}")
    return dims


def conv_unit(c_in: int, c_out: int, kernel: int | tuple[int, ...], dims: int = 2, *, stride: int = 1,
              bn: bool = False, act: bool = True) -> nn.Sequential:
    """Convolution of ``kernel`` (odd sizes, padded to keep the size at stride 1; a tuple for a 1 x n or n x 1
    kernel), then batch norm (``bn``) and ReLU (``act``). Input (B, c_in, *size) -> (B, c_out, *size / stride)."""
    conv_cls = _CONV[_dims(dims)]
    kernel = (kernel,) * dims if isinstance(kernel, int) else tuple(kernel)
    if len(kernel) != dims or any(k < 1 or k % 2 == 0 for k in kernel):
        raise ValueError(f"kernel {kernel}: need {dims} odd size(s) >= 1")
    conv = conv_cls(c_in, c_out, kernel, stride=stride, padding=tuple(k // 2 for k in kernel), bias=not bn)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    layers: list[nn.Module] = [conv]
    if bn:
        layers.append(_NORM[dims](c_out))
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv_stack(c_in: int, c_out: int, kernel: int, layers: int, dims: int = 2, *, bn: bool = False,
               factorized: bool = False) -> nn.Sequential:
    """``layers`` units of a ``kernel`` x ``kernel`` convolution (the first maps c_in to c_out channels); with
    ``factorized`` each becomes a 1 x kernel unit then a kernel x 1 unit (2-D only). The receptive field is
    ``layers * (kernel - 1) + 1`` (:func:`receptive_field`)."""
    if layers < 1:
        raise ValueError(f"a stack needs at least one layer, got {layers}")
    if factorized and dims != 2:
        raise ValueError("factorized kernels (1 x n then n x 1) need 2-D inputs")
    units: list[nn.Module] = []
    for i in range(layers):
        c = c_in if i == 0 else c_out
        if factorized:
            units += [conv_unit(c, c_out, (1, kernel), dims, bn=bn), conv_unit(c_out, c_out, (kernel, 1), dims, bn=bn)]
        else:
            units.append(conv_unit(c, c_out, kernel, dims, bn=bn))
    return nn.Sequential(*units)


def receptive_field(kernel: int, layers: int) -> int:
    """Side of the receptive field of ``layers`` stacked stride-1 convolutions of size ``kernel`` (3 x 3 three
    times: 7, as one 7 x 7; Simonyan & Zisserman 2015, section 2.3)."""
    return layers * (kernel - 1) + 1


def pool(kind: str, size: int = 2, dims: int = 2) -> nn.Module:
    """Max or average pooling over windows of ``size`` with stride ``size`` (sizes shrink by that factor)."""
    if kind not in POOLS:
        raise ValueError(f"unknown pooling {kind!r}; known: {', '.join(POOLS)}")
    return _POOL[kind, _dims(dims)](size)


class Block(nn.Module):
    """Two 3 x 3 convolution units, with batch norm (``bn``), joined to the input by ``kind``:

    - "plain": ``relu(F(x))``, F = conv-BN-ReLU-conv-BN;
    - "residual": ``relu(F(x) + S(x))``, S the identity, or a strided 1x1 convolution with batch norm where the
      channels or the size change (He et al. 2016, shortcut option B), or always with ``projection=True``;
    - "highway": ``T(x) * relu(F(x)) + (1 - T(x)) * x`` with the transform gate T = sigmoid of a 3x3 convolution
      whose bias starts at ``carry_bias`` (Srivastava et al. 2015 suggest -1 to -3); input and output shapes equal.

    Input (B, c_in, *size) -> (B, c_out, *size / stride).
    """

    def __init__(self, c_in: int, c_out: int, kind: str = "plain", dims: int = 2, *, stride: int = 1,
                 bn: bool = True, projection: bool = False, carry_bias: float = -1.0):
        super().__init__()
        if kind not in BLOCKS:
            raise ValueError(f"unknown block {kind!r}; known: {', '.join(BLOCKS)}")
        self.kind = kind
        self.body = nn.Sequential(conv_unit(c_in, c_out, 3, dims, stride=stride, bn=bn),
                                  conv_unit(c_out, c_out, 3, dims, bn=bn, act=False))
        self.shortcut: nn.Module | None = None
        self.transform: nn.Module | None = None
        if kind == "residual" and (projection or stride != 1 or c_in != c_out):
            self.shortcut = conv_unit(c_in, c_out, 1, dims, stride=stride, bn=bn, act=False)
        if kind == "highway":
            if stride != 1 or c_in != c_out:
                raise ValueError("a highway block carries its input: it needs c_in == c_out and stride 1")
            gate = _CONV[dims](c_in, c_out, 3, padding=1)
            nn.init.kaiming_normal_(gate.weight, nonlinearity="sigmoid")
            nn.init.constant_(gate.bias, carry_bias)
            self.transform = gate
        self.gate: torch.Tensor | None = None  # the transform gate of the last eval-mode pass (highway)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(x)
        if self.kind == "plain":
            return torch.relu(f)
        if self.kind == "residual":
            return torch.relu(f + (x if self.shortcut is None else self.shortcut(x)))
        t = torch.sigmoid(self.transform(x))
        if not self.training:  # kept for probes of a trained network; training passes keep nothing alive
            self.gate = t.detach()
        return t * torch.relu(f) + (1 - t) * x


class ConvNet(nn.Module):
    """``body`` between the input's reshaping and a head. ``shape``: one example's shape ((L,) or (H, W)); the
    input is (B, prod(shape)) flat rows, or already (B, 1, *shape). Output: logits (B, n_classes).
    ``channels_last``: the memory layout of 2-D maps; None: channels_last for 2-D inputs, which measured 1.07-1.22x
    faster at the digits CNNs' shapes on CPU and 0.91-1.04x at 28x28 with batch 128 (``python -m suite bench``,
    "small CNN step (digits)" and "small CNN step")."""

    def __init__(self, shape: Sequence[int], body: nn.Module, n_classes: int, head: str = "gap",
                 channels_last: bool | None = None):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; known: {', '.join(HEADS)}")
        self.shape, self.head = tuple(shape), head
        _dims(len(self.shape))
        self.body = body
        with torch.no_grad():  # the body's output shape, from a dry pass in eval mode (batch norm left as it is)
            was = body.training
            body.eval()
            out = body(torch.zeros(1, 1, *self.shape))
            body.train(was)
        features = out.shape[1] if head == "gap" else out[0].numel()
        self.out = nn.Linear(features, n_classes)
        init_linear(self.out, "xavier", "relu")
        self.channels_last = len(self.shape) == 2 if channels_last is None else channels_last
        if self.channels_last and len(self.shape) != 2:
            raise ValueError("channels_last is a layout of 2-D maps")
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.reshape(len(x), 1, *self.shape)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.body(x)
        h = h.flatten(2).mean(2) if self.head == "gap" else h.flatten(1)
        return self.out(h)


def conv_weights(model: nn.Module) -> list[int]:
    """Weights of each convolution, in order (biases aside): c_out * c_in * prod(kernel)."""
    return [m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]


def shift(x: torch.Tensor, shape: Sequence[int], offset: Sequence[int]) -> torch.Tensor:
    """Flat rows (B, prod(shape)) with each example translated by ``offset`` positions along each axis (positive:
    right/down), the uncovered positions filled with 0 - the training mean of standardized inputs, i.e. an
    average pixel. Returns flat rows of the same shape."""
    shape, offset = tuple(shape), tuple(offset)
    if len(offset) != len(shape):
        raise ValueError(f"offset {offset} for examples of shape {shape}")
    img = x.view(len(x), *shape)
    out = torch.zeros_like(img)
    src, dst = [slice(None)], [slice(None)]
    for d, n in zip(offset, shape):
        if abs(d) >= n:
            return out.view(len(x), -1)
        src.append(slice(max(0, -d), n - max(0, d)))
        dst.append(slice(max(0, d), n - max(0, -d)))
    out[tuple(dst)] = img[tuple(src)]
    return out.view(len(x), -1)
