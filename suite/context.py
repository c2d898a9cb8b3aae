"""What a train function receives: its config, seed, device, data, and where to log curves and probes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

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
    diverged: tuple[int, str] | None = None  # (step, reason) once the loss stops being finite
    samples: int = 0  # training examples processed, for throughput
    _data: Any = None

    def __post_init__(self):
        self.torch_seed = derive_seed(self.ablation, self.seed)
        self.reseed()
        # Data order comes from its own generator so that model code drawing random numbers cannot shift it.
        self.generator = torch.Generator().manual_seed(self.torch_seed)

    def reseed(self) -> None:
        """Seed torch's global generator for this run (a batched path calls it before building each seed's model,
        so that every seed starts from the same weights as when it runs alone)."""
        torch.manual_seed(self.torch_seed)

    @property
    def data(self):
        """The config's dataset, loaded once per process and moved to the run's device."""
        if self._data is None:
            from suite.data import load

            self._data = load(self.cfg["data"], data_dir=self.data_dir).to(self.device)
        return self._data

    def log(self, epoch: int, **metrics: float) -> None:
        """Record one point of the per-epoch curves."""
        self.curves += [{"epoch": epoch, "metric": k, "value": float(v)} for k, v in metrics.items()]

    def report(self, **metrics: float) -> None:
        """Record final metrics as soon as they are known: those reported before a divergence are kept."""
        self.metrics.update({k: float(v) for k, v in metrics.items()})

    def probe(self, rows: list[dict], **where: Any) -> None:
        """Record probe rows (dicts with layer, stat, value), tagged with e.g. step and epoch."""
        self.probes += [{**where, **r} for r in rows]
