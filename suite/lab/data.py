"""Datasets as tensors on a run's device, and the minibatch order of an epoch.

The splits come from :mod:`suite.datasets` (fixed, standardized, never dependent on a run's seed); here they
become tensors of torch's default floating-point dtype (float32 unless a test asks for float64).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from suite import datasets
from suite.errors import DataError


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == is not a bool
class Dataset:
    name: str
    x_train: torch.Tensor  # (n, features), flattened and standardized, torch's default float dtype
    y_train: torch.Tensor  # int64 class labels
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    shape: tuple[int, ...]  # one example's original shape, e.g. (8, 8)
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def subset_train(self, n: int) -> Dataset:
        """The first n training examples (the split is already shuffled, so this is a
        fixed random sample); validation and test are unchanged, and so is the
        standardization, which was fitted on the full training split."""
        if n < 1:
            raise DataError(f"subset_train needs n >= 1, got {n}; ask for at least one training example")
        if n >= len(self.y_train):
            return self
        return dataclasses.replace(self, x_train=self.x_train[:n], y_train=self.y_train[:n])


def dataset(name: str, data_dir: str | Path | None = None, device: str | torch.device = "cpu") -> Dataset:
    """The named dataset's splits as tensors on ``device``, loaded once per process (per device and dtype)."""
    return _tensors(name, None if data_dir is None else str(data_dir), str(torch.device(device)),
                    torch.get_default_dtype())


def dataset_for(ctx) -> Dataset:
    """The dataset a run's config names (``cfg.data``), on the run's device."""
    return dataset(ctx.cfg["data"], ctx.data_dir, ctx.device)


@functools.lru_cache(maxsize=None)
def _tensors(name: str, data_dir: str | None, device: str, dtype: torch.dtype) -> Dataset:
    s = datasets.load(name, data_dir=data_dir)
    x = {k: torch.from_numpy(getattr(s, k)).to(device=device, dtype=dtype) for k in ("x_train", "x_val", "x_test")}
    y = {k: torch.from_numpy(getattr(s, k)).to(device) for k in ("y_train", "y_val", "y_test")}
    return Dataset(s.name, shape=s.shape, n_classes=s.n_classes, **x, **y)


def batch_indices(n: int, batch_size: int, generator: torch.Generator, device=None) -> list[torch.Tensor]:
    """One epoch of minibatches: a permutation of 0..n-1 drawn from `generator`, split
    into index tensors of `batch_size` (the last may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    # Draw on the generator's own device (randperm requires it), then move.
    perm = torch.randperm(n, generator=generator, device=generator.device)
    if device is not None:
        perm = perm.to(device)
    return list(perm.split(batch_size)) if n > 0 else []  # split() of an empty tensor yields one empty batch
