"""Judge an ablation's hypotheses from its stored records (never from code that knows the answer)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite import stats, tables
from suite.declare import Hypothesis
from suite.registry import Ablation


@dataclass
class Judgement:
    hypotheses: pd.DataFrame  # one row per (device, hypothesis) with the numbers that decided it, or ``why`` not
    claims: dict[str, str]    # device -> claim verdict
    summary: pd.DataFrame     # per (device, variant, metric): n, n_excluded, mean, std, CI
    counts: dict[str, int]    # runs by status
    runs: pd.DataFrame        # one row per run (status, factors, timings)
    first_error: str | None = None  # of the first failed run

    @property
    def claim(self) -> str:
        """One verdict over devices: theirs when they agree, else inconclusive."""
        verdicts = set(self.claims.values())
        return verdicts.pop() if len(verdicts) == 1 else ("not run" if not verdicts else "inconclusive")


def _select(df: pd.DataFrame, selector: dict) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for k, v in selector.items():
        mask &= df[k].isin(v if isinstance(v, (list, tuple)) else [v])
    return mask


def _setting_means(side: pd.DataFrame, factor: str, metric: str) -> pd.Series:
    """Mean of ``metric`` (prefix "-": negated, so larger is better) per value of ``factor``, best first.
    skipna=False: a setting at which any seed diverged (NaN) is never among the best."""
    means = side[side["metric"] == metric.lstrip("-")].groupby(factor)["value"].agg(
        lambda v: v.mean(skipna=False)).dropna()
    return (-means if metric.startswith("-") else means).sort_values(ascending=False, kind="stable")


def _tune(side: pd.DataFrame, hyp: Hypothesis) -> tuple[pd.DataFrame, dict]:
    """Keep the side's runs at the factor values it chooses: the best one (``best``) or the best fraction
    (``top``), ranked by the side's own mean of the selection metric."""
    chosen = {}
    for factor, sel in [*((f, (m, None)) for f, m in hyp.best.items()), *hyp.top.items()]:
        metric, frac = sel
        ranked = _setting_means(side, factor, metric)
        if ranked.empty:
            return side.iloc[:0], chosen
        keep = list(ranked.index[:1] if frac is None else ranked.index[:max(1, math.ceil(frac * len(ranked)))])
        chosen[factor] = keep[0] if frac is None else sorted(keep)
        side = side[side[factor].isin(keep)]
    return side, chosen


def _side(df: pd.DataFrame, hyp: Hypothesis, selector: dict, pair_on: list[str]) -> tuple[pd.Series, dict]:
    side, chosen = _tune(df[_select(df, selector)], hyp)
    side = side[side["metric"] == hyp.metric]
    return (side.set_index(pair_on)["value"] if pair_on else side["value"]), chosen


