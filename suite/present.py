"""Presenting judged results: number formatting and the tables that the command line and the report both show.

Each table is built once here, as rows of display strings keyed by column name; the command line lays a subset of
the columns out with rich, the report all of them in HTML.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.registry import Ablation

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


def _difference(r: dict) -> str:
    """The difference with its CI; a sanity check's with the range over seeds; a censored one's without a CI."""
    if r.get("verdict") in ("pass", "fail"):
        return f"{fmt(r.get('diff'))} (seeds: {fmt(r.get('range_low'))} to {fmt(r.get('range_high'))})"
    if r.get("kind") == "censored":
        return f"{fmt(r.get('diff'))} (medians)"
    return ci(r.get("diff"), r.get("ci_low"), r.get("ci_high"))


def hypothesis_table(abl: Ablation, hypotheses: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """The numbers behind each hypothesis, one row per (hypothesis, device): (columns shown, rows of strings);
    "verdict" holds the verdict word for the renderer to colour, "why" (not a column) why it was not tested."""
    index = numbers(abl)
    multi = not hypotheses.empty and hypotheses["device"].nunique() > 1
    rows = []
    for r in hypotheses.to_dict("records"):
        test = _text(r, "test") or "-"
        if isinstance(r.get("finding"), str):  # a "similar" hypothesis: the test whose p decided
            test = f"{'TOST' if r['finding'] == 'within margin' else 'beyond margin'}, {test}"
        rows.append({
            "H": f"H{index.get(r['hypothesis'], '?')}", "role": ROLE.get(r.get("role"), "core"),
            "device": r["device"] if multi else None, "test": test, "n A/B": _n(r),
            "mean A": fmt(r.get("mean_a")), "mean B": fmt(r.get("mean_b")), "A \u2212 B [95% CI]": _difference(r),
            "effect size": fmt(r.get("effect_size")), "p": fmt(r.get("p")), "p Holm": fmt(r.get("p_adj")),
            "margin": fmt(r["margin"]) if r.get("margin") == r.get("margin") and r.get("margin") is not None else None,
            "tuned": _text(r, "tuned") or None, "verdict": r["verdict"], "why": _text(r, "why"),
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


def exception(e: dict) -> str:
    """One core hypothesis that did not reproduce: 'H6 (contradicted): <label>: A 0.953 vs B 0.932, A - B 0.021
    [0.004, 0.037]'."""
    numbers = f"A {fmt(e.get('mean_a'))} vs B {fmt(e.get('mean_b'))}, A \u2212 B " + (
        ci(e.get("diff"), e.get("ci_low"), e.get("ci_high")) if e.get("ci_low") == e.get("ci_low")
        else fmt(e.get("diff")))
    return f"{e['H']} ({e['verdict']}): {e['hypothesis']}: {numbers}"


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
