"""The front page: every claim at a glance, in the book's order - a claim x hypothesis matrix with each claim's
profile, counts and a takeaway generated from its verdicts, and the tier and data said in words.
"""

from __future__ import annotations

import re

from suite import present
from suite.registry import Ablation
from suite.results import Result

# What each tier is, for a reader who has not read the declarations.
TIER_WORDS = {
    "smoke": "the smoke tier checks the machinery in seconds; its numbers are not evidence",
    "quick": ("the quick tier is scaled down to run in minutes on two CPU cores: smaller data, networks and "
              "budgets than the papers'"),
    "full": "the full tier is closer to the papers' scale",
}
# The embedded datasets (suite/datasets.py) in words.
DATA_WORDS = {
    "digits": "scikit-learn's 1,797 handwritten digits of 8x8 pixels",
    "mnist1d": "MNIST-1D (Greydanus 2020): 5,000 one-dimensional digit sequences of length 40",
    "mnist": "MNIST: 70,000 handwritten digits of 28x28 pixels",
}
# A symbol beside each verdict's word and colour, so that colour is never the only cue.
SYMBOLS = {"reproduced": "\u2713", "contradicted": "\u2717", "inconclusive": "?", "not run": "\u2013", "failed": "!",
           "pass": "\u2713", "fail": "\u2717", "reproduced with exceptions": "\u2713", "mixed": "\u00b1",
           "not reproduced": "\u2717", "not enough evidence": "?", "differs by device": "\u2260"}


def book_order(abl: Ablation) -> tuple:
    """Sort key: the first section the ablation cites ("6.2-6.4" -> (6, 2)), then its name."""
    first = re.match(r"\s*(\d+(?:\.\d+)*)", abl.section or "")
    return (tuple(int(x) for x in first.group(1).split(".")) if first else (99,), abl.name)


def data_words(abl: Ablation, tier: str) -> str:
    """The tier's data in words: a named dataset, else the synthetic tasks the tier runs."""
    spec = abl.tiers[tier]
    data = spec.config.get("data", abl.config["data"].default if "data" in abl.config else None)
    if data:
        return DATA_WORDS.get(str(data), str(data))
    tasks = abl.grid(tier).get("task") or ([spec.config.get("task", abl.config["task"].default)]
                                           if "task" in abl.config else [])
    return "synthetic problems generated from each seed" + (f" ({', '.join(map(str, tasks))})" if tasks else "")


def takeaway(result: Result) -> str:
    """One line from the claim's own verdicts: how many core hypotheses reproduced, which did not and how (per
    device when several ran)."""
    j = result.judgement
    if len(j.profiles) > 1:  # each device its own line: one device's counts would pass for the claim's
        return " ".join(f"{device}: {_takeaway(p, j)}" for device, p in j.profiles.items())
    return _takeaway(j.profile, j)


def _takeaway(p, j) -> str:
    if p is not None and p.verdict == "failed":
        return "Every run that could test it failed" + (f"; first error: {j.first_error}" if j.first_error else ".")
    if p is None:
        return "Nothing was tested."
    done, tested = p.core
    if tested == 0:
        text = "No core hypothesis could be tested."
    elif done == tested:
        text = f"All {tested} core hypotheses reproduced." if tested > 1 else "The core hypothesis reproduced."
    else:
        by_verdict: dict[str, list[str]] = {}
        for e in p.exceptions:
            by_verdict.setdefault(e["verdict"], []).append(e["H"])
        misses = "; ".join(f"{', '.join(hs)} {v}" for v, hs in by_verdict.items())
        text = f"{done} of {tested} core hypotheses reproduced; {misses}."
    extra = [f"{role} {n} of {t}" for role in ("mechanism", "secondary") for n, t in [getattr(p, role)] if t]
    if extra:
        text += " Also reproduced: " + ", ".join(extra) + "."
    if p.not_run:
        text += f" {p.not_run} not run at this tier."
    return text


def _cell_verdict(rows) -> str:
    verdicts = {r["verdict"] for r in rows}
    return verdicts.pop() if len(verdicts) == 1 else "differs by device"


def cells(abl: Ablation, result: Result) -> list[dict]:
    """One cell per hypothesis in declaration order: its number, role, verdict and, for the tooltip, its label,
    difference with CI and adjusted p (per device when several ran)."""
    _, rows = present.hypothesis_table(abl, result.judgement.hypotheses)
    by_h: dict[str, list[dict]] = {}
    for r in rows:
        by_h.setdefault(r["H"], []).append(r)
    diff_col = "A \u2212 B [95% CI]"
    out = []
    for i, hyp in enumerate(abl.hypotheses, 1):
        mine = by_h.get(f"H{i}", [])
        verdict = _cell_verdict(mine) if mine else "not run"
        numbers = "; ".join(
            (f"{r['device']}: " if r["device"] != "-" else "") + "A \u2212 B " + r[diff_col]
            + (f", p Holm {r['p Holm']}" if r["p Holm"] != "-" else "") for r in mine if r["verdict"] != "not run")
        out.append({"H": f"H{i}", "role": hyp.role, "verdict": verdict, "symbol": SYMBOLS.get(verdict, "?"),
                    "title": f"H{i} ({hyp.role}, {verdict}): {hyp.describe()}" + (f". {numbers}" if numbers else ""),
                    "cls": verdict.replace(" ", "-")})
    return out


def rows(ablations: list[Ablation], by_name: dict[str, dict[str, Result]]) -> list[dict]:
    """The matrix: one row per claim, at its largest tier with results (a "not run" row for a claim without), in
    the book's order; smaller tiers are in the claim's own section."""
    from suite.registry import TIERS

    out = []
    for abl in sorted(ablations, key=book_order):
        tiers = by_name.get(abl.name, {})
        if not tiers:
            out.append({"name": abl.name, "section": abl.section, "claim": abl.claim, "tier": "-",
                        "verdict": "not run", "counts": "", "takeaway": f"Not run: python -m suite run {abl.name}",
                        "cells": [], "setting": "", "exceptions": []})
            continue
        tier = max(tiers, key=TIERS.index)
        for result in [tiers[tier]]:
            p = result.judgement.profile
            out.append({"name": abl.name, "section": abl.section, "claim": abl.claim, "tier": tier,
                        "verdict": result.judgement.claim, "counts": p.counts() if p else "",
                        "takeaway": takeaway(result), "cells": cells(abl, result),
                        "setting": f"{tier} tier, {result.seeds} seeds: {data_words(abl, tier)}"
                                   + (f" ({result.sequential})" if result.sequential else ""),
                        "exceptions": [present.exception(e, abl) for e in p.exceptions] if p else []})
    return out


def lede(matrix: list[dict]) -> str:
    """The front page's first sentence: how many claims landed where, and what the tiers mean."""
    tested = [r for r in matrix if r["tier"] != "-"]
    counts: dict[str, int] = {}
    for r in tested:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    tiers = sorted({r["tier"] for r in tested}, key=list(TIER_WORDS).index)
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    text = (f"{len({r['name'] for r in matrix})} claims, in the book's order; of the {len(tested)} judged: {parts}."
            if tested else "No claim has stored results yet.")
    return text + "".join(f" {TIER_WORDS[t][0].upper()}{TIER_WORDS[t][1:]}." for t in tiers)
