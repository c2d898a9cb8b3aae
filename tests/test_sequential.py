"""Simulation checks of suite.sequential: error rates under optional stopping, power, monotonicity, edge cases."""

import math
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from suite.sequential import (
    equivalence_p,
    log_e_t,
    nonequivalence_p,
    p_binary_paired,
    p_paired,
    p_two_sample,
    simulate,
)

ALPHA = 0.05
REPS = 2000
N_MAX = 30
BOUND = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / REPS)  # alpha + 3 Monte Carlo standard errors


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _rate(pvalues) -> float:
    return float(np.mean(np.asarray(pvalues) <= ALPHA))


# ---------------------------------------------------------------- the e-value formula

def _haar_bayes_factor(x, side, g=1.0):
    """Direct numerical Bayes factor: prior d sigma / sigma, delta ~ N(0, g) (restricted to one side if asked)."""
    n, sx, sxx = len(x), float(np.sum(x)), float(np.sum(x * x))

    def lik(delta, u):  # u = 1 / sigma
        return u ** (n - 1) * np.exp(-0.5 * u * u * sxx + u * delta * sx - 0.5 * n * delta**2)

    den = scipy.integrate.quad(lambda u: lik(0.0, u), 0, np.inf)[0]
    lo, hi, w = {"two-sided": (-np.inf, np.inf, 1), "greater": (0, np.inf, 2), "less": (-np.inf, 0, 2)}[side]
    num = scipy.integrate.dblquad(lambda u, d: lik(d, u) * w * scipy.stats.norm.pdf(d, 0, math.sqrt(g)),
                                  lo, hi, 0, np.inf)[0]
    return num / den


@pytest.mark.parametrize("side", ["two-sided", "greater", "less"])
def test_closed_form_matches_direct_integral(side):
    x = np.random.default_rng(3).normal(0.4, 1.3, 5)
    rho = x.sum() / math.sqrt(x.size * np.sum(x * x))
    e = math.exp(log_e_t(rho, x.size, x.size, side, math.sqrt(0.5)))
    assert e == pytest.approx(_haar_bayes_factor(x, side, 0.5), rel=1e-6)


def test_simulate_agrees_with_p_paired():
    """simulate()'s vectorised rule is the same rule as p_paired on each path."""
    rng = np.random.default_rng(11)
    x = rng.normal(0.6, 1.0, size=(50, 15))
    r = simulate(0.6, 15, 50, rng=np.random.default_rng(11))
    assert r["anytime"] == _rate([p_paired(row) for row in x])


# ---------------------------------------------------------------- paired t, optional stopping

def test_null_anytime_valid_while_repeated_t_inflates():
    r = simulate(0.0, N_MAX, REPS, ALPHA, rng=1)
    assert r["anytime"] <= BOUND
    assert r["repeated_t"] > BOUND  # peeking with the fixed-n t test is not valid
    assert r["fixed_t"] <= BOUND  # ...though one look at n_max is


@pytest.mark.parametrize("alternative, effect", [("greater", -0.3), ("greater", 0.0), ("less", 0.3)])
def test_one_sided_composite_null(alternative, effect):
    assert simulate(effect, N_MAX, REPS, ALPHA, rng=2, alternative=alternative)["anytime"] <= BOUND


def test_power_at_one_sd():
    r = simulate(1.0, N_MAX, REPS, ALPHA, rng=3)
    assert r["anytime"] > 0.9
    assert r["mean_stop_n"] < N_MAX / 2
    assert simulate(1.0, N_MAX, REPS, ALPHA, rng=3, alternative="greater")["anytime"] > 0.9


def test_null_shift_and_scale_invariance():
    d = np.random.default_rng(4).normal(2.0, 0.5, 12)
    assert p_paired(d, null=2.0) == pytest.approx(p_paired((d - 2.0) * 1000.0), rel=1e-9)
    assert p_paired(d, "greater", null=2.0) == pytest.approx(p_paired(-(d - 2.0), "less"), rel=1e-9)


# ---------------------------------------------------------------- two-sample

def test_two_sample_unequal_variances_null():
    rng = np.random.default_rng(5)
    p = [p_two_sample(rng.normal(1.0, 1.0, N_MAX), rng.normal(1.0, 4.0, N_MAX)) for _ in range(REPS)]
    assert _rate(p) <= BOUND


def test_two_sample_pooled_null_and_power():
    rng = np.random.default_rng(6)
    null = [p_two_sample(rng.normal(0, 2, N_MAX), rng.normal(0, 2, N_MAX - 5), equal_var=True) for _ in range(REPS)]
    assert _rate(null) <= BOUND
    # 1 sd between arms of 30 seeds each (about 0.81 pooled, 0.78 paired by arrival order, 0.85 one-sided)
    for kw in ({"equal_var": True}, {}, {"alternative": "greater"}):
        power = [p_two_sample(rng.normal(1, 1, N_MAX), rng.normal(0, 1, N_MAX), **kw) for _ in range(500)]
        assert _rate(power) > 0.7


# ---------------------------------------------------------------- binary (sequential McNemar)

def test_binary_null_independent_and_same_rate():
    rng = np.random.default_rng(7)
    p = [p_binary_paired(rng.random(N_MAX) < 0.5, rng.random(N_MAX) < 0.5) for _ in range(REPS)]
    assert _rate(p) <= BOUND
    p = [p_binary_paired(rng.random(N_MAX) < 0.8, rng.random(N_MAX) < 0.8, "greater") for _ in range(REPS)]
    assert _rate(p) <= BOUND
    # composite one-sided null: a is worse than b
    p = [p_binary_paired(rng.random(N_MAX) < 0.4, rng.random(N_MAX) < 0.6, "greater") for _ in range(REPS)]
    assert _rate(p) <= BOUND


