"""Verdicts from constructed records with known answers: pairing, direction, Holm, diverged runs, tuning per
stratum, the seed as the unit, roles and the claim's profile, binary and censored outcomes, the sequential rule,
devices."""

import numpy as np
import pytest

from suite.declare import Binary, Censored, Greater, Less, Similar, Tier
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
    assert j.claims == {"cpu": "mixed"} and j.claim == "mixed"  # core 1 of 2
    assert j.profile.core == (1, 2) and [e["H"] for e in j.profile.exceptions] == ["H2"]


def test_slice_pairs_over_unnamed_factors_and_holm_adjusts():
    # Without `where`, size is a stratum: each seed's value is its mean over the sizes (the seed is the unit, not
    # seed x size), so 8 values a side, not 16.
    j = judge(_abl([Less("acc", {"arm": "a"}, {"arm": "b"}), Greater("acc", {"arm": "a"}, {"arm": "b"},
                                                                        where={"size": 1})]), _records(VALUES))
    first, second = j.hypotheses.to_dict("records")
    assert first["n_a"] == 8 and first["strata"] == "size"
    d = [(VALUES["a", 1][s] + VALUES["a", 2][s] - VALUES["b", 1][s] - VALUES["b", 2][s]) / 2 for s in range(8)]
    assert first["diff"] == pytest.approx(np.mean(d))
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
    assert row["tuned"] == "A: lr=1.0 | B: lr=0.1"
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
    assert row["tuned"] == "A: trial={0,2,4} | B: trial={0,1,3}"
    # The kept trials differ, so nothing pairs; each seed's kept trials are averaged: 3 values a side, not 9.
    assert row["test"] == "welch t" and row["n_a"] == 3 and row["n_b"] == 3
    assert row["mean_a"] == pytest.approx(0.81) and row["mean_b"] == pytest.approx(0.61)
    assert row["verdict"] == "reproduced"
    assert "best 50% of trial by val" in hyp.describe()
    # The whole grid (fraction 1) keeps every trial, and a minimized metric ranks the other way round.
    row = judge(_trials_abl([Greater("acc", {"cell": "x"}, {"cell": "y"}, top={"trial": ("-val", 0.2)})]),
                _trial_records(val, acc)).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={1} | B: trial={2}"


def test_top_never_keeps_a_setting_where_a_seed_diverged():
    val = {("x", t): 0.1 * t for t in range(5)} | {("y", t): 0.1 * t for t in range(5)}
    acc = {k: 0.5 for k in val}
    hyp = Similar("acc", {"cell": "x"}, {"cell": "y"}, margin=0.1, top={"trial": ("val", 0.4)})
    row = judge(_trials_abl([hyp]), _trial_records(val, acc, status={("x", 4, 1): "diverged"})).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={2,3} | B: trial={3,4}"
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


def test_top_pairs_per_seed_means_when_both_sides_keep_the_same_settings():
    """Both sides rank the trials alike: they keep the same ones, so the per-seed means pair (seed as the unit)."""
    val = {(c, t): 0.1 * t for c in ("x", "y") for t in range(5)}
    acc = {("x", t): 0.5 + 0.1 * t for t in range(5)} | {("y", t): 0.45 + 0.1 * t for t in range(5)}
    hyp = Greater("acc", {"cell": "x"}, {"cell": "y"}, top={"trial": ("val", 0.4)})
    row = judge(_trials_abl([hyp]), _trial_records(val, acc, seeds=4)).hypotheses.iloc[0]
    assert row["tuned"] == "A: trial={3,4} | B: trial={3,4}"
    assert row["test"] == "paired t" and row["n_a"] == 4
    assert row["mean_a"] == pytest.approx(0.5 + 0.35 + 0.015) and row["diff"] == pytest.approx(0.05)


