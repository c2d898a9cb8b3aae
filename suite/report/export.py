"""The tidy tables as CSV or parquet files, for people's own analysis: ``<out>/tables/<ablation>/<table>.<fmt>``
and ``<out>/tables/claims.<fmt>`` with one row per claim and tier. The long tables (``LONG``: one row per run,
metric and step or layer; tens of megabytes at the quick tier) are gzip-compressed CSV, ``<table>.csv.gz``, which
``pandas.read_csv`` reads as it is; the short ones stay plain CSV, to open in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.errors import SuiteError
from suite.files import atomic_write
from suite import present
from suite.results import Result

TABLES = ("runs", "metrics", "curves", "probes", "summary", "hypotheses", "devices")
LONG = frozenset({"metrics", "curves", "probes"})
# A fixed timestamp (and no file name) in the gzip header: the same tables give the same bytes.
GZIP = {"method": "gzip", "mtime": 0, "compresslevel": 6}
CLAIM_COLUMNS = ["ablation", "section", "claim", "tier", "verdict", "verdicts_by_device", "core_reproduced",
                 "core_tested", "mechanism_reproduced", "mechanism_tested", "secondary_reproduced",
                 "secondary_tested", "sanity_passed", "sanity_checked",
                 "not_run", "exceptions", "rule", "seeds", "devices", "runs", "runs_planned", "first_error"]


def _tables(result: Result) -> dict[str, pd.DataFrame]:
    j = result.judgement
    return {"runs": j.runs, "metrics": result.metrics, "curves": result.curves, "probes": result.probes,
            "summary": j.summary.assign(tier=result.tier), "hypotheses": j.hypotheses.assign(tier=result.tier),
            "devices": j.devices.assign(tier=result.tier)}


def claims(results: dict) -> pd.DataFrame:
    """One row per (claim, tier): its profile - the verdict, the counts behind it and each exception."""
    rows = []
    for name, tiers in results.items():
        for tier, r in tiers.items():
            p = r.judgement.profile
            counts = {"core_reproduced": p.core[0], "core_tested": p.core[1], "mechanism_reproduced": p.mechanism[0],
                      "mechanism_tested": p.mechanism[1], "secondary_reproduced": p.secondary[0],
                      "secondary_tested": p.secondary[1], "sanity_passed": p.sanity[0], "sanity_checked": p.sanity[1],
                      "not_run": p.not_run, "exceptions": "; ".join(present.exception(e) for e in p.exceptions)} \
                if p else {}
            rows.append({"ablation": name, "section": r.abl.section, "claim": r.abl.claim, "tier": tier,
                         "verdict": r.judgement.claim,
                         "verdicts_by_device": "; ".join(f"{k}: {v}" for k, v in r.judgement.claims.items()),
                         **counts, "rule": r.sequential or "fixed seeds", "seeds": r.seeds,
                         "devices": ",".join(r.devices), "runs": len(r.records), "runs_planned": r.planned,
                         "first_error": r.judgement.first_error})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _write(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "csv":
        plain, packed = path.with_name(f"{path.name}.csv"), path.with_name(f"{path.name}.csv.gz")
        if path.name in LONG:
            written = atomic_write(packed, lambda fh: df.to_csv(fh, index=False, compression=GZIP))
        else:
            written = atomic_write(plain, lambda fh: df.to_csv(fh, index=False))
        # The same table in the other form, from an earlier export into this directory, would now be stale.
        (packed if written == plain else plain).unlink(missing_ok=True)
        return written
    path = path.with_name(f"{path.name}.{fmt}")
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
