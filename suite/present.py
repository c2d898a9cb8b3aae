"""Presenting judged results: number formatting and the tables that the command line and the report both show.

Each table is built once here, as rows of display strings keyed by column name; the command line lays a subset of
the columns out with rich, the report all of them in HTML.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.registry import Ablation

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not run", "failed")
# The columns of the hypothesis table; optional ones appear only when some row has a value.
COLUMNS = ("H", "device", "test", "n A/B", "mean A", "mean B", "A \u2212 B [95% CI]", "effect size", "p", "p Holm",
           "margin", "tuned", "verdict")
OPTIONAL = ("device", "margin", "tuned")


def fmt(x, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, scientific from 10^4 on, '-' for missing or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.2e}"
    return str(x)


def ci(diff, low, high) -> str:
    return f"{fmt(diff)} [{fmt(low)}, {fmt(high)}]"


def seconds(s: float) -> str:
    if s is None or math.isnan(s):
        return "-"
    return f"{s:.2g} s" if s < 60 else f"{s / 60:.1f} min" if s < 3600 else f"{s / 3600:.1f} h"


def numbers(abl: Ablation) -> dict[str, int]:
    """Each hypothesis's description -> its number (H1, H2, ...) in declaration order."""
    return {h.describe(): i for i, h in enumerate(abl.hypotheses, 1)}


def _n(r: dict) -> str:
    text = f"{r.get('n_a', 0)}/{r.get('n_b', 0)}"
    excluded = r.get("n_excluded")
    if excluded and excluded == excluded:  # not NaN
        text += f" ({int(excluded)} excluded)"
    return text


def hypothesis_table(abl: Ablation, hypotheses: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """The numbers behind each hypothesis, one row per (hypothesis, device): (columns shown, rows of strings);
    "verdict" holds the verdict word for the renderer to colour, "why" (not a column) why it was not tested."""
    index = numbers(abl)
    multi = not hypotheses.empty and hypotheses["device"].nunique() > 1
    rows = []
    for r in hypotheses.to_dict("records"):
        rows.append({
            "H": f"H{index.get(r['hypothesis'], '?')}", "device": r["device"] if multi else None,
            "test": r.get("test", "-"), "n A/B": _n(r), "mean A": fmt(r.get("mean_a")), "mean B": fmt(r.get("mean_b")),
            "A \u2212 B [95% CI]": ci(r.get("diff"), r.get("ci_low"), r.get("ci_high")),
            "effect size": fmt(r.get("effect_size")), "p": fmt(r.get("p")), "p Holm": fmt(r.get("p_adj")),
            "margin": fmt(r["margin"]) if r.get("margin") == r.get("margin") and r.get("margin") is not None else None,
            "tuned": r["tuned"] if isinstance(r.get("tuned"), str) else None, "verdict": r["verdict"],
            "why": r["why"] if isinstance(r.get("why"), str) else "",
        })
    shown = [c for c in COLUMNS if c not in OPTIONAL or any(row[c] is not None for row in rows)]
    for row in rows:
        for c in OPTIONAL:
            row[c] = row[c] if row[c] is not None else "-"
    return shown, rows


def unfinished_rows(unfinished: pd.DataFrame) -> list[dict]:
    """One row per (device, variant) with runs that diverged or failed: {device, variant, what}."""
    if unfinished.empty:
        return []
    factors = [c for c in unfinished.columns if c not in ("device", "seeds", "diverged", "failed")]
    return [{"device": r["device"], "variant": ", ".join(f"{f} = {r[f]}" for f in factors),
             "what": ", ".join(f"{r[s]} of {r['seeds']} seeds {s}" for s in ("diverged", "failed") if r[s])}
            for r in unfinished.to_dict("records")]


def by_device(claims: dict[str, str]) -> str:
    """'cpu: reproduced; cuda: inconclusive' when several devices ran, else ''."""
    return "; ".join(f"{d}: {v}" for d, v in claims.items()) if len(claims) > 1 else ""


def tally(hypotheses: pd.DataFrame) -> str:
    """'8 reproduced, 1 contradicted': hypotheses by verdict."""
    counts = hypotheses["verdict"].value_counts().to_dict() if not hypotheses.empty else {}
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts)
