"""The papers' numbers beside ours: each declared :class:`suite.declare.Reference` with our mean of the runs it
corresponds to, and, where one source gives a metric for several variants, whether its order of the variants agrees
with ours. Nothing is tested against a paper's number: the settings differ, and each reference says how.
"""

from __future__ import annotations

import itertools

import pandas as pd

from suite import present, tables, verdicts
from suite.registry import Ablation
from suite.results import Result


def _ours(summary: pd.DataFrame, metric: str, where: dict) -> pd.DataFrame:
    if summary.empty or any(k not in summary for k in where):
        return summary.iloc[:0]
    return summary[(summary["metric"] == metric) & tables.select(summary, where)]


def _our_mean(result: Result, metric: str, where: dict) -> float:
    """Our mean of ``metric`` over the runs matching ``where`` (all their variants' seeds pooled), NaN if none."""
    metrics = result.metrics
    if metrics.empty or any(k not in metrics for k in where):
        return float("nan")
    rows = metrics[(metrics["metric"] == metric) & (metrics["status"] == "ok") & tables.select(metrics, where)]
    return float(pd.to_numeric(rows["value"]).mean()) if len(rows) else float("nan")


def _direction(abl: Ablation, result: Result) -> dict[int, str]:
    """Reference index -> "agrees" / "differs" with the order of the same source's other variants (all pairs)."""
    out: dict[int, list[bool]] = {}
    refs = list(enumerate(abl.references))
    for (i, r), (j, s) in itertools.combinations(refs, 2):
        if r.source != s.source or r.metric != s.metric or r.value == s.value:
            continue
        ours_r = _our_mean(result, r.metric, _tuned_where(abl, result, r.metric, dict(r.where))[0])
        ours_s = _our_mean(result, s.metric, _tuned_where(abl, result, s.metric, dict(s.where))[0])
        if ours_r != ours_r or ours_s != ours_s or ours_r == ours_s:
            continue
        same = (r.value > s.value) == (ours_r > ours_s)
        out.setdefault(i, []).append(same)
        out.setdefault(j, []).append(same)
    return {i: "agrees" if all(v) else ("differs" if not any(v) else f"agrees in {sum(v)} of {len(v)} pairs")
            for i, v in out.items()}


def _tuned_where(abl: Ablation, result: Result, metric: str, where: dict) -> tuple[dict, str]:
    """``where`` narrowed to the tuned settings of the runs it matches, and a note naming them ('' if none)."""
    metrics = result.metrics
    if metrics.empty or any(k not in metrics for k in where):
        return where, ""
    # As the verdicts tune: a setting where any seed diverged (NaN) is never chosen; failed runs are no evidence.
    rows = metrics[(metrics["status"] != "failed") & tables.select(metrics, where)]
    narrowed, notes = dict(where), []
    for factor in dict.fromkeys(f for h in abl.hypotheses for f in h.tuned):
        if factor in where or factor not in rows or rows[factor].nunique() < 2:
            continue
        selector, frac = verdicts.selection(abl, factor, metric)
        keep = verdicts.choose(rows, factor, selector, frac)
        if not keep:
            continue
        rows = rows[rows[factor].isin(keep)]
        narrowed[factor] = keep[0] if frac is None else keep
        notes.append(f"{factor}={keep[0] if frac is None else f'best {len(keep)}'} by {selector.lstrip('-')}")
    return narrowed, ("at its best " + ", ".join(notes)) if notes else ""


def rows(abl: Ablation, result: Result) -> list[dict]:
    """One row per reference: source, their setting and value (with unit), the variant, our mean [95% CI] over
    seeds (pooled over the variants it matches), the direction against the source's other variants, what differs,
    and whether the value was read in the source."""
    direction = _direction(abl, result)
    out = []
    for i, ref in enumerate(abl.references):
        where, tuned = _tuned_where(abl, result, ref.metric, dict(ref.where))
        ours = _ours(result.judgement.summary, ref.metric, where)
        note = f"; {tuned}" if tuned else ""
        if len(ours) == 1:
            r = ours.iloc[0]
            mine = present.interval(abl, ref.metric, r["mean"], r["ci_low"], r["ci_high"]) + f" (n {int(r['n'])}{note})"
        elif len(ours):
            mine = (f"{present.value(abl, ref.metric, _our_mean(result, ref.metric, where))} "
                    f"(mean of {len(ours)} variants{note})")
        else:
            mine = "not run"
        out.append({"source": ref.source, "setting": ref.setting, "metric": ref.metric,
                    "variant": ", ".join(f"{k}={v}" for k, v in ref.where.items()) or "all runs",
                    "theirs": (present.value(abl, ref.metric, float(ref.value)) if present.is_percent(abl, ref.metric)
                               else present.fmt(float(ref.value)) + (f" {ref.unit}" if ref.unit else "")), "ours": mine,
                    "direction": direction.get(i, ""), "differs": ref.differs, "verified": ref.verified})
    return out
