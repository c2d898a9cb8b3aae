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


def select(df: pd.DataFrame, selector: dict) -> pd.Series:
    """Rows whose factor columns match ``selector`` (factor -> value, or a list of accepted values)."""
    mask = pd.Series(True, index=df.index)
    for k, v in selector.items():
        mask &= df[k].isin(v if isinstance(v, (list, tuple)) else [v])
    return mask


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
    """Concatenate each record's column-oriented ``field`` with the run's identity repeated on every row.

    Built as plain lists and turned into one DataFrame at the end: a DataFrame per record is 100x slower."""
    data: dict[str, list] = {}
    total = 0
    for r in records:
        block = r.get(field) or {}
        n = len(next(iter(block.values()), []))
        if not n:
            continue
        for name, value in [*_ident(r).items(), *block.items()]:
            if name not in data:  # a column first seen now: earlier rows lack it
                data[name] = [None] * total
            data[name].extend(value if name in block else [value] * n)
        total += n
        for col in data.values():  # a column this record lacks
            col.extend([None] * (total - len(col)))
    if not data:
        return pd.DataFrame(columns=[*RUN_COLUMNS, *columns])
    front = [c for c in data if c not in columns]
    return pd.DataFrame({c: data[c] for c in [*front, *(c for c in columns if c in data)]})


def curves(records: Iterable[dict]) -> pd.DataFrame:
    """Long-form learning curves: one row per (run, epoch, metric)."""
    return _long(records, "curves", ["epoch", "metric", "value"])


def probes(records: Iterable[dict]) -> pd.DataFrame:
    """Long-form probe statistics: one row per (run, step, layer, stat)."""
    return _long(records, "probes", ["epoch", "step", "layer", "stat", "value"])
