"""The contract between the engine and the code that trains: what a train function receives for each run (a
:class:`RunContext`) and what it returns for each (its metrics, or :class:`Diverged`)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import torch


def derive_seed(ablation: str, seed: int) -> int:
    """The torch seed of (ablation, seed): the same for every variant, so seeds pair runs across variants."""
    return int.from_bytes(hashlib.sha256(f"{ablation}/{seed}".encode()).digest()[:4], "little")


class Config(Mapping):
    """A read-only config that also allows ``cfg.lr``."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}; keys: {', '.join(self._values)}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({dict(self._values)})"


@dataclass(frozen=True)
class Diverged:
    """The outcome of a run whose loss (or gradient) stopped being finite: stored as diverged, at ``step``.
    A training loop returns it for that member and goes on with the others; it never raises for one member."""

    step: int
    reason: str  # e.g. "loss became nan at step 152"


@dataclass
class RunContext:
    ablation: str
    tier: str
    cfg: Config
    seed: int
    device: torch.device
    data_dir: str | None = None
    curves: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    samples: int = 0  # training examples processed, for throughput

    def __post_init__(self):
        self.torch_seed = derive_seed(self.ablation, self.seed)
        self.reseed()
        # Data order comes from its own generator so that model code drawing random numbers cannot shift it.
        self.generator = torch.Generator().manual_seed(self.torch_seed)
        # The run's own numpy generator, for code that draws with numpy: the same draws for every variant.
        self.rng = np.random.default_rng(self.torch_seed)

    def reseed(self) -> None:
        """Seed the global generators of torch, numpy and Python's ``random`` for this run (a grouped path calls it
        before building each member's model, so that every member starts from the same weights as when it runs
        alone), so that a run draws the same numbers in every variant and in every process."""
        torch.manual_seed(self.torch_seed)
        np.random.seed(self.torch_seed)
        random.seed(self.torch_seed)

    def log(self, epoch: int, **metrics: float) -> None:
        """Record one point of the per-epoch curves."""
        self.curves += [{"epoch": epoch, "metric": k, "value": float(v)} for k, v in metrics.items()]

    def report(self, **metrics: float) -> None:
        """Record final metrics as soon as they are known: those reported before a divergence are kept."""
        self.metrics.update({k: float(v) for k, v in metrics.items()})

    def probe(self, rows: list[dict], **where: Any) -> None:
        """Record probe rows (dicts with layer, stat, value), tagged with e.g. step and epoch."""
        self.probes += [{**where, **r} for r in rows]
