"""Verdicts from constructed records with known answers: pairing, direction, Holm, diverged runs."""

import numpy as np
import pytest

from suite.declare import Greater, Less, Similar, Tier
from suite.registry import validate
from suite.verdicts import judge


def _abl(hypotheses):
    return validate(
        name="toy", section="0", claim="c", data=None, factors={"arm": ["a", "b"], "size": [1, 2]},
        metrics={"acc": "accuracy"}, hypotheses=hypotheses, config={},
        tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [],
    )


def _records(values: dict, status=None):
    """values: (arm, size) -> list of per-seed accuracies."""
    out = []
    for (arm, size), accs in values.items():
        for seed, acc in enumerate(accs):
            st = (status or {}).get((arm, size, seed), "ok")
            out.append({"key": f"{arm}{size}{seed}", "ablation": "toy", "tier": "smoke", "seed": seed,
                        "device": "cpu", "status": st, "factors": {"arm": arm, "size": size},
                        "metrics": {} if st != "ok" else {"acc": acc}})
    return out


rng = np.random.default_rng(0)
# Big between-seed spread, a small consistent shift: only a paired test sees it.
BASE = rng.normal(0.5, 0.2, 8)
VALUES = {("a", 1): list(BASE + 0.05 + rng.normal(0, 0.005, 8)), ("b", 1): list(BASE),
          ("a", 2): list(BASE), ("b", 2): list(BASE + 0.05)}


def test_paired_direction_and_contradiction():
    j = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1}),
                    Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2})]), _records(VALUES))
    h = j.hypotheses
    assert list(h["test"]) == ["paired t", "paired t"]
    assert list(h["verdict"]) == ["reproduced", "contradicted"]
    assert (h["p_adj"] >= h["p"]).all()
    assert j.claims == {"cpu": "contradicted"} and j.claim == "contradicted"


def test_slice_pairs_over_unnamed_factors_and_holm_adjusts():
    # Without `where`, each seed contributes one pair per size: 16 pairs, mixed directions -> not significant.
    j = judge(_abl([Less("acc", {"arm": "a"}, {"arm": "b"}), Greater("acc", {"arm": "a"}, {"arm": "b"},
                                                                        where={"size": 1})]), _records(VALUES))
    first, second = j.hypotheses.to_dict("records")
    assert first["n_a"] == 16 and first["verdict"] == "inconclusive"
    small, large = sorted([first["p"], second["p"]])
    expected = {small: min(1.0, 2 * small), large: min(1.0, max(2 * small, large))}
    assert first["p_adj"] == pytest.approx(expected[first["p"]])
    assert second["p_adj"] == pytest.approx(expected[second["p"]])


def test_diverged_runs_are_counted_not_averaged():
    status = {("a", 1, 0): "diverged", ("a", 1, 3): "diverged"}
    j = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]), _records(VALUES, status))
    row = j.hypotheses.iloc[0]
    assert row["n_excluded"] == 2 and row["n_a"] == 6
    assert j.counts == {"ok": 30, "diverged": 2}
    s = j.summary.set_index(["arm", "size", "metric"]).loc[("a", 1, "acc")]
    assert s["n"] == 6 and s["n_excluded"] == 2


def test_hypothesis_without_runs_is_not_run():
    records = [r for r in _records(VALUES) if r["factors"]["size"] == 1]
    j = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2}),
                    Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]), records)
    assert list(j.hypotheses["verdict"]) == ["not run", "reproduced"]
    assert j.claim == "reproduced"  # the untestable hypothesis does not decide the claim


def test_best_compares_each_side_at_its_own_best_setting():
    abl = validate(
        name="toy", section="0", claim="c", data=None, factors={"opt": ["x", "y"], "lr": [0.1, 1.0]},
        metrics={"acc": "test", "val": "validation"}, config={},
        hypotheses=[Greater("acc", {"opt": "x"}, {"opt": "y"}, best={"lr": "val"})],
        tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [],
    )
    # x is best at lr 1.0 (val 0.9), y at lr 0.1 (val 0.8); at those settings x's accuracy is higher.
    table = {("x", 0.1): (0.5, 0.3), ("x", 1.0): (0.9, 0.7), ("y", 0.1): (0.8, 0.6), ("y", 1.0): (0.2, 0.9)}
    records = [{"key": f"{o}{lr}{s}", "seed": s, "device": "cpu", "status": "ok", "factors": {"opt": o, "lr": lr},
                "metrics": {"val": v + 0.01 * s, "acc": a + 0.01 * s + 0.001 * s * s * (o == "x")}}
               for (o, lr), (v, a) in table.items() for s in range(6)]
    row = judge(abl, records).hypotheses.iloc[0]
    assert row["tuned"] == "A: lr=1.0; B: lr=0.1"
    assert row["test"] == "paired t" and row["n_a"] == 6
    assert row["mean_a"] > 0.7 and row["mean_b"] < 0.7 and row["verdict"] == "reproduced"