def test_tuning_is_per_stratum():
    """sigmoid is best at lr 1.0, relu at lr 0.1, for both inits: pooled over the activations one rate would
    be chosen for both; per stratum each activation gets its own, and the table says which."""
    abl = validate(
        name="toy", section="0", claim="c", data=None,
        factors={"init": ["xavier", "naive"], "act": ["sigmoid", "relu"], "lr": [0.01, 0.1, 1.0]},
        metrics={"test_acc": "test", "val_acc": "validation"}, config={},
        hypotheses=[Greater("test_acc", {"init": "xavier"}, {"init": "naive"}, best=["lr"])],
        tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [],
    )
    assert abl.hypotheses[0].best == {"lr": "val_acc"}  # the tested metric's validation counterpart
    best = {"sigmoid": 1.0, "relu": 0.1}
    records = []
    for init in ("xavier", "naive"):
        for act in ("sigmoid", "relu"):
            for lr in (0.01, 0.1, 1.0):
                for s in range(5):
                    quality = (0.9 if lr == best[act] else 0.3) + (0.05 if init == "xavier" else 0) + 0.01 * s
                    records.append({"key": f"{init}{act}{lr}{s}", "seed": s, "device": "cpu", "status": "ok",
                                    "factors": {"init": init, "act": act, "lr": lr},
                                    "metrics": {"val_acc": quality, "test_acc": quality + 0.001 * s * s}})
    row = judge(abl, records).hypotheses.iloc[0]
    assert row["strata"] == "act"
    assert row["tuned"] == ("A: lr=0.1 (act=relu); lr=1.0 (grid edge) (act=sigmoid) | "
                            "B: lr=0.1 (act=relu); lr=1.0 (grid edge) (act=sigmoid)")
    assert row["n_a"] == 5 and row["test"] == "paired t"
    assert row["mean_a"] == pytest.approx(0.95 + 0.02 + 0.006) and row["diff"] == pytest.approx(0.05)


def test_validation_counterpart_needs_a_declared_metric():
    from suite.errors import DeclarationError
    with pytest.raises(DeclarationError, match="validation counterpart"):
        _abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, best=["size"])])


def test_roles_sanity_is_a_measurement_and_mechanism_and_secondary_are_not_core():
    hyps = [Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1}),
            Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2}, role="mechanism"),
            Less("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2}, role="sanity"),
            Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2}, role="sanity"),
            Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 2}, role="secondary")]
    j = judge(_abl(hyps), _records(VALUES))
    h = j.hypotheses
    assert list(h["verdict"]) == ["reproduced", "contradicted", "pass", "fail", "contradicted"]
    assert h.loc[2:3, "p"].isna().all() and h.loc[2:3, "effect_size"].isna().all()
    assert h.loc[2, "range_high"] < 0  # every seed's difference is below 0
    # Neither contradiction is an exception to the claim, and each p is adjusted in its own family.
    assert j.claim == "reproduced"
    assert j.profile.counts() == "core 1 of 1, mechanism 0 of 1, secondary 0 of 1, sanity 1 of 2 passed"
    for i in (0, 1, 4):
        assert h.loc[i, "p_adj"] == pytest.approx(h.loc[i, "p"])


def test_a_declaration_needs_a_core_hypothesis_and_a_known_role():
    from suite.errors import DeclarationError
    with pytest.raises(DeclarationError, match="at least one must be core"):
        _abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, role="mechanism")])
    with pytest.raises(DeclarationError, match="role"):
        _abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, role="key")])


def _outcome_abl(hypotheses):
    return validate(
        name="toy", section="0", claim="c", data=None, factors={"arm": ["a", "b"]},
        metrics={"solved": Binary("solved within the budget"), "steps": Censored("steps to solve", event="solved")},
        hypotheses=hypotheses, config={}, tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")},
        train=lambda ctxs: [],
    )


def test_binary_and_censored_outcomes_get_their_own_tests():
    budget = 1000
    steps = {"a": [100, 150, 120, 130, 170, 160, 110, 140], "b": [budget] * 6 + [400, 500]}
    records = [{"key": f"{arm}{s}", "seed": s, "device": "cpu", "status": "ok", "factors": {"arm": arm},
                "metrics": {"steps": t, "solved": float(t < budget)}}
               for arm, ts in steps.items() for s, t in enumerate(ts)]
    abl = _outcome_abl([Greater("solved", {"arm": "a"}, {"arm": "b"}), Less("steps", {"arm": "a"}, {"arm": "b"})])
    solved, fewer = judge(abl, records).hypotheses.to_dict("records")
    assert solved["test"] == "McNemar exact" and solved["p"] == pytest.approx(2 / 2 ** 6)
    assert fewer["test"] == "log-rank" and fewer["censored"] == "0/6" and fewer["p"] < 0.01
    assert fewer["mean_b"] == np.inf and fewer["verdict"] == "reproduced"
    from suite.errors import DeclarationError
    with pytest.raises(DeclarationError, match="continuous"):
        _outcome_abl([Similar("solved", {"arm": "a"}, {"arm": "b"}, margin=0.1)])
    with pytest.raises(DeclarationError, match="Binary"):
        validate(name="toy", section="0", claim="c", data=None, factors={"arm": ["a", "b"]},
                 metrics={"steps": Censored("steps", event="nope")}, hypotheses=[], config={},
                 tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [])


