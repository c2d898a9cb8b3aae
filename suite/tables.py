"""Stored records as tidy pandas DataFrames: one row per run, per (run, metric), per (run, epoch, metric)."""

from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

RUN_COLUMNS = ["key", "ablation", "tier", "seed", "device", "status", "code_version"]


def _run_row(record: dict) -> dict:
    timing = record.get("timing", {})
    return {**{c: record.get(c) for c in RUN_COLUMNS}, **record.get("factors", {}),
            "diverged_step": record.get("diverged_step"), "error": record.get("error"),
            "wall_s": timing.get("wall_s"), "train_s": timing.get("train_s"),
            "samples_per_s": timing.get("samples_per_s"), "device_name": record.get("env", {}).get("device_name")}


def runs(records: Iterable[dict]) -> pd.DataFrame:
    return pd.DataFrame([_run_row(r) for r in records])


def _ident(record: dict) -> dict:
    return {**{c: record.get(c) for c in RUN_COLUMNS}, **record.get("factors", {})}


def metrics(records: Iterable[dict], declared: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (run, metric). A run that did not finish gets NaN for each declared metric, so that
    summaries count it as excluded instead of silently losing it."""
    rows = []
    for r in records:
        ident = _ident(r)
        values = dict(r.get("metrics", {}))
        if r.get("status") != "ok":
            values = {m: float("nan") for m in declared} | values
        rows += [{**ident, "metric": m, "value": v} for m, v in values.items()]
    return pd.DataFrame(rows, columns=None if rows else [*RUN_COLUMNS, "metric", "value"])


def _long(records: Iterable[dict], field: str, columns: list[str]) -> pd.DataFrame:
    """Concatenate each record's column-oriented ``field`` with the run's identity repeated on every row."""
    frames = [pd.DataFrame(r[field]).assign(**_ident(r)) for r in records if r.get(field)]
    if not frames:
        return pd.DataFrame(columns=[*RUN_COLUMNS, *columns])
    df = pd.concat(frames, ignore_index=True)
    return df[[c for c in df.columns if c not in columns] + [c for c in columns if c in df.columns]]


def curves(records: Iterable[dict]) -> pd.DataFrame:
    """Long-form learning curves: one row per (run, epoch, metric)."""
    return _long(records, "curves", ["epoch", "metric", "value"])


def probes(records: Iterable[dict]) -> pd.DataFrame:
    """Long-form probe statistics: one row per (run, step, layer, stat)."""
    return _long(records, "probes", ["epoch", "step", "layer", "stat", "value"])