def _compare(df: pd.DataFrame, hyp: Hypothesis, factors: list[str], errors: dict) -> dict:
    """One hypothesis judged from the metrics of one device's runs (failed runs included: they are evidence of
    nothing, and a side with nothing else is "failed"). ``errors``: run key -> error, of the failed runs."""
    df = df[_select(df, hyp.where)]
    failed = df[df["status"] == "failed"]
    df = df[df["status"] != "failed"]
    # Runs pair when they share the seed and every factor that the comparison neither varies nor tunes.
    pair_on = ["seed"] + [f for f in factors if f not in hyp.a and f not in hyp.tuned]
    (a, chosen_a), (b, chosen_b) = _side(df, hyp, hyp.a, pair_on), _side(df, hyp, hyp.b, pair_on)
    # With ``top`` the sides keep several settings each, which differ: nothing pairs, so Welch's test.
    paired = False if hyp.top else None
    row = {"hypothesis": hyp.describe(), "metric": hyp.metric, "direction": hyp.direction}
    if hyp.tuned and (chosen_a or chosen_b):
        row["tuned"] = "; ".join(f"{side}: " + (", ".join(f"{k}={_fmt_choice(v)}" for k, v in c.items()) or "-")
                                 for side, c in (("A", chosen_a), ("B", chosen_b)))
    if a.empty or b.empty:
        where = f" where {_items(hyp.where)}" if hyp.where else ""
        broken = [(side, sel, failed[_select(failed, sel)]) for side, sel, values in (("A", hyp.a, a), ("B", hyp.b, b))
                  if values.empty and _select(failed, sel).any()]
        if broken:
            side, sel, runs = broken[0]
            keys = runs["key"].unique()
            return row | {"verdict": "failed", "n_a": len(a), "n_b": len(b), "test": "none", "p": np.nan,
                          "why": f"all {len(keys)} runs of {side} ({_items(sel)}){where} failed "
                                 f"(first: {errors.get(keys[0])})"}
        empty = " and ".join(f"{side} ({_items(sel)})" for side, sel, values in (("A", hyp.a, a), ("B", hyp.b, b))
                             if values.empty)
        return row | {"verdict": "not run", "n_a": len(a), "n_b": len(b), "test": "none", "p": np.nan,
                      "why": f"no runs of {empty}{where} in this plan"}
    c = stats.compare(a, b, paired=paired)
    if c.test == "none":
        row["why"] = f"fewer than 2 finite values on a side ({c.n_a}/{c.n_b}): nothing to test"
    if hyp.direction == "similar":  # the p that Holm adjusts is the equivalence test's
        row |= {"margin": hyp.margin, "p_difference": c.p}
        c.p = stats.equivalence_p(a, b, hyp.margin, paired=paired)
    return row | {"test": c.test, "n_a": c.n_a, "n_b": c.n_b, "n_excluded": c.n_excluded, "mean_a": c.mean_a,
                  "mean_b": c.mean_b, "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high,
                  "effect_size": c.effect_size, "statistic": c.statistic, "p": c.p}


def _fmt_choice(value) -> str:
    return "{" + ",".join(map(str, value)) + "}" if isinstance(value, list) else str(value)


def _items(selector: dict) -> str:
    return ", ".join(f"{k}={_fmt_choice(list(v) if isinstance(v, (list, tuple)) else v)}" for k, v in selector.items())


def judge(abl: Ablation, records: list[dict]) -> Judgement:
    factors = list(abl.factors)
    metrics = tables.metrics(records, declared=list(abl.metrics))
    counts = pd.Series([r.get("status") for r in records]).value_counts().to_dict() if records else {}
    errors = {r["key"]: r.get("error") for r in records if r.get("status") == "failed"}
    rows, claims = [], {}
    for device, df in (metrics.groupby("device", sort=True) if not metrics.empty else []):
        hyp_rows = [{"device": device, **_compare(df, h, factors, errors)} for h in abl.hypotheses]
        # Holm over the hypotheses that could be tested on this device.
        p_adj = stats.holm([r["p"] if "verdict" not in r else np.nan for r in hyp_rows])
        for r, p in zip(hyp_rows, p_adj):
            r["p_adj"] = p
            if "verdict" in r:  # not run, or failed
                continue
            if r["direction"] == "similar":
                r["verdict"] = stats.similar_verdict(p, r["ci_low"], r["ci_high"], r["margin"])
            else:
                r["verdict"] = stats.verdict(r["diff"], p, r["direction"])
        statuses = set(df["status"])
        claims[device] = "failed" if statuses == {"failed"} else stats.claim_verdict([r["verdict"] for r in hyp_rows])
        rows += hyp_rows
    evidence = metrics[metrics["status"] != "failed"] if not metrics.empty else metrics
    summary = (stats.summarize(evidence, by=["device", *factors, "metric"]) if not evidence.empty
               else pd.DataFrame())
    return Judgement(pd.DataFrame(rows), claims, summary, counts, tables.runs(records), next(iter(errors.values()), None))
