"""Results: the one place that turns a plan and a store into judged results.

``run``, ``show``, ``check`` and ``report`` all read their verdicts, summaries and unfinished runs from a
:class:`Result`; the command line and the report only render it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from suite import tables, verdicts
from suite.plan import DEVICES, RunSpec, plan
from suite.registry import TIERS, Ablation
from suite.store import Store


@dataclass
class Result:
    """The stored runs of one plan of one ablation's tier, judged."""

    abl: Ablation
    tier: str
    records: list[dict]
    judgement: verdicts.Judgement
    planned: int  # runs of the plan on the devices that ran
    sequential: str | None = None  # how seeds were added until decided ("sequential rule: ..."), if they were

    # The tidy tables, built once for the figures and the export alike.
    @cached_property
    def metrics(self) -> pd.DataFrame:
        return tables.metrics(self.records, declared=list(self.abl.metrics))

    @cached_property
    def curves(self) -> pd.DataFrame:
        return tables.curves(self.records)

    @cached_property
    def probes(self) -> pd.DataFrame:
        return tables.probes(self.records)

    @property
    def devices(self) -> list[str]:
        return sorted({r["device"] for r in self.records})

    @property
    def seeds(self) -> int:
        return len({r["seed"] for r in self.records})

    @property
    def unfinished(self) -> pd.DataFrame:
        return unfinished(self.abl, self.judgement.runs)


def collect(abl: Ablation, specs: list[RunSpec], store: Store, sequential: dict | None = None) -> Result:
    """The stored records of ``specs`` (one tier's plan), judged; with ``sequential`` (the stop record of
    ``run --until-decided``) by the sequential rule."""
    records = list(store.records(abl.name, keys=[s.key for s in specs]))
    ran = {r["device"] for r in records}
    tier = specs[0].tier if specs else ""
    rule = "sequential" if sequential else "fixed"
    note = (f"sequential rule: {sequential['seeds']} seeds, {sequential['stopped']}" if sequential else None)
    # The sequential rule tunes on the first round - the tier's seeds - only (see verdicts.judge).
    tune_seeds = abl.tiers[tier].seeds if sequential and tier in abl.tiers else None
    return Result(abl, tier, records, verdicts.judge(abl, records, rule, tune_seeds),
                  sum(s.device in ran for s in specs), note)


def stored(abl: Ablation, store: Store, tiers=None, data_dir: str | None = None) -> dict[str, Result]:
    """The stored records of each tier's default plan (on any device, with the data in ``data_dir``, default the
    data cache), judged; tiers without records are left out. A tier whose seeds were added until decided
    (``run --until-decided``) is judged at its stopping seed count by the sequential rule."""
    out = {}
    for tier in tiers or TIERS:
        stop = store.read_sequential(abl.name, tier, abl.plan_version(tier))
        specs = plan(abl, tier, seeds=stop["seeds"] if stop else None, devices=DEVICES, data_dir=data_dir)
        result = collect(abl, specs, store, stop)
        if result.records:
            out[tier] = result
    return out


def unfinished(abl: Ablation, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (device, variant) with diverged or failed runs: seeds, and how many of them did not finish."""
    if runs.empty or (runs["status"] == "ok").all():
        return pd.DataFrame()
    factors = [f for f in abl.factors if f in runs.columns]
    counts = pd.crosstab([runs["device"], *(runs[f] for f in factors)], runs["status"])
    counts = counts.reindex(columns=["ok", "diverged", "failed"], fill_value=0)
    counts.insert(0, "seeds", counts.sum(axis=1))
    return counts[(counts["diverged"] > 0) | (counts["failed"] > 0)].drop(columns="ok").reset_index()


ENV_KEYS = ("device_name", "python", "torch", "numpy", "cuda", "platform", "threads", "deterministic_algorithms",
            "git_commit")


def environments(records: list[dict]) -> pd.DataFrame:
    """Distinct run environments and how many runs each did."""
    rows = [{"ablation": r["ablation"], "device": r["device"], **{k: r.get("env", {}).get(k) for k in ENV_KEYS}}
            for r in records]
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).astype(object).fillna("-").astype(str)
    keys = ["device", *ENV_KEYS]
    out = df.groupby(keys, sort=True, dropna=False).agg(runs=("ablation", "size"),
                                         ablations=("ablation", lambda s: ", ".join(sorted(set(s)))))
    return out.reset_index()


def finished_range(records: list[dict]) -> tuple[str, str] | None:
    stamps = sorted(r["finished_at"] for r in records if r.get("finished_at"))
    return (stamps[0], stamps[-1]) if stamps else None
