"""The tidy tables as CSV or parquet files, for people's own analysis: ``<out>/tables/<ablation>/<table>.<fmt>``
and ``<out>/tables/claims.<fmt>`` with one row per claim and tier."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.errors import SuiteError
from suite.files import atomic_write
from suite.results import Result, deciding

TABLES = ("runs", "metrics", "curves", "probes", "summary", "hypotheses")
CLAIM_COLUMNS = ["ablation", "section", "claim", "tier", "verdict", "verdicts_by_device", "deciding_hypothesis",
                 "metric", "diff", "ci_low", "ci_high", "p_adj", "seeds", "devices", "runs", "runs_planned",
                 "first_error"]


def _tables(result: Result) -> dict[str, pd.DataFrame]:
    j = result.judgement
    return {"runs": j.runs, "metrics": result.metrics, "curves": result.curves, "probes": result.probes,
            "summary": j.summary.assign(tier=result.tier), "hypotheses": j.hypotheses.assign(tier=result.tier)}


def claims(results: dict) -> pd.DataFrame:
    """One row per (claim, tier) with its verdict and the hypothesis that decided it."""
    rows = []
    for name, tiers in results.items():
        for tier, r in tiers.items():
            d = deciding(r) or {}
            rows.append({"ablation": name, "section": r.abl.section, "claim": r.abl.claim, "tier": tier,
                         "verdict": r.judgement.claim,
                         "verdicts_by_device": "; ".join(f"{k}: {v}" for k, v in r.judgement.claims.items()),
                         "deciding_hypothesis": d.get("hypothesis"), "metric": d.get("metric"),
                         "diff": d.get("diff"), "ci_low": d.get("ci_low"), "ci_high": d.get("ci_high"),
                         "p_adj": d.get("p_adj"), "seeds": r.seeds, "devices": ",".join(r.devices),
                         "runs": len(r.records), "runs_planned": r.planned, "first_error": r.judgement.first_error})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _write(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    path = path.with_suffix(f".{fmt}")
    if fmt == "csv":
        return atomic_write(path, lambda fh: df.to_csv(fh, index=False))
    try:
        import pyarrow  # noqa: F401  (pandas writes parquet through it)
    except ImportError:
        raise SuiteError("parquet output needs pyarrow: pip install pyarrow (or use --format csv)") from None
    return atomic_write(path, lambda fh: df.to_parquet(fh, index=False))


def write(results: dict, out: Path, fmt: str) -> list[Path]:
    """Write every tidy table of every reported ablation (tiers stacked, with a tier column)."""
    root = out / "tables"
    written = []
    for name, tiers in results.items():
        if not tiers:
            continue
        (root / name).mkdir(parents=True, exist_ok=True)
        per_tier = [_tables(r) for r in tiers.values()]
        for table in TABLES:
            frames = [t[table] for t in per_tier if not t[table].empty]
            if frames:
                written.append(_write(pd.concat(frames, ignore_index=True), root / name / table, fmt))
    root.mkdir(parents=True, exist_ok=True)
    written.append(_write(claims(results), root / "claims", fmt))
    return written