def test_the_sequential_rule_uses_anytime_valid_p_values():
    from suite import sequential
    j_fixed = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]), _records(VALUES))
    j_seq = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]), _records(VALUES),
                  rule="sequential")
    d = np.array(VALUES["a", 1]) - np.array(VALUES["b", 1])
    assert j_seq.rule == "sequential"
    # Twice the smaller one-sided anytime p: the finding's direction is the side whose e-process crossed.
    expected = min(1.0, 2 * min(sequential.p_paired(d, "greater"), sequential.p_paired(d, "less")))
    assert j_seq.hypotheses.iloc[0]["p"] == pytest.approx(expected)
    assert j_seq.hypotheses.iloc[0]["sign"] == 1.0
    assert j_seq.hypotheses.iloc[0]["p"] > j_fixed.hypotheses.iloc[0]["p"]  # the price of looking at every seed


def test_device_equivalence_from_constructed_records():
    """cpu and cuda agree on arm a (to 1e-4 of the mean, tolerance 1%) and differ by 10% on arm b."""
    records = []
    for device, shift in (("cpu", 0.0), ("cuda", 1.0)):
        for (arm, size), accs in VALUES.items():
            for seed, acc in enumerate(accs):
                value = acc + 1.0 + (0.1 * shift if arm == "b" else 1e-4 * shift * (seed % 2 - 0.5))
                records.append({"key": f"{device}{arm}{size}{seed}", "seed": seed, "device": device, "status": "ok",
                                "factors": {"arm": arm, "size": size}, "metrics": {"acc": value}})
    j = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]), records)
    eq = j.devices.set_index(["arm", "size"])
    assert set(eq["devices"]) == {"cuda vs cpu"}
    assert (eq.loc["a", "verdict"] == "same").all() and (eq.loc["b", "verdict"] == "different").all()
    assert (eq["margin"] > 0).all()
    one = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"}, where={"size": 1})]),
                [r for r in records if r["device"] == "cpu"])
    assert one.devices.empty


def test_a_side_missing_a_stratum_is_compared_on_the_strata_both_ran():
    """A ran sizes 1 and 2, B only size 1; within size 1 A is below B. Averaging A over both sizes would compare
    a different mix; the shared stratum alone says A < B, and the table names what was left out."""
    values = {("a", 1): [0.50, 0.51, 0.49, 0.50], ("b", 1): [0.60, 0.62, 0.61, 0.60], ("a", 2): [0.95] * 4}
    row = judge(_abl([Greater("acc", {"arm": "a"}, {"arm": "b"})]), _records(values)).hypotheses.iloc[0]
    assert row["strata_left_out"] == "size=2"
    assert row["mean_a"] == pytest.approx(0.5) and row["verdict"] == "contradicted"


def test_censored_outcomes_with_strata_count_seeds_not_runs():
    """3 seeds x 4 strata, A first everywhere: 12 pairs of runs but 3 seeds a side, so the exact Mann-Whitney test
    on per-seed scores gives p = 0.1 at best - not significant, as 3 seeds cannot be."""
    abl = validate(
        name="toy", section="0", claim="c", data=None, factors={"arm": ["a", "b"], "lag": [1, 2, 3, 4]},
        metrics={"solved": Binary("solved"), "steps": Censored("steps", event="solved")},
        hypotheses=[Less("steps", {"arm": "a"}, {"arm": "b"})], config={},
        tiers={t: Tier(seeds=1) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [])
    records = [{"key": f"{arm}{lag}{s}", "seed": s, "device": "cpu", "status": "ok",
                "factors": {"arm": arm, "lag": lag},
                "metrics": {"steps": 100.0 * lag + (0 if arm == "a" else 50) + s, "solved": 1.0}}
               for arm in ("a", "b") for lag in (1, 2, 3, 4) for s in range(3)]
    row = judge(abl, records).hypotheses.iloc[0]
    assert row["test"] == "log-rank scores, Mann-Whitney" and row["n_a"] == 3 and row["p"] == pytest.approx(0.1)
    assert row["verdict"] == "inconclusive"
    seq = judge(abl, records, rule="sequential").hypotheses.iloc[0]
    assert seq["p"] > 0.05 and not isinstance(seq.get("why"), str)  # paired seeds: an anytime sign test
