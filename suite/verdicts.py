"""Judge an ablation's hypotheses from its stored records (never from code that knows the answer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite import stats, tables
from suite.registry import Ablation, Hypothesis


@dataclass
class Judgement:
    hypotheses: pd.DataFrame  # one row per (device, hypothesis) with the numbers that decided it
    claims: dict[str, str]    # device -> claim verdict
    summary: pd.DataFrame     # per (device, variant, metric): n, n_excluded, mean, std, CI
    counts: dict[str, int]    # runs by status

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


def _side(df: pd.DataFrame, selector: dict, pair_on: list[str]) -> pd.Series:
    side = df[_select(df, selector)]
    return side.set_index(pair_on)["value"] if pair_on else side["value"]


def _compare(df: pd.DataFrame, hyp: Hypothesis, factors: list[str]) -> dict:
    df = df[(df["metric"] == hyp.metric) & _select(df, hyp.where)]
    # Runs pair when they share the seed and every factor that the comparison does not vary.
    pair_on = ["seed"] + [f for f in factors if f not in hyp.a]
    a, b = _side(df, hyp.a, pair_on), _side(df, hyp.b, pair_on)
    row = {"hypothesis": hyp.describe(), "metric": hyp.metric, "direction": hyp.direction}
    if a.empty or b.empty:
        return row | {"verdict": "not run", "n_a": len(a), "n_b": len(b), "test": "none", "p": np.nan}
    c = stats.compare(a, b)
    return row | {"test": c.test, "n_a": c.n_a, "n_b": c.n_b, "n_excluded": c.n_excluded, "mean_a": c.mean_a,
                  "mean_b": c.mean_b, "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high,
                  "effect_size": c.effect_size, "statistic": c.statistic, "p": c.p}


def judge(abl: Ablation, records: list[dict]) -> Judgement:
    factors = list(abl.factors)
    metrics = tables.metrics(records, declared=list(abl.metrics))
    counts = pd.Series([r.get("status") for r in records]).value_counts().to_dict() if records else {}
    rows, claims = [], {}
    for device, df in (metrics.groupby("device", sort=True) if not metrics.empty else []):
        hyp_rows = [{"device": device, **_compare(df, h, factors)} for h in abl.hypotheses]
        # Holm over the hypotheses that could be tested on this device.
        p_adj = stats.holm([r["p"] if r.get("verdict") != "not run" else np.nan for r in hyp_rows])
        for r, p in zip(hyp_rows, p_adj):
            r["p_adj"] = p
            if r.get("verdict") != "not run":
                r["verdict"] = stats.verdict(r["diff"], p, r["direction"])
        claims[device] = stats.claim_verdict([r["verdict"] for r in hyp_rows])
        rows += hyp_rows
    summary = (stats.summarize(metrics, by=["device", *factors, "metric"]) if not metrics.empty
               else pd.DataFrame())
    return Judgement(pd.DataFrame(rows), claims, summary, counts)
