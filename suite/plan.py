"""Plan: the runs of a tier (variants x seeds x devices) as run specs, each with its content-addressed key.

A key names exactly what a run computes: the ablation, its full config (which names the dataset), the seed, the
device, the tier, the version of the code it runs, the versions of the libraries that change numbers, and the
content of its data (:mod:`suite.fingerprint`, :func:`suite.datasets.fingerprint`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Iterable

from suite import datasets, fingerprint
from suite.errors import UsageError
from suite.registry import Ablation

DEVICE_CHOICES = ("cpu", "cuda", "mps", "auto", "all")
# Every device kind a run can name: results of a tier are gathered over all of them, so a report built on a
# laptop still finds the GPU runs copied into its store.
DEVICES = tuple(d for d in DEVICE_CHOICES if d not in ("auto", "all"))


@dataclass(frozen=True)
class RunSpec:
    ablation: str
    tier: str
    config: dict
    factors: dict
    seed: int
    device: str
    code_version: str
    key: str
    versions: dict  # library -> version, of the libraries that change numbers
    data: str | None  # the content fingerprint of the run's dataset, if it reads one


def run_key(ablation: str, config: dict, seed: int, device: str, tier: str, code_version: str,
            versions: dict | None = None, data: str | None = None) -> str:
    """Content address of a run: stable across processes and dict orders. (Keys written before library versions
    and data fingerprints were part of them are those with neither.)"""
    parts = [ablation, config, seed, device, tier, code_version]
    if versions is not None or data is not None:
        parts += [versions, data]
    payload = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def available_devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_devices(choice: str) -> list[str]:
    """The devices of ``--device``: one kind, the best present ("auto") or every one present ("all")."""
    if choice not in DEVICE_CHOICES:
        raise UsageError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "cpu":  # always there: no need to import torch (a run that finds everything stored never does)
        return ["cpu"]
    present = available_devices()
    if choice == "all":
        return present
    if choice == "auto":
        return [present[-1]]
    if choice not in present:
        raise UsageError(f"device {choice!r} is not available on this machine (available: {', '.join(present)})")
    return [choice]


def plan(
    abl: Ablation,
    tier: str,
    *,
    seeds: int | None = None,
    devices: Iterable[str] = ("cpu",),
    config: dict[str, Any] | None = None,
    factors: dict[str, tuple] | None = None,
    data_dir: str | None = None,
    first_seed: int = 0,
) -> list[RunSpec]:
    """Every run of a tier, seed-major so that an interrupted plan still holds complete pairs: seeds ``first_seed``
    to ``first_seed + seeds - 1`` (a confirmation on seeds not yet used starts past the tier's). ``data_dir`` is
    where the runs will read their dataset from (default: the data cache); its content is part of every key."""
    if tier not in abl.tiers:
        raise UsageError(f"unknown tier {tier!r}; tiers: {', '.join(abl.tiers)}")
    if seeds is not None and seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {seeds}")
    t = abl.tiers[tier]
    base = {k: p.default for k, p in abl.config.items()} | dict(t.config) | dict(config or {})
    grid = abl.grid(tier) | dict(factors or {})
    names = list(grid)
    versions = fingerprint.library_versions()
    data: dict[str, str] = {}  # dataset name -> fingerprint
    specs = []
    if first_seed < 0:
        raise UsageError(f"--first-seed must be at least 0, got {first_seed}")
    for seed in range(first_seed, first_seed + (seeds if seeds is not None else t.seeds)):
        for values in itertools.product(*grid.values()):
            variant = dict(zip(names, values))
            if abl.excluded(variant):
                continue
            cfg = base | variant
            name = cfg.get("data")
            if name is not None and name not in data:
                data[name] = datasets.fingerprint(name, data_dir=data_dir)
            for device in devices:
                key = run_key(abl.name, cfg, seed, device, tier, abl.code_version, versions, data.get(name))
                specs.append(RunSpec(abl.name, tier, cfg, variant, seed, device, abl.code_version, key, versions,
                                     data.get(name)))
    return specs
