"""Known-answer tests for suite.stats (no mocks)."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from suite import stats
from suite.stats import ALPHA, Comparison, ci_mean, compare, holm, profile_verdict, summarize, verdict


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------- ci_mean

def test_ci_mean_hand_computation():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    m, s, n = x.mean(), x.std(ddof=1), x.size
    half = scipy.stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    assert ci_mean(x) == pytest.approx((m - half, m + half), rel=1e-12)
    half90 = scipy.stats.t.ppf(0.95, n - 1) * s / math.sqrt(n)
    assert ci_mean(x, confidence=0.90) == pytest.approx((m - half90, m + half90), rel=1e-12)


def test_ci_mean_ignores_non_finite_and_short_input(no_warnings):
    assert ci_mean([1.0, 2.0, 4.0, 7.0, np.nan, np.inf]) == ci_mean([1.0, 2.0, 4.0, 7.0])
    for short in ([], [3.0], [3.0, np.nan], [np.inf, -np.inf]):
        lo, hi = ci_mean(short)
        assert math.isnan(lo) and math.isnan(hi)
    assert ci_mean([2.5, 2.5, 2.5]) == (2.5, 2.5)


def test_ci_mean_coverage():
    # 2000 samples of n=5 from N(3, 2): coverage ~ Binomial(2000, 0.95)/2000, sd = 0.0049;
    # the band 93.5%..96.5% is about +-3 sd.
    rng = np.random.default_rng(12345)
    samples = rng.normal(3.0, 2.0, size=(2000, 5))
    covered = [lo <= 3.0 <= hi for lo, hi in map(ci_mean, samples)]
    assert 0.935 <= np.mean(covered) <= 0.965


# ---------------------------------------------------------------- compare

def _paired_data():
    rng = np.random.default_rng(0)
    seeds = range(8)
    base = rng.normal(0.0, 10.0, size=8)  # large between-seed variance
    a = pd.Series(base + 1.0 + rng.normal(0.0, 0.1, size=8), index=seeds)
    b = pd.Series(base, index=seeds)
    return a, b


def test_paired_detects_shift_that_welch_misses():
    a, b = _paired_data()
    c = compare(a, b)
    assert c.test == "paired t"
    ref = scipy.stats.ttest_rel(a.to_numpy(), b.to_numpy())
    assert c.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert c.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert c.p < 1e-3
    d = (a - b).to_numpy()
    assert c.diff == pytest.approx(d.mean())
    assert c.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high))
    assert c.n_a == c.n_b == 8 and c.n_excluded == 0

    w = compare(a, b, paired=False)
    assert w.test == "welch t"
    assert w.p > 0.05


def test_paired_aligns_on_index():
    a, b = _paired_data()
    shuffled = b.sample(frac=1.0, random_state=1)
    assert compare(a, shuffled) == compare(a, b)


def test_welch_when_indices_differ():
    a = pd.Series([1.0, 2.5, 3.1, 4.0, 2.2], index=[0, 1, 2, 3, 4])
    b = pd.Series([3.0, 4.1, 5.5, 3.9, 6.0, 5.2], index=[10, 11, 12, 13, 14, 15])
    c = compare(a, b)
    assert c.test == "welch t"
    ref = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert c.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert c.statistic == pytest.approx(ref.statistic, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high))
    # Hedges' g by hand
    na, nb = len(a), len(b)
    sp = math.sqrt(((na - 1) * a.var() + (nb - 1) * b.var()) / (na + nb - 2))
    g = (a.mean() - b.mean()) / sp * (1 - 3 / (4 * (na + nb) - 9))
    assert c.effect_size == pytest.approx(g)
    assert (c.n_a, c.n_b) == (5, 6)
    with pytest.raises(ValueError):
        compare(a, b, paired=True)


def test_non_finite_excluded_and_counted(no_warnings):
    a, b = _paired_data()
    a2, b2 = a.copy(), b.copy()
    a2[0] = np.nan
    b2[3] = np.inf
    c = compare(a2, b2)
    keep = [s for s in a.index if s not in (0, 3)]
    assert c.test == "paired t"
    assert c.n_excluded == 2
    assert c.n_a == c.n_b == 6
    assert c.p == pytest.approx(scipy.stats.ttest_rel(a[keep], b[keep]).pvalue)

    w = compare(a2.reset_index(drop=True), b2.set_axis(range(100, 108)))
    assert w.test == "welch t" and (w.n_a, w.n_b, w.n_excluded) == (7, 7, 2)
    assert w.p == pytest.approx(scipy.stats.ttest_ind(a.drop(0), b.drop(3), equal_var=False).pvalue)


def test_too_few_values_gives_none(no_warnings):
    c = compare(pd.Series([1.0, np.nan]), pd.Series([2.0, 3.0, 4.0], index=[5, 6, 7]))
    assert c.test == "none" and math.isnan(c.p) and (c.n_a, c.n_b, c.n_excluded) == (1, 3, 1)
    assert c.diff == pytest.approx(1.0 - 3.0)
    c = compare(pd.Series([1.0, 2.0]), pd.Series([2.0, 3.0]), paired=True)
    assert c.test == "paired t"
    c = compare(pd.Series([1.0, np.nan]), pd.Series([2.0, 3.0]), paired=True)
    assert c.test == "none" and math.isnan(c.p) and c.n_a == c.n_b == 1


def test_degenerate_paired(no_warnings):
    a = pd.Series([1.0, 2.0, 3.0, 4.0])
    c = compare(a, a - 0.5)  # every difference 0.5 (up to rounding)
    assert c.test == "paired t"
    assert c.p == 0.0 and math.isnan(c.effect_size) and c.statistic == math.inf
    assert (c.ci_low, c.ci_high) == (c.diff, c.diff) and c.diff == pytest.approx(0.5)
    c = compare(a, a + 2.0)
    assert c.p == 0.0 and math.isnan(c.effect_size) and c.statistic == -math.inf
    c = compare(a, a.copy())
    assert c.p == 1.0 and math.isnan(c.effect_size) and c.diff == 0.0


def test_degenerate_welch(no_warnings):
    a = pd.Series([2.0, 2.0, 2.0])
    b = pd.Series([1.0, 1.0, 1.0, 1.0], index=[7, 8, 9, 10])
    c = compare(a, b)
    assert c.test == "welch t" and c.p == 0.0 and math.isnan(c.effect_size) and c.diff == 1.0
    c = compare(b, a)
    assert c.p == 0.0 and math.isnan(c.effect_size) and c.statistic == -math.inf
    c = compare(a, pd.Series([2.0, 2.0], index=[5, 6]))
    assert c.p == 1.0 and math.isnan(c.effect_size)
    # one side constant, the other not: ordinary Welch
    c = compare(a, pd.Series([1.0, 1.5, 0.5], index=[5, 6, 7]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's own precision check misfires on a constant side
        ref = scipy.stats.ttest_ind([2.0] * 3, [1.0, 1.5, 0.5], equal_var=False)
    assert c.p == pytest.approx(ref.pvalue) and c.test == "welch t"


def test_comparison_is_dataclass():
    c = compare(*_paired_data())
    assert isinstance(c, Comparison) and isinstance(c.n_a, int) and isinstance(c.n_excluded, int)


# ---------------------------------------------------------------- holm

def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == pytest.approx([0.02])
    assert holm([]).shape == (0,)


def test_holm_nan_not_counted():
    out = holm([0.01, np.nan, 0.04, 0.03, 0.005])
    assert math.isnan(out[1])
    assert np.delete(out, 1) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_holm_monotone_in_raw_order():
    p = np.random.default_rng(3).uniform(0, 0.2, size=30)
    adj = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 1.0), st.just(float("nan"))), max_size=20))
def test_holm_property(ps):
    p = np.asarray(ps, dtype=float)
    adj = holm(p)
    ok = ~np.isnan(p)
    assert np.array_equal(np.isnan(adj), ~ok)
    assert np.all(adj[ok] >= p[ok]) and np.all(adj[ok] <= 1.0)
    # order preserved among non-NaN entries
    order = np.argsort(p[ok], kind="stable")
    assert np.all(np.diff(adj[ok][order]) >= 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30))
def test_ci_contains_mean_property(xs):
    lo, hi = ci_mean(xs)
    assert lo <= np.mean(xs) <= hi


# ---------------------------------------------------------------- verdicts

@pytest.mark.parametrize(
    "diff, p, direction, expected",
    [
        (1.0, 0.01, "greater", "reproduced"),
        (-1.0, 0.01, "greater", "contradicted"),
        (-1.0, 0.01, "less", "reproduced"),
        (1.0, 0.01, "less", "contradicted"),
        (1.0, 0.20, "greater", "inconclusive"),
        (-1.0, 0.20, "less", "inconclusive"),
        (1.0, ALPHA, "greater", "inconclusive"),  # strict inequality
        (1.0, float("nan"), "greater", "inconclusive"),
        (float("nan"), 0.01, "greater", "inconclusive"),
        (0.0, 0.01, "greater", "inconclusive"),
        (math.inf, 0.0, "greater", "reproduced"),
        (-math.inf, 0.0, "greater", "contradicted"),
    ],
)
def test_verdict_table(diff, p, direction, expected):
    assert verdict(diff, p, direction) == expected


def test_verdict_alpha_and_bad_direction():
    assert verdict(1.0, 0.03, "greater", alpha=0.01) == "inconclusive"
    with pytest.raises(ValueError):
        verdict(1.0, 0.01, "two-sided")


@pytest.mark.parametrize(
    "vs, expected",
    [
        (["reproduced", "reproduced"], "reproduced"),
        (["reproduced", "not run", "failed"], "reproduced"),
        (["reproduced"] * 4 + ["contradicted"], "reproduced with exceptions"),
        (["reproduced", "reproduced", "inconclusive"], "reproduced with exceptions"),
        (["reproduced", "inconclusive"], "mixed"),
        (["reproduced", "contradicted", "contradicted"], "mixed"),
        (["inconclusive", "contradicted"], "not reproduced"),
        (["contradicted"], "not reproduced"),
        (["inconclusive", "inconclusive"], "not enough evidence"),
        (["not run", "failed"], "failed"),
        (["not run", "not run"], "not run"),
        ([], "not run"),
    ],
)
def test_profile_verdict_table(vs, expected):
    assert profile_verdict(vs) == expected


def test_profile_verdict_rejects_unknown():
    with pytest.raises(ValueError):
        profile_verdict(["reproduced", "maybe"])


# ---------------------------------------------------------------- outcomes of other kinds

def test_mcnemar_exact_on_a_constructed_table():
    """10 seeds pair; the sides disagree on 6, all in A's favour: McNemar's exact p is the two-sided binomial
    p of 6 successes in 6 fair trials, 2 / 2**6."""
    a = pd.Series([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    b = pd.Series([0, 0, 0, 0, 0, 0, 1, 1, 0, 0], dtype=float)
    c = stats.compare_binary(a, b)
    assert c.test == "McNemar exact"
    assert c.p == pytest.approx(2 / 2 ** 6)
    assert c.diff == pytest.approx(0.6) and c.ci_low < 0.6 < c.ci_high
    assert math.isnan(c.effect_size)


def test_fisher_exact_when_seeds_do_not_pair():
    a = pd.Series([1, 1, 1, 1, 1, 0], index=range(6), dtype=float)
    b = pd.Series([0, 0, 0, 0, 1, 0], index=range(10, 16), dtype=float)
    c = stats.compare_binary(a, b)
    assert c.test == "Fisher exact"
    assert c.p == pytest.approx(scipy.stats.fisher_exact([[5, 1], [1, 5]]).pvalue)
    assert c.p == pytest.approx(0.08008, abs=1e-5)  # the hypergeometric table, by hand: 2 x (1 + 36) / 924


def test_binary_fractions_per_seed_use_the_exact_sign_test():
    a = pd.Series([1.0, 1.0, 0.5, 1.0, 0.5])
    b = pd.Series([0.0, 0.5, 0.5, 0.0, 0.0])
    c = stats.compare_binary(a, b)
    assert c.test == "sign test" and c.p == pytest.approx(2 / 2 ** 4)


def test_censored_steps_treat_the_budget_as_censoring():
    """A reaches the target on every seed; B never does on 4 of 6 seeds (capped at the budget, 1000). The cap is
    censoring: the log-rank test, and Kaplan-Meier medians (B's lies beyond the budget)."""
    a = pd.DataFrame({"time": [200, 250, 300, 220, 260, 900], "event": [1, 1, 1, 1, 1, 1]})
    b = pd.DataFrame({"time": [1000, 1000, 1000, 1000, 400, 800], "event": [0, 0, 0, 0, 1, 1]})
    c = stats.compare_censored(a, b)
    assert c.test == "log-rank" and c.n_censored == (0, 4) and (c.n_a, c.n_b) == (6, 6)
    ref = scipy.stats.logrank(scipy.stats.CensoredData(uncensored=a["time"].to_numpy(float)),
                              scipy.stats.CensoredData(uncensored=[400.0, 800.0], right=[1000.0] * 4))
    assert c.p == pytest.approx(ref.pvalue) and c.p < 0.05
    assert c.statistic < 0  # signed like a - b: A took fewer steps
    assert c.mean_a == pytest.approx(255) and c.mean_b == math.inf


def test_logrank_scores_sum_to_the_logrank_numerator():
    """Savage scores (event - Nelson-Aalen hazard) of one group sum to its observed minus expected events, the
    log-rank statistic's numerator; over a whole sample they sum to 0."""
    time = np.array([3.0, 5, 5, 8, 10, 10, 12, 15])
    event = np.array([1, 1, 0, 1, 1, 0, 1, 0])
    scores = stats.logrank_scores(time, event)
    assert scores.sum() == pytest.approx(0.0, abs=1e-12)
    group = np.array([1, 0, 1, 0, 1, 0, 0, 1], dtype=bool)
    expected = sum(((time >= t) & group).sum() / (time >= t).sum() * ((time == t) & (event == 1)).sum()
                   for t in np.unique(time[event == 1]))
    assert scores[group].sum() == pytest.approx(event[group].sum() - expected)


def test_censored_strata_are_averaged_per_seed():
    """3 seeds x 2 strata: one log-rank score per seed and side, so the exact Mann-Whitney test on 3 vs 3 values -
    at best p = 0.1, as 3 seeds a side allow - not a test on 6 runs a side."""
    idx = pd.MultiIndex.from_product([range(3), [20, 40]], names=["seed", "lag"])
    a = pd.DataFrame({"time": [100.0, 200, 110, 210, 120, 220], "event": 1}, index=idx)
    b = pd.DataFrame({"time": [300.0, 500, 310, 500, 320, 500], "event": [1, 0, 1, 0, 1, 0]}, index=idx)
    c = stats.compare_censored(a, b)
    assert c.test == "log-rank scores, Mann-Whitney" and (c.n_a, c.n_b) == (3, 3)
    assert c.p == pytest.approx(0.1) and c.statistic < 0
    twice = pd.concat([a, a]).sort_index()  # two runs of one seed in one stratum: no seed-level test
    assert stats.compare_censored(twice, b).test == "none"


def test_censored_with_nobody_reaching_the_target_is_no_evidence():
    a = pd.DataFrame({"time": [1000.0] * 4, "event": [0] * 4})
    c = stats.compare_censored(a, a.copy())
    assert c.p == 1.0 and c.n_censored == (4, 4)


def test_equivalence_and_its_opposite_are_symmetric():
    """TOST at 0.05 <=> the 90% CI inside the margin; the opposite finding at 0.05 <=> the 95% CI outside it."""
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.3, 0.6, 1.2):
        a = pd.Series(rng.normal(shift, 0.2, 10))
        b = pd.Series(rng.normal(0.0, 0.2, 10))
        res = scipy.stats.ttest_rel(a, b)
        ci90 = res.confidence_interval(0.90)
        ci95 = res.confidence_interval(0.95)
        margin = 0.5
        assert (stats.equivalence_p(a, b, margin) < 0.05) == (-margin < ci90.low and ci90.high < margin)
        assert (stats.nonequivalence_p(a, b, margin) < 0.05) == (ci95.low > margin or ci95.high < -margin)
        assert not (stats.equivalence_p(a, b, margin) < 0.05 and stats.nonequivalence_p(a, b, margin) < 0.05)
    assert stats.similar_verdict(0.01, 1.0) == "reproduced"
    assert stats.similar_verdict(1.0, 0.01) == "contradicted"
    assert stats.similar_verdict(0.2, 0.3) == "inconclusive"


