"""How judged numbers read: p values, effect sizes, percentages, and why a hypothesis did not reproduce."""

import math

from suite import present
from suite.registry import get
from suite.report import glance


def test_p_values_read_as_readers_expect():
    assert present.p_value(1.61e-20) == "< 0.001"
    assert present.p_value(0.0605) == "0.06" and present.p_value(0.0054) == "0.0054"
    assert present.p_value(float("nan")) == "-" and present.p_value(None) == "-"


def test_effect_sizes_without_spread_are_not_figures():
    assert present.effect_size(-3.22e8) == "< \u221210" and present.effect_size(1280.0) == "> 10"
    assert present.effect_size(float("-inf")) == "-" and present.effect_size(float("nan")) == "-"
    assert present.effect_size(-0.878) == "-0.88"


def test_accuracies_and_binary_outcomes_read_as_percentages():
    vg, rl = get("vanishing_gradients"), get("recurrent_lag")
    assert present.value(vg, "test_acc", 0.9364) == "93.6%"
    assert present.difference(vg, "test_acc", 0.534, 0.453, 0.615) == "+53.4 pts [45.3, 61.5]"
    assert present.value(rl, "solved", 0.5) == "50.0%"  # a binary outcome: the fraction of seeds
    assert present.value(vg, "train_loss", 0.0228) == "0.0228"  # not a proportion
    assert present.difference(vg, "test_acc", None) == "-" and present.difference(vg, "test_acc", 0.02) == "+2.0 pts"
    assert present.difference(vg, "grad_ratio_log10_init", -5.81, -5.91, -5.72) == "-5.81 [-5.91, -5.72]"


def _row(**kw):
    base = {"metric": "test_acc", "direction": "greater", "role": "core", "kind": "continuous", "n_a": 5,
            "n_b": 5, "diff": 0.01, "ci_low": -0.01, "ci_high": 0.03, "p": 0.2, "p_adj": 0.4,
            "verdict": "inconclusive", "margin": math.nan}
    return base | kw


def test_each_unreproduced_hypothesis_says_why():
    vg = get("vanishing_gradients")
    assert present.reason(vg, _row(verdict="reproduced"), 5) == ""
    assert "includes 0 at 5/5 seeds" in present.reason(vg, _row(), 5)
    holm = present.reason(vg, _row(p=0.04, p_adj=0.08), 10)
    assert "p = 0.04 alone, 0.08 after Holm adjustment over 10 core hypotheses" in holm
    wide = present.reason(vg, _row(margin=0.01, ci_low=-0.02, ci_high=0.04), 5)
    assert wide.startswith("underpowered") and "wider than the margin" in wide
    similar = present.reason(vg, _row(direction="similar", margin=0.02, diff=0.014, ci_low=0.002, ci_high=0.026), 5)
    assert "reaches past the margin \u00b12.0 pts" in similar
    against = present.reason(vg, _row(verdict="contradicted", diff=-0.02, ci_low=-0.03, ci_high=-0.01, p=0.001,
                                      p_adj=0.002, tuned="A: lr=1.0 (grid edge) | B: lr=0.1"), 5)
    assert "goes the other way" in against and "-2.0 pts [-3.0, -1.0]" in against and "grid's edge" in against
    assert present.reason(vg, _row(why="fewer than 2 finite values on a side"), 5).startswith("fewer than 2")
    # An exact test can leave an interval that excludes 0 undecided: said, not hidden.
    exact = present.reason(vg, _row(test="McNemar exact", ci_low=0.01, ci_high=0.09, p=0.0625, p_adj=0.0625), 5)
    assert "excludes 0, but the test (McNemar exact) gives p = 0.062" in exact
    assert "other way" not in present.reason(vg, _row(diff=0.0, ci_low=-0.2, ci_high=0.2), 5)  # a tie points nowhere
    inside = present.reason(vg, _row(direction="similar", margin=0.05, diff=0.0, ci_low=-0.02, ci_high=0.02), 5)
    assert "lies within \u00b15.0 pts, but the test" in inside


def test_claims_go_in_the_books_order():
    names = ["recurrent_lag", "optimizers", "vanishing_gradients", "batchnorm_placement", "pretraining_vs_init"]
    ordered = [a.name for a in sorted((get(n) for n in names), key=glance.book_order)]
    assert ordered == ["vanishing_gradients", "pretraining_vs_init", "batchnorm_placement", "optimizers",
                       "recurrent_lag"]


def test_tier_data_in_words():
    assert "8x8" in glance.data_words(get("vanishing_gradients"), "quick")
    assert "MNIST-1D" in glance.data_words(get("optimizers"), "full")
    assert glance.data_words(get("forget_bias"), "quick").startswith("synthetic")
