"""Presenting judged results: number formatting and the tables that the command line and the report both show.

Each table is built once here, as rows of display strings keyed by column name; the command line lays a subset of
the columns out with rich, the report all of them in HTML.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.registry import Ablation
from suite.stats import ALPHA

VERDICTS = ("reproduced", "contradicted", "inconclusive", "pass", "fail", "not run", "failed")
# The columns of the hypothesis table; optional ones appear only when some row has a value.
COLUMNS = ("H", "role", "device", "test", "n A/B", "mean A", "mean B", "A \u2212 B [95% CI]", "effect size", "p",
           "p Holm", "margin", "tuned", "verdict")
OPTIONAL = ("device", "margin", "tuned")
ROLE = {"core": "core", "mechanism": "mech.", "secondary": "second.", "sanity": "sanity"}


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


def p_value(p) -> str:
    """A p value as readers expect it: two significant digits, '< 0.001' below that, '-' when there is none."""
    if p is None or not isinstance(p, (int, float)) or math.isnan(p):
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


EFFECT_CAP = 10.0  # |d| beyond this says only "huge": the seeds barely vary, and the exact figure means nothing


def effect_size(d) -> str:
    """Cohen's d_z or Hedges' g; '> 10' (or '< -10') beyond EFFECT_CAP, '-' when undefined (no spread)."""
    if d is None or not isinstance(d, (int, float)) or not math.isfinite(d):
        return "-"
    if abs(d) > EFFECT_CAP:
        return f"> {EFFECT_CAP:g}" if d > 0 else f"< \u2212{EFFECT_CAP:g}"
    return fmt(d, 2)


def is_percent(abl: Ablation, metric: str) -> bool:
    """Accuracies and binary outcomes are proportions, shown as percentages (their differences in points)."""
    return metric.endswith("_acc") or (metric in abl.kinds and abl.kind(metric) == "binary")


def value(abl: Ablation, metric: str, x) -> str:
    """One value of ``metric`` for a reader: '93.6%' for proportions, else :func:`fmt`."""
    if is_percent(abl, metric) and isinstance(x, (int, float)) and math.isfinite(x):
        return f"{100 * x:.1f}%"
    return fmt(x)


def interval(abl: Ablation, metric: str, mean, low, high) -> str:
    """A mean with its CI: '93.6% [92.1, 95.0]' for proportions, else '0.936 [0.921, 0.95]'."""
    if not is_percent(abl, metric) or not all(finite(x) for x in (mean, low, high)):
        return ci(mean, low, high)
    return f"{100 * mean:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def difference(abl: Ablation, metric: str, diff, low=None, high=None) -> str:
    """A difference A - B with its CI: '+53.4 pts [45.3, 61.5]' for proportions (percentage points)."""
    if not is_percent(abl, metric):
        return ci(diff, low, high) if low is not None else fmt(diff)
    pts = [100 * x if finite(x) else float("nan") for x in (diff, low, high)]
    head = "-" if math.isnan(pts[0]) else f"{pts[0]:+.1f} pts"
    return head + (f" [{pts[1]:.1f}, {pts[2]:.1f}]" if not (math.isnan(pts[1]) or math.isnan(pts[2])) else "")


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
    if isinstance(r.get("censored"), str):
        text += f" ({r['censored']} censored)"
    return text


def _text(r: dict, key: str) -> str:
    return r[key] if isinstance(r.get(key), str) else ""


def _difference(abl: Ablation, r: dict) -> str:
    """The difference with its CI; a sanity check's with the range over seeds; a censored one's without a CI."""
    metric = r.get("metric", "")
    if r.get("verdict") in ("pass", "fail"):
        return (f"{difference(abl, metric, r.get('diff'))} (seeds: {value(abl, metric, r.get('range_low'))} to "
                f"{value(abl, metric, r.get('range_high'))})")
    if r.get("kind") == "censored":
        return f"{difference(abl, metric, r.get('diff'))} (medians)"
    return difference(abl, metric, r.get("diff"), r.get("ci_low"), r.get("ci_high"))


def finite(x) -> bool:
    """A real number that is neither NaN nor infinite (bools are not numbers here)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def reason(abl: Ablation, r: dict, family: int) -> str:
    """Why a tested hypothesis did not reproduce, in one clause, from its own numbers: the Holm adjustment over its
    ``family`` (the hypotheses of its role that were tested), the 95% CI against zero or the margin (``r["margin"]``,
    the smallest difference that matters), a test that decides otherwise than the interval reads (exact and
    anytime-valid tests), the chosen setting on a grid's edge. '' for a reproduced one."""
    verdict = r.get("verdict")
    if verdict not in ("inconclusive", "contradicted"):
        return ""
    if _text(r, "why"):
        return r["why"]
    metric, direction = r.get("metric", ""), r.get("direction")
    margin = r.get("margin") if finite(r.get("margin")) else None
    low, high, p, p_adj, diff = r.get("ci_low"), r.get("ci_high"), r.get("p"), r.get("p_adj"), r.get("diff")
    seeds = f"{r.get('n_a', 0)}/{r.get('n_b', 0)} seeds"
    edge = " A tuned setting lies on its grid's edge: the best may lie beyond it." if "grid edge" in _text(
        r, "tuned") else ""
    censored = r.get("kind") == "censored"
    if verdict == "contradicted":
        if direction == "similar":
            return f"the difference lies beyond the margin: A \u2212 B {_difference(abl, r)}.{edge}"
        if censored:  # the log-rank statistic decides the sign; the medians may tie
            return (f"the log-rank test finds the other side faster (p Holm = {p_value(p_adj)}); medians "
                    f"A \u2212 B {_difference(abl, r)}.{edge}")
        return f"the difference goes the other way: A \u2212 B {_difference(abl, r)}.{edge}"
    if finite(p) and finite(p_adj) and p < ALPHA <= p_adj:
        return (f"p = {p_value(p)} alone, {p_value(p_adj)} after Holm adjustment over {family} "
                f"{r.get('role', 'core')} hypotheses.{edge}")
    if censored:
        return f"the log-rank test does not separate the sides at {seeds} (p = {p_value(p)}).{edge}"
    if not (finite(low) and finite(high)):
        return f"no interval at {seeds}.{edge}"
    ci_text = difference(abl, metric, diff, low, high)
    test = f"the test ({_text(r, 'test') or 'its p value'}) gives p = {p_value(p)}"
    if direction == "similar" and margin is not None:
        bound = difference(abl, metric, margin).lstrip("+")
        if -margin <= low and high <= margin:  # inside, yet TOST (90% CI, Holm) did not decide
            return f"the 95% CI {ci_text} lies within \u00b1{bound}, but {test}, {p_value(p_adj)} after Holm.{edge}"
        if high - low > 2 * margin:
            return (f"underpowered: the 95% CI {ci_text} is wider than the margin \u00b1{bound} allows; more seeds "
                    f"would decide (python -m suite power).{edge}")
        return f"the 95% CI {ci_text} reaches past the margin \u00b1{bound}.{edge}"
    if low > 0 or high < 0:  # the interval excludes 0, the test did not: exact or anytime-valid p values
        return f"the 95% CI {ci_text} excludes 0, but {test}.{edge}"
    if margin is not None and (high - low) / 2 > margin:
        return (f"underpowered: the 95% CI {ci_text} is wider than the margin {difference(abl, metric, margin)} "
                f"that matters, at {seeds}.{edge}")
    sign = math.copysign(1, diff) if finite(diff) and diff != 0 else 0
    against = " (the estimate points the other way)" if sign and (sign > 0) != (direction == "greater") else ""
    return f"the 95% CI {ci_text} includes 0 at {seeds}{against}.{edge}"