def test_no_effect_size_below_three_seeds():
    c = compare(pd.Series([1.0, 2.0]), pd.Series([0.0, 0.5]))
    assert c.test == "paired t" and math.isnan(c.effect_size)


# ---------------------------------------------------------------- summarize

def test_summarize_against_numpy(no_warnings):
    df = pd.DataFrame(
        {
            "model": ["mlp"] * 5 + ["cnn"] * 4 + ["rnn"],
            "lr": [0.1] * 3 + [0.01] * 2 + [0.1] * 4 + [0.1],
            "seed": [0, 1, 2, 0, 1, 0, 1, 2, 3, 0],
            "value": [1.0, 2.0, np.nan, 4.0, 4.0, 0.5, np.inf, 0.7, 0.2, 9.0],
        }
    )
    out = summarize(df, ["model", "lr"])
    assert list(out.columns) == ["model", "lr", "n", "n_excluded", "mean", "std", "ci_low", "ci_high"]
    assert len(out) == 4
    rows = out.set_index(["model", "lr"])
    for (model, lr), g in df.groupby(["model", "lr"]):
        v = g["value"].to_numpy()
        x = v[np.isfinite(v)]
        r = rows.loc[(model, lr)]
        assert r["n"] == x.size and r["n_excluded"] == v.size - x.size
        assert r["mean"] == pytest.approx(x.mean())
        if x.size >= 2:
            assert r["std"] == pytest.approx(x.std(ddof=1))
            assert (r["ci_low"], r["ci_high"]) == pytest.approx(ci_mean(x))
        else:
            assert math.isnan(r["std"]) and math.isnan(r["ci_low"]) and math.isnan(r["ci_high"])
    cnn = rows.loc[("cnn", 0.1)]
    x = np.array([0.5, 0.7, 0.2])
    half = scipy.stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
    assert (cnn["ci_low"], cnn["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert (cnn["n"], cnn["n_excluded"]) == (3, 1)
    const = rows.loc[("mlp", 0.01)]
    assert (const["std"], const["ci_low"], const["ci_high"]) == (0.0, 4.0, 4.0)


def test_summarize_all_diverged_group(no_warnings):
    df = pd.DataFrame({"arm": ["a", "a", "b", "b"], "value": [np.nan, np.inf, 1.0, 3.0]})
    out = summarize(df, ["arm"]).set_index("arm")
    assert (out.loc["a", "n"], out.loc["a", "n_excluded"]) == (0, 2)
    assert math.isnan(out.loc["a", "mean"]) and math.isnan(out.loc["a", "ci_low"])
    assert out.loc["b", "mean"] == 2.0 and out.loc["b", "n"] == 2


def test_equivalence_p_matches_two_one_sided_paired_tests():
    rng = np.random.default_rng(1)
    a = pd.Series(rng.normal(0, 1, 12))
    b = a + rng.normal(0.01, 0.02, 12)
    d = (a - b).to_numpy()
    lower = scipy.stats.ttest_1samp(d + 0.05, 0, alternative="greater").pvalue
    upper = scipy.stats.ttest_1samp(d - 0.05, 0, alternative="less").pvalue
    assert stats.equivalence_p(a, b, 0.05) == pytest.approx(max(lower, upper))


@pytest.mark.parametrize("paired", [True, False])
def test_one_sided_p_is_half_the_two_sided_one_towards_the_alternative(paired):
    a, b = _paired_data()
    two = compare(a, b, paired=paired)
    towards, away = ("greater", "less") if two.statistic > 0 else ("less", "greater")
    assert compare(a, b, paired=paired, alternative=towards).p == pytest.approx(two.p / 2)
    assert compare(a, b, paired=paired, alternative=away).p == pytest.approx(1 - two.p / 2)
    assert (compare(a, b, paired=paired, alternative=towards).ci_low, two.ci_high) == (two.ci_low, two.ci_high)


def test_rounding_noise_is_never_a_finding():
    """Two arms computing the same quantity, one as v and one as sum([v / 10] * 10): they differ in the last bits
    only, which a paired test must not call a difference."""
    v = np.random.default_rng(0).uniform(0.1, 10, 5)
    a = pd.Series(v, index=range(5))
    b = pd.Series([sum([x / 10] * 10) for x in v], index=range(5))
    assert (a != b).any()
    c = compare(a, b, paired=True)
    assert c.diff == 0 and c.p == 1.0 and verdict(c.diff, c.p, "greater") == "inconclusive"
    welch = compare(a, b, paired=False)
    assert abs(welch.diff) < 1e-12 and welch.p > 0.999
    constant = compare(pd.Series([0.3] * 4), pd.Series([0.1 + 0.2] * 4), paired=False)  # 0.30000000000000004
    assert constant.diff == 0 and constant.p == 1.0
