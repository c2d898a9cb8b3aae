"""Seeds added in rounds until a claim is decided (``run --until-decided``), judged by the sequential rule.

The tier's seeds are the first round; each later round adds half as many again (at least 2), reusing every stored
run, until every core hypothesis is reproduced or contradicted by its anytime-valid p value
(:mod:`suite.sequential`), or the cap is reached. Looking after every round keeps the error rate, which repeated
fixed-n tests do not. The runs stay ordinary records; where the default plan stopped is kept beside them
(:meth:`suite.store.Store.write_sequential`) so that ``show`` and ``report`` judge the same seeds by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from suite.errors import UsageError
from suite.registry import Ablation
from suite.results import Result, collect
from suite.store import Store
from suite.verdicts import NO_ANYTIME

DEFAULT_CAP = 4  # times the tier's seeds


def round_size(tier_seeds: int) -> int:
    return max(2, tier_seeds // 2)


def undecided(result: Result) -> tuple[list[str], list[str]]:
    """The core hypotheses (H numbers, per device) that more seeds may still decide - tested, neither reproduced nor
    contradicted - and those the sequential rule cannot decide (no anytime-valid test for their comparison).
    Hypotheses not run or failed cannot change by adding seeds of this plan and do not hold the rounds."""
    h = result.judgement.hypotheses
    if h.empty:
        return [], []
    number = {hyp.describe(): i for i, hyp in enumerate(result.abl.hypotheses, 1)}
    core = h[(h["role"] == "core") & (h["verdict"] == "inconclusive")]
    why = core["why"].fillna("").astype(str) if "why" in core else pd.Series("", index=core.index)
    untestable = why.str.startswith(NO_ANYTIME)

    def names(rows):
        return [f"H{number.get(r['hypothesis'], '?')} ({r['device']})" for r in rows.to_dict("records")]

    return names(core[~untestable]), names(core[untestable])


@dataclass
class Stop:
    seeds: int
    stopped: str
    rounds: list[int]


def until_decided(abl: Ablation, tier: str, store: Store, run_plan: Callable[[int], list], execute: Callable,
                  max_seeds: int | None = None, on_round: Callable[[int, Result], None] | None = None) -> tuple[Result, Stop]:
    """Run rounds of seeds: ``run_plan(n)`` gives the plan at n seeds, ``execute(specs)`` runs what is not stored.
    Returns the last round's result, judged by the sequential rule, and why it stopped."""
    first = abl.tiers[tier].seeds
    cap = max_seeds if max_seeds is not None else DEFAULT_CAP * first
    if cap < first:
        raise UsageError(f"--max-seeds {cap} is below the {tier} tier's {first} seeds")
    n, rounds = first, []
    while True:
        specs = run_plan(n)
        execute(specs)
        rounds.append(n)
        result = collect(abl, specs, store, {"seeds": n, "stopped": "in progress"})
        if on_round:
            on_round(n, result)
        left, untestable = undecided(result)
        tested = result.judgement.hypotheses
        if tested.empty or not ((tested["role"] == "core") & tested["verdict"].isin(("reproduced", "contradicted",
                                                                                      "inconclusive"))).any():
            stop = Stop(n, "no core hypothesis can be tested in this plan", rounds)
            break
        if not left:
            stop = Stop(n, "every core hypothesis decided" if not untestable else
                        f"every core hypothesis with an anytime-valid test decided ({', '.join(untestable)}: none)",
                        rounds)
            break
        if n >= cap:
            stop = Stop(n, f"cap of {cap} seeds reached ({', '.join(left)} undecided)", rounds)
            break
        n = min(cap, n + round_size(first))
    result.sequential = f"sequential rule: {stop.seeds} seeds, {stop.stopped}"
    return result, stop