def test_similar_needs_evidence_of_equivalence_not_just_no_difference():
    close = {("a", 1): list(BASE + 0.001), ("b", 1): list(BASE), ("a", 2): list(BASE + 0.3), ("b", 2): list(BASE)}
    hyps = [Similar("acc", {"arm": "a"}, {"arm": "b"}, margin=0.02, where={"size": 1}),
            Similar("acc", {"arm": "a"}, {"arm": "b"}, margin=0.02, where={"size": 2})]
    h = judge(_abl(hyps), _records(close)).hypotheses
    assert list(h["verdict"]) == ["reproduced", "contradicted"]
    # Two seeds of noisy data show no difference, but not equivalence either.
    noisy = {("a", 1): [0.1, 0.9], ("b", 1): [0.5, 0.4]}
    row = judge(_abl(hyps[:1]), _records(noisy)).hypotheses.iloc[0]
    assert row["verdict"] == "inconclusive" and row["p_difference"] > 0.05


def _trials_abl(hypotheses):
    return validate(
        name="toy", section="0", claim="c", data=None, factors={"cell": ["x", "y"], "trial": [0, 1, 2, 3, 4]},
        metrics={"acc": "test", "val": "validation"}, config={}, hypotheses=hypotheses,
        tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [],
    )


def _trial_records(val: dict, acc: dict, seeds: int = 3, status=None) -> list[dict]:
    """val/acc: (cell, trial) -> value; each seed adds a small, distinct offset."""
    return [{"key": f"{c}{t}{s}", "seed": s, "device": "cpu", "status": (status or {}).get((c, t, s), "ok"),
             "factors": {"cell": c, "trial": t},
             "metrics": {} if (status or {}).get((c, t, s)) else {"val": v + 0.001 * s, "acc": acc[c, t] + 0.01 * s}}
            for (c, t), v in val.items() for s in range(seeds)]


def test_top_keeps_each_sides_best_fraction_and_uses_welch():
    # x's validation ranks trials 4 > 2 > 0 > ...; y's ranks 1 > 3 > 0 > ...: the best 50% of 5 is 3 trials each.
    val = {("x", t): v for t, v in enumerate([0.5, 0.1, 0.7, 0.2, 0.9])} | \
          {("y", t): v for t, v in enumerate([0.5, 0.9, 0.1, 0.7, 0.2])}
    acc = {("x", t): 0.8 if t in (0, 2, 4) else 0.1 for t in range(5)} | \
          {("y", t): 0.6 if t in (0, 1, 3) else 0.95 for t in range(5)}
    hyp = Greater("acc", {"cell": "x"}, {"cell": "y"}, top={"trial": ("val", 0.5)})
    row = judge(_trials_abl([hyp]), _trial_records(val, acc)).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={0,2,4}; B: trial={0,1,3}"
    assert row["test"] == "welch t" and row["n_a"] == 9 and row["n_b"] == 9
    assert row["mean_a"] == pytest.approx(0.81) and row["mean_b"] == pytest.approx(0.61)
    assert row["verdict"] == "reproduced"
    assert "best 50% of trial by val" in hyp.describe()
    # The whole grid (fraction 1) keeps every trial, and a minimized metric ranks the other way round.
    row = judge(_trials_abl([Greater("acc", {"cell": "x"}, {"cell": "y"}, top={"trial": ("-val", 0.2)})]),
                _trial_records(val, acc)).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={1}; B: trial={2}"


def test_top_never_keeps_a_setting_where_a_seed_diverged():
    val = {("x", t): 0.1 * t for t in range(5)} | {("y", t): 0.1 * t for t in range(5)}
    acc = {k: 0.5 for k in val}
    hyp = Similar("acc", {"cell": "x"}, {"cell": "y"}, margin=0.1, top={"trial": ("val", 0.4)})
    row = judge(_trials_abl([hyp]), _trial_records(val, acc, status={("x", 4, 1): "diverged"})).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={2,3}; B: trial={3,4}"
    assert row["test"] == "welch t" and row["verdict"] == "reproduced"


@pytest.mark.parametrize("top, why", [
    ({"trial": ("val", 0)}, "0 < fraction <= 1"),
    ({"trial": "val"}, "(metric, fraction)"),
    ({"trial": ("nope", 0.5)}, "not a declared metric"),
    ({"cell": ("val", 0.5)}, "not named in a, b, where or best"),
])
def test_top_is_validated(top, why):
    from suite.errors import DeclarationError
    with pytest.raises(DeclarationError, match="top") as exc:
        _trials_abl([Greater("acc", {"cell": "x"}, {"cell": "y"}, top=top)])
    assert why in str(exc.value)
