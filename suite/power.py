"""Power from stored runs (``python -m suite power NAME``): per core hypothesis, the smallest effect the tier's seed
count detects, and the seeds its declared margin needs. Seed counts are fixed before running from numbers like
these, never raised after seeing a p value.

The spread comes from the stored runs (per-seed values as the verdict uses them); the level is Bonferroni's
``alpha / m`` over the m core hypotheses (Holm is never less powerful); power is 0.8 by default (statsmodels'
``TTestPower``, ``TTestIndPower``; for binary outcomes ``NormalIndPower`` on Cohen's h, a normal approximation that
ignores pairing and overstates the power of the exact tests). For a "similar" hypothesis, TOST with a true difference of 0
needs each one-sided test at power (1 + power) / 2, and the effect is the margin.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from suite import verdicts
from suite.results import Result
from suite.stats import ALPHA

POWER = 0.8


def _solve(kind: str, paired: bool, similar: bool, alpha: float, power: float, **kw) -> float:
    from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower

    if similar:
        power, alternative = (1 + power) / 2, "larger"
    else:
        alternative = "two-sided"
    engine = NormalIndPower() if kind == "binary" else TTestPower() if paired else TTestIndPower()
    with warnings.catch_warnings():  # a root the solver cannot bracket is handled below, not printed
        warnings.simplefilter("ignore")
        value = float(engine.solve_power(alpha=alpha, power=power, alternative=alternative, **kw))
    counts = [k for k in ("nobs", "nobs1") if k in kw and kw[k] is None]
    if value != value and counts:  # no root: an effect so large that the fewest seeds already have the power
        at_two = engine.power(effect_size=kw["effect_size"], alpha=alpha, alternative=alternative,
                              **{counts[0]: 2}, **{k: v for k, v in kw.items() if k not in ("effect_size", counts[0])})
        value = 2.0 if at_two >= power else value
    return value


def table(result: Result, power: float = POWER, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (device, core hypothesis): the test, seeds, spread, minimum detectable effect (in the metric's
    units; Cohen's h for binary outcomes), the margin and the seeds it needs (per side), or why not computed."""
    abl = result.abl
    core = abl.core
    level = alpha / max(1, len(core))
    number = {h.describe(): i for i, h in enumerate(abl.hypotheses, 1)}
    metrics = result.metrics
    rows = []
    for device, df in (metrics.groupby("device", sort=True) if not metrics.empty else []):
        for hyp in core:
            row = {"device": device, "H": f"H{number[hyp.describe()]}", "hypothesis": hyp.describe(),
                   "metric": hyp.metric, "margin": hyp.margin}
            s = verdicts.samples(df, hyp, abl)
            kind = abl.kind(hyp.metric)
            if s is None or kind == "censored":
                rows.append(row | {"why": "no runs of a side" if s is None else
                                   "censored outcome: no closed-form power for its sign or log-rank test"})
                continue
            a, b, paired = s
            if paired:
                d = (a - b).dropna()
                n, sd = len(d), float(d.std(ddof=1)) if len(d) > 1 else float("nan")
            else:
                a, b = a.dropna(), b.dropna()
                n = min(len(a), len(b))
                sd = float(np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)) if n > 1 else float("nan")
            row |= {"test": "binary (unpaired normal approximation)" if kind == "binary" else
                    ("paired" if paired else "unpaired"), "seeds": n, "sd": sd}
            if n < 2 or not np.isfinite(sd):
                rows.append(row | {"why": "fewer than 2 seeds with values"})
                continue
            similar = hyp.direction == "similar"
            if kind == "binary":  # effects on Cohen's h scale: 2 asin(sqrt(p1)) - 2 asin(sqrt(p2))
                from statsmodels.stats.proportion import proportion_effectsize

                base = float(np.clip(b.mean(), 0.0, 1.0))
                row["mde"] = _solve(kind, paired, similar, level, power, nobs1=n, ratio=1.0, effect_size=None)
                row["mde_unit"] = "Cohen's h"
                if hyp.margin:
                    h = abs(proportion_effectsize(min(1.0, base + hyp.margin), base)) or float("nan")
                    row["seeds_for_margin"] = math.ceil(_solve(kind, paired, similar, level, power, effect_size=h,
                                                               nobs1=None, ratio=1.0)) if h == h else None
            elif sd == 0:
                row |= {"mde": 0.0, "seeds_for_margin": 2 if hyp.margin else None,
                        "why": "no spread over seeds: any difference is detected"}
            else:
                kw = {} if paired else {"ratio": 1.0}
                nobs = "nobs" if paired else "nobs1"
                row["mde"] = sd * _solve(kind, paired, similar, level, power, effect_size=None, **{nobs: n}, **kw)
                if hyp.margin:
                    needed = _solve(kind, paired, similar, level, power, effect_size=hyp.margin / sd,
                                    **{nobs: None}, **kw)
                    row["seeds_for_margin"] = max(2, math.ceil(needed)) if needed == needed else None
            if not hyp.margin:
                row.setdefault("why", "no margin declared: the seeds a difference needs depend on the difference "
                                      "that matters")
            rows.append(row)
    return pd.DataFrame(rows)
