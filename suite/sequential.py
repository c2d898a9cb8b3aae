"""Anytime-valid (sequential) tests over training seeds.

Seeds are added in rounds and the evidence is looked at after every round. A p value ``p_n`` computed after ``n``
seeds is *anytime-valid* when, under the null, ``P(there is an n with p_n <= alpha) <= alpha``: one may look after
every seed, stop as soon as ``p_n <= alpha`` (or for any other reason) and still keep the type I error at ``alpha``.
Repeating an ordinary fixed-n t test after every seed does not have this property (see :func:`simulate`).

Each p value here is ``min(1, 1 / max_{k <= n} E_k)`` for an e-process ``E``: a non-negative process that is a
(super)martingale with ``E_0 = 1`` under the null, so Ville's inequality gives ``P(sup_n E_n >= 1/alpha) <= alpha``.
Being a running minimum, ``p_n`` never increases as seeds are appended.

Means (:func:`p_paired`, :func:`p_two_sample`) -- Gaussian per-seed values, unknown variance
    ``E_n`` is the scale-invariant Bayes factor of the t test: right-Haar prior ``d sigma / sigma`` on the scale
    (plus a flat prior on the common location in the pooled two-sample test) and a normal prior
    ``N(0, prior_scale**2)`` on the standardised effect ``delta = (mean - null) / sigma``. It equals the likelihood
    ratio of the data's maximal scale (location-scale) invariant, so it is a test martingale under every null
    distribution in the invariant filtration, an e-process (Pérez-Ortiz, Lardy, de Heide, Grünwald 2024,
    "E-statistics, group invariance and anytime-valid testing", Annals of Statistics; a close relative of the
    anytime-valid t test of Lindon, Ham, Tingley, Bojinov 2024, "Anytime-valid linear models and regression adjusted
    causal inference in randomized experiments"). Closed form (Gönen, Johnson, Lu, Westfall 2005, "The Bayesian
    two-sample t test", The American Statistician), with
    ``rho = t / sqrt(nu + t**2)``, ``c = n_eff g / (1 + n_eff g)``, ``g = prior_scale**2``, ``m = nu + 1``::

        E = (1 + n_eff g) ** (-1/2) * (1 - c rho**2) ** (-m/2)                      (two-sided)
        E = two-sided E * 2 * T_m(sqrt(m) * kappa / sqrt(1 - kappa**2)),  kappa = rho sqrt(c)   (one-sided)

    The one-sided form puts the prior on ``delta > 0`` only (half-normal); ``T_m`` is the Student-t CDF with ``m``
    degrees of freedom (it is ``2 P(Z < lambda W)`` for ``Z ~ N(0, 1)``, ``W ~ chi_m``). For a one-sided composite
    null (``mean <= null``) the one-sided ``E_n`` is non-decreasing in ``t_n``, and lowering the mean (shifting every
    value, or every value of arm ``a``, down) lowers every ``t_n`` at once; so the chance of ever crossing
    ``1/alpha`` is largest at ``mean == null``, where the martingale argument applies, and the test is valid over
    the whole composite null.
    Assumed: per-seed values (differences) independent and Gaussian with a constant variance; the order in which
    seeds arrive is fixed in advance. ``prior_scale`` only affects power, never validity.

Binary outcomes (:func:`p_binary_paired`) -- exact sequential McNemar
    Under H0 a discordant pair is ``(1, 0)`` or ``(0, 1)`` with probability 1/2 each, given the past. ``E_n`` is the
    uniform-prior (Beta(1, 1)) mixture likelihood ratio of the discordant pairs against Bernoulli(1/2), a
    martingale with no further assumption (e.g. Robbins 1970; Howard, Ramdas, McAuliffe, Sekhon 2021). One-sided
    versions put the prior on one half of (0, 1); each component is a supermartingale over the composite null.

Equivalence (:func:`equivalence_p`, :func:`nonequivalence_p`) combines the one-sided tests as TOST (maximum of two
p values) or Bonferroni (twice the minimum), which keeps anytime validity.

Non-finite values (a diverged run) are dropped, as in :mod:`suite.stats`; fewer than 2 usable values gives p = 1.
Values are taken as exact: identical values with a non-zero mean difference are evidence that grows with n (there is
no spread at all), and a difference that is only floating-point rounding of the values (``<= 1e-12`` of their
magnitude) counts as zero in :func:`p_two_sample`.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats

ALTERNATIVES = ("two-sided", "greater", "less")
_REL_TOL = 1e-12  # same rounding tolerance as suite.stats


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, not {alternative!r}")


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def _p_from_log_e(log_e: np.ndarray) -> float:
    """p = min(1, 1 / running max of E) at the last look."""
    if log_e.size == 0:
        return 1.0
    return float(min(1.0, np.exp(-max(float(np.max(log_e)), 0.0))))


def log_e_t(rho, n_eff, m, alternative: str = "two-sided", prior_scale: float = 1.0) -> np.ndarray:
    """log of the scale-invariant t-test e-value (formulas in the module docstring), elementwise.

    ``rho = t / sqrt(nu + t**2)`` in [-1, 1], ``n_eff`` the effective sample size of the mean difference
    (n paired, n_a n_b / (n_a + n_b) pooled), ``m = nu + 1`` (n paired, n_a + n_b - 1 pooled)."""
    _check_alternative(alternative)
    rho = np.clip(np.asarray(rho, dtype=float), -1.0, 1.0)
    n_eff = np.asarray(n_eff, dtype=float)
    m = np.asarray(m, dtype=float)
    ng = n_eff * prior_scale**2
    c = ng / (1.0 + ng)
    log_e = -0.5 * np.log1p(ng) - 0.5 * m * np.log1p(-c * rho**2)
    if alternative == "two-sided":
        return log_e
    kappa = (rho if alternative == "greater" else -rho) * np.sqrt(c)
    lam = kappa / np.sqrt(1.0 - kappa**2)  # 1 - kappa**2 >= 1 / (1 + ng) > 0
    with np.errstate(divide="ignore"):  # a CDF that underflows is E = 0 at that look: no evidence
        return log_e + np.log(2.0 * scipy.special.stdtr(m, np.sqrt(m) * lam))


def _paired_log_e(d: np.ndarray, alternative: str, null: float, prior_scale: float) -> np.ndarray:
    """log E at looks n = 2..len(d) (d finite). rho_n = sum(x) / sqrt(n sum(x^2)) with x = d - null."""
    x = d - null
    n = np.arange(1, x.size + 1, dtype=float)
    s1, s2 = np.cumsum(x), np.cumsum(x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s2 > 0, s1 / np.sqrt(n * s2), 0.0)  # all-zero prefix: no evidence either way
    return log_e_t(rho[1:], n[1:], n[1:], alternative, prior_scale)


def p_paired(d, alternative: str = "two-sided", null: float = 0.0, *, prior_scale: float = 1.0) -> float:
    """Anytime-valid paired t test on per-seed differences ``d`` (a - b) in seed order.

    H0: ``mean(d) == null`` ("two-sided"), ``mean(d) <= null`` ("greater") or ``mean(d) >= null`` ("less"), with
    unknown variance. The p value is the running minimum over the looks n = 2..len(d). ``prior_scale`` is the prior
    sd of the standardised effect (mean - null) / sd under the alternative: it tunes power, not validity."""
    _check_alternative(alternative)
    return _p_from_log_e(_paired_log_e(_finite(d), alternative, float(null), prior_scale))


def _rounding_zero(x: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    """x, or zeros when all of x is floating-point rounding of values as large as ``arrays``."""
    scale = max((float(np.abs(a).max()) for a in arrays if a.size), default=0.0)
    return np.zeros_like(x) if x.size and np.abs(x).max() <= _REL_TOL * scale else x


def _pooled_log_e(a: np.ndarray, b: np.ndarray, alternative: str, null: float, prior_scale: float) -> np.ndarray:
    """Pooled-variance (location-scale invariant) two-sample test; look k holds a[:k] and b[:k]."""
    ref = a[0]  # t is location invariant: shifting both arms keeps the running sums well conditioned
    xa, xb = a - ref - null, b - ref
    k = np.arange(1, max(a.size, b.size) + 1)
    na, nb = np.minimum(k, a.size).astype(float), np.minimum(k, b.size).astype(float)
    sa = np.cumsum(xa)[na.astype(int) - 1]
    sb = np.cumsum(xb)[nb.astype(int) - 1]
    qa = np.cumsum(xa * xa)[na.astype(int) - 1]
    qb = np.cumsum(xb * xb)[nb.astype(int) - 1]
    within = np.maximum(qa - sa**2 / na, 0.0) + np.maximum(qb - sb**2 / nb, 0.0)
    n_eff = na * nb / (na + nb)
    diff = sa / na - sb / nb
    noise = _REL_TOL * max(float(np.abs(a).max()), float(np.abs(b).max()), abs(null))
    diff = np.where(np.abs(diff) <= noise, 0.0, diff)
    within = np.where(within <= (noise**2) * (na + nb), 0.0, within)
    z = np.sqrt(n_eff) * diff
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(z != 0, z / np.sqrt(z * z + within), 0.0)
    use = na + nb >= 3
    return log_e_t(rho[use], n_eff[use], (na + nb - 1)[use], alternative, prior_scale)


def p_two_sample(a, b, alternative: str = "two-sided", null: float = 0.0, *, equal_var: bool = False,
                 prior_scale: float = 1.0) -> float:
    """Anytime-valid unpaired test of H0 on ``mean(a) - mean(b)`` (vs ``null``), ``a`` and ``b`` each in seed order.

    * ``equal_var=False`` (default; unknown, possibly unequal variances): the i-th values of the two arms are paired
      by arrival order and the paired test runs on ``a_i - b_i`` (Scheffé's 1943 random-pairing solution of the
      Behrens-Fisher problem). Exact for Gaussian arms whatever the two variances (and any within-seed correlation);
      it costs degrees of freedom (n - 1 instead of 2n - 2), not precision of the mean difference. With unequal
      lengths the surplus of the longer arm is not used.
    * ``equal_var=True``: pooled-variance test, location-scale invariant, using every value; look k holds the first
      k values of each arm. Valid only when both arms share one variance.
    """
    _check_alternative(alternative)
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if equal_var:
        a, b = _finite(a), _finite(b)
        if a.size < 1 or b.size < 1 or a.size + b.size < 3:
            return 1.0
        return _p_from_log_e(_pooled_log_e(a, b, alternative, float(null), prior_scale))
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = _rounding_zero(a - b, a, b)
    return _p_from_log_e(_paired_log_e(d, alternative, float(null), prior_scale))


def _binary_log_e(up: np.ndarray, down: np.ndarray, alternative: str) -> np.ndarray:
    """log E of the uniform-prior mixture for H0: P(up | discordant) = 1/2, given cumulative counts."""
    m = up + down
    log_e = scipy.special.betaln(up + 1, down + 1) + m * np.log(2.0)
    if alternative == "two-sided":
        return log_e
    # prior uniform on (1/2, 1) ("greater") or (0, 1/2) ("less"): density 2 times the mass of the half
    hi, lo = (up, down) if alternative == "greater" else (down, up)
    with np.errstate(divide="ignore"):
        return log_e + np.log(2.0) + np.log(scipy.special.betainc(lo + 1, hi + 1, 0.5))


def p_binary_paired(a, b, alternative: str = "two-sided") -> float:
    """Anytime-valid exact McNemar test for 0/1 outcomes ``a``, ``b`` paired by seed (in seed order).

    H0: P(a=1, b=0) == P(a=0, b=1) ("two-sided"), ``<=`` ("greater": a succeeds more often) or ``>=`` ("less").
    Only discordant pairs carry evidence. Pairs with a non-finite side are dropped; values other than 0/1 raise
    ``ValueError``."""
    _check_alternative(alternative)
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError("a and b must have the same length (paired by seed)")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if not np.all(np.isin(a, (0.0, 1.0)) & np.isin(b, (0.0, 1.0))):
        raise ValueError("binary outcomes must be 0 or 1")
    up = np.cumsum((a == 1) & (b == 0)).astype(float)
    down = np.cumsum((a == 0) & (b == 1)).astype(float)
    return _p_from_log_e(_binary_log_e(up, down, alternative))


def _one_sided(d_or_a, b, alternative: str, null: float, equal_var: bool, prior_scale: float) -> float:
    if b is None:
        return p_paired(d_or_a, alternative, null, prior_scale=prior_scale)
    return p_two_sample(d_or_a, b, alternative, null, equal_var=equal_var, prior_scale=prior_scale)


def _check_margin(margin) -> float:
    if margin is None or not np.isfinite(margin) or margin <= 0:
        raise ValueError(f"margin must be a positive finite number, not {margin!r}")
    return float(margin)


def equivalence_p(d_or_a, b=None, margin: float | None = None, *, equal_var: bool = False,
                  prior_scale: float = 1.0) -> float:
    """Anytime-valid TOST that ``-margin < mean < margin`` (mean of ``d`` if ``b`` is None, else mean(a) - mean(b),
    in the data's units): the larger of the one-sided p values for ``mean > -margin`` and ``mean < margin``.
    A small p means equivalence is shown."""
    margin = _check_margin(margin)
    return max(_one_sided(d_or_a, b, "greater", -margin, equal_var, prior_scale),
               _one_sided(d_or_a, b, "less", margin, equal_var, prior_scale))


def nonequivalence_p(d_or_a, b=None, margin: float | None = None, *, equal_var: bool = False,
                     prior_scale: float = 1.0) -> float:
    """Anytime-valid test that ``|mean| > margin``: twice the smaller one-sided p value of ``mean > margin`` and
    ``mean < -margin`` (Bonferroni), capped at 1. A small p means the difference is shown to exceed the margin."""
    margin = _check_margin(margin)
    p = min(_one_sided(d_or_a, b, "greater", margin, equal_var, prior_scale),
            _one_sided(d_or_a, b, "less", -margin, equal_var, prior_scale))
    return min(1.0, 2.0 * p)


def simulate(effect: float, n_max: int, reps: int, alpha: float = 0.05, rng=None, *,
             alternative: str = "two-sided", n_min: int = 2, prior_scale: float = 1.0) -> dict:
    """Monte Carlo of optional stopping with Gaussian paired differences ``N(effect, 1)`` and a look after every seed
    from ``n_min`` to ``n_max`` (H0: mean 0, ``alternative`` as in :func:`p_paired`).

    Returns rejection rates of the anytime-valid rule (``anytime``), of "reject when the fixed-n t test
    (``scipy.stats.ttest_1samp``) gives p < alpha at any look" (``repeated_t``) and of that t test at ``n_max`` only
    (``fixed_t``); the mean stopping n of the anytime rule among rejecting reps (``mean_stop_n``, NaN if none) and
    over all reps counting non-rejecting ones as ``n_max`` (``mean_n_used``); and the Monte Carlo standard error of
    a rate at ``alpha`` (``mc_se``). ``rng``: a numpy Generator or a seed (default 0)."""
    _check_alternative(alternative)
    rng = np.random.default_rng(0 if rng is None else rng)
    n_min = max(int(n_min), 2)
    x = rng.normal(effect, 1.0, size=(reps, n_max))

    n = np.arange(1, n_max + 1, dtype=float)
    s1, s2 = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    rho = s1 / np.sqrt(n * s2)
    log_e = log_e_t(rho, n, n, alternative, prior_scale)[:, n_min - 1:]
    crossed = np.maximum.accumulate(log_e, axis=1) >= np.log(1.0 / alpha)
    anytime = crossed[:, -1]
    stop = n_min + np.argmax(crossed, axis=1)

    t_reject = np.zeros(reps, dtype=bool)
    for k in range(n_min, n_max + 1):
        p_t = scipy.stats.ttest_1samp(x[:, :k], 0.0, axis=1, alternative=alternative).pvalue
        t_reject |= p_t < alpha
    return {
        "effect": float(effect), "n_max": int(n_max), "reps": int(reps), "alpha": float(alpha),
        "alternative": alternative,
        "anytime": float(anytime.mean()),
        "repeated_t": float(t_reject.mean()),
        "fixed_t": float((p_t < alpha).mean()),
        "mean_stop_n": float(stop[anytime].mean()) if anytime.any() else float("nan"),
        "mean_n_used": float(np.where(anytime, stop, n_max).mean()),
        "mc_se": float(np.sqrt(alpha * (1 - alpha) / reps)),
    }


if __name__ == "__main__":
    for eff, alt in ((0.0, "two-sided"), (-0.3, "greater"), (0.0, "greater"), (0.5, "two-sided"),
                     (1.0, "two-sided")):
        r = simulate(eff, n_max=30, reps=20000, alternative=alt, rng=1)
        print(f"effect {eff:+.1f} {alt:9s}: anytime {r['anytime']:.4f}  repeated t {r['repeated_t']:.4f}  "
              f"fixed t at n=30 {r['fixed_t']:.4f}  mean stop n {r['mean_stop_n']:.1f}  "
              f"mean n used {r['mean_n_used']:.1f}  (MC se at alpha {r['mc_se']:.4f})")