def test_binary_strong_effect_decided():
    rng = np.random.default_rng(8)
    for alt in ("two-sided", "greater"):
        p = [p_binary_paired(rng.random(N_MAX) < 0.9, rng.random(N_MAX) < 0.1, alt) for _ in range(500)]
        assert _rate(p) > 0.99
    assert p_binary_paired([1] * 20, [0] * 20, "less") == 1.0


def test_binary_known_value():
    # 5 discordant pairs, all (1, 0): E = B(6, 1) * 2**5 = 32 / 6
    a, b = [1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]
    assert p_binary_paired(a, b) == pytest.approx(6 / 32)
    assert p_binary_paired(a, b, "greater") == pytest.approx(6 / 32 / (2 * (1 - 0.5**6)))


# ---------------------------------------------------------------- equivalence

def test_equivalence_decided_when_equal():
    rng = np.random.default_rng(9)
    p = [equivalence_p(rng.normal(0, 1, N_MAX), margin=1.0) for _ in range(REPS)]
    assert _rate(p) > 0.8


@pytest.mark.parametrize("true_diff", [1.0, -1.0])
def test_equivalence_at_margin_boundary(true_diff):
    rng = np.random.default_rng(10)
    p = [equivalence_p(rng.normal(true_diff, 1, N_MAX), margin=1.0) for _ in range(REPS)]
    assert _rate(p) <= BOUND


def test_equivalence_two_sample_boundary():
    rng = np.random.default_rng(12)
    p = [equivalence_p(rng.normal(1, 1, N_MAX), rng.normal(0, 2, N_MAX), margin=1.0) for _ in range(REPS)]
    assert _rate(p) <= BOUND


def test_nonequivalence():
    rng = np.random.default_rng(13)
    null = [nonequivalence_p(rng.normal(0.5, 1, N_MAX), margin=0.5) for _ in range(REPS)]
    assert _rate(null) <= BOUND
    power = [nonequivalence_p(rng.normal(-2.0, 1, N_MAX), margin=0.5) for _ in range(500)]
    assert _rate(power) > 0.9
    assert nonequivalence_p(np.zeros(10), margin=0.5) == 1.0


def test_margin_required():
    with pytest.raises(ValueError):
        equivalence_p([0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        nonequivalence_p([0.1, 0.2, 0.3], margin=-1.0)


# ---------------------------------------------------------------- monotonicity and edge cases

def test_p_never_increases_as_seeds_are_added():
    rng = np.random.default_rng(14)
    d, a, b = rng.normal(0.3, 1, 40), rng.normal(0.5, 1, 40), rng.normal(0, 2, 40)
    bits_a, bits_b = rng.random(40) < 0.6, rng.random(40) < 0.4
    funcs = [
        lambda n: p_paired(d[:n]),
        lambda n: p_paired(d[:n], "greater"),
        lambda n: p_two_sample(a[:n], b[:n]),
        lambda n: p_two_sample(a[:n], b[:n], "less", equal_var=True),
        lambda n: p_binary_paired(bits_a[:n], bits_b[:n]),
        lambda n: equivalence_p(d[:n], margin=1.0),
        lambda n: nonequivalence_p(d[:n], margin=0.1),
    ]
    for f in funcs:
        p = np.array([f(n) for n in range(41)])
        assert np.all(np.diff(p) <= 0) and np.all((p >= 0) & (p <= 1))


def test_degenerate_inputs(no_warnings):
    for short in ([], [0.7], [np.nan, 1.0], [np.inf, -np.inf, np.nan]):
        assert p_paired(short) == 1.0
        assert p_two_sample(short, short) == 1.0
        assert p_two_sample(short, short, equal_var=True) == 1.0
        assert equivalence_p(short, margin=1.0) == 1.0
    assert p_binary_paired([], []) == 1.0
    assert p_binary_paired([1, 0, 1, 1], [1, 0, 1, 1]) == 1.0  # no discordant pair
    # all zero: no evidence, in either direction
    for alt in ("two-sided", "greater", "less"):
        assert p_paired(np.zeros(20), alt) == 1.0
    # zero spread, non-zero mean: exact evidence, growing like (1 + n) ** ((n - 1) / 2)
    assert p_paired(np.full(2, 0.5)) == pytest.approx(math.sqrt(3) ** -1)
    assert p_paired(np.full(10, 0.5)) < 1e-4
    assert p_paired(np.full(10, 0.5), "less") == 1.0
    # identical arms up to floating-point rounding: no difference
    a = np.full(10, 0.1 * 3)
    assert p_two_sample(a, a + 1e-17) == 1.0 and p_two_sample(a, a + 1e-17, equal_var=True) == 1.0
    # NaN seeds are dropped
    d = np.random.default_rng(15).normal(0.5, 1, 12)
    assert p_paired(np.insert(d, 3, np.nan)) == p_paired(d)
    assert p_binary_paired([1, np.nan, 1, 1], [0, 0, 0, 0]) == p_binary_paired([1, 1, 1], [0, 0, 0])
    with pytest.raises(ValueError):
        p_paired(d, "bigger")
    with pytest.raises(ValueError):
        p_binary_paired([2, 0], [0, 0])