def hypothesis_table(abl: Ablation, hypotheses: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """The numbers behind each hypothesis, one row per (hypothesis, device): (columns shown, rows of strings);
    "verdict" holds the verdict word for the renderer to colour, "why" (not a column) why it was not tested or,
    when tested, why it did not reproduce (:func:`reason`), "sort" (not a column) the numbers behind some columns."""
    index = numbers(abl)
    multi = not hypotheses.empty and hypotheses["device"].nunique() > 1
    declared = {h.describe(): h.margin for h in abl.hypotheses}
    # A Greater/Less hypothesis's margin (the smallest difference that matters, for power) is the declaration's.
    records = [r | {"margin": declared.get(r["hypothesis"])} if not finite(r.get("margin")) else r
               for r in hypotheses.to_dict("records")]
    family = {}
    for r in records:
        if isinstance(r.get("p_adj"), float) and not math.isnan(r["p_adj"]):
            family[(r["device"], r.get("role"))] = family.get((r["device"], r.get("role")), 0) + 1
    rows = []
    for r in records:
        test = _text(r, "test") or "-"
        if isinstance(r.get("finding"), str):  # a "similar" hypothesis: the test whose p decided
            test = f"{'TOST' if r['finding'] == 'within margin' else 'beyond margin'}, {test}"
        metric = r.get("metric", "")
        rows.append({
            "H": f"H{index.get(r['hypothesis'], '?')}", "role": ROLE.get(r.get("role"), "core"),
            "device": r["device"] if multi else None, "test": test, "n A/B": _n(r),
            "mean A": value(abl, metric, r.get("mean_a")), "mean B": value(abl, metric, r.get("mean_b")),
            "A \u2212 B [95% CI]": _difference(abl, r),
            "effect size": effect_size(r.get("effect_size")), "p": p_value(r.get("p")),
            "p Holm": p_value(r.get("p_adj")),
            "margin": (difference(abl, metric, r["margin"]).lstrip("+")
                       if r.get("margin") == r.get("margin") and r.get("margin") is not None else None),
            "tuned": _text(r, "tuned") or None, "verdict": r["verdict"],
            "why": reason(abl, r, family.get((r["device"], r.get("role")), 0)) or _text(r, "why"),
            "sort": {"H": index.get(r["hypothesis"], 0), "mean A": r.get("mean_a"), "mean B": r.get("mean_b"),
                     "A \u2212 B [95% CI]": r.get("diff"), "effect size": r.get("effect_size"), "p": r.get("p"),
                     "p Holm": r.get("p_adj"), "margin": r.get("margin")},
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
    """'cpu: reproduced; cuda: mixed' when several devices ran, else ''."""
    return "; ".join(f"{d}: {v}" for d, v in claims.items()) if len(claims) > 1 else ""


def exception(e: dict, abl: Ablation | None = None) -> str:
    """One core hypothesis that did not reproduce: 'H6 (contradicted): <label>: A 0.953 vs B 0.932, A - B 0.021
    [0.004, 0.037]' (with ``abl``, proportions as percentages: 'A 95.3% vs B 93.2%, A - B +2.1 pts [0.4, 3.7]')."""
    metric = e.get("metric", "") if abl is not None else ""
    show = (lambda x: value(abl, metric, x)) if abl is not None else fmt
    if abl is not None:
        diff = difference(abl, metric, e.get("diff"), *((e.get("ci_low"), e.get("ci_high"))
                                                         if e.get("ci_low") == e.get("ci_low") else ()))
    else:
        diff = (ci(e.get("diff"), e.get("ci_low"), e.get("ci_high")) if e.get("ci_low") == e.get("ci_low")
                else fmt(e.get("diff")))
    return f"{e['H']} ({e['verdict']}): {e['hypothesis']}: A {show(e.get('mean_a'))} vs B {show(e.get('mean_b'))}, A \u2212 B {diff}"


def setting(result) -> str:
    """'digits, 10 seeds' (and the rule, when seeds were added until decided)."""
    abl = result.abl
    data = abl.tiers[result.tier].config.get("data", abl.config["data"].default if "data" in abl.config else None)
    seeds = f"{result.seeds} seed" + ("s" if result.seeds != 1 else "")
    rule = f", {result.sequential}" if getattr(result, "sequential", None) else ""
    return ", ".join(str(x) for x in (data, seeds) if x) + rule


def profile_line(result) -> str:
    """'vanishing_gradients, quick (digits, 10 seeds): reproduced with exceptions - core 4 of 5, mechanism 4 of 4';
    over several devices each device's counts ('- cpu: core 4 of 5, ...; cuda: ...')."""
    j = result.judgement
    head = f"{result.abl.name}, {result.tier} ({setting(result)}): {j.claim}"
    if j.profile is None:
        return head
    if len(j.profiles) == 1:
        return f"{head} - {j.profile.counts()}"
    return f"{head} - " + "; ".join(f"{d}: {p.verdict}, {p.counts()}" for d, p in j.profiles.items())
