"""Statistics that turn per-seed results into verdicts on a claim.

How a verdict is reached:

1. Each configuration is run across seeds; a run that diverged reports a non-finite value.
   Non-finite values are dropped and counted (``n_excluded``), never imputed.
2. Two configurations ``a`` and ``b`` are compared with a two-sided t test (:func:`compare`):
   a *paired* t test on the per-seed differences when both were run on the same seeds
   (at least 2 complete pairs), otherwise Welch's unequal-variance t test. The report
   gives the mean difference ``a - b``, its 95% CI, an effect size and the p value.
3. The p values of all comparisons made for one claim are adjusted together with
   Holm-Bonferroni (:func:`holm`).
4. A comparison *reproduces* the claim when its adjusted p is below ``ALPHA`` (0.05) and the
   difference has the claimed sign, *contradicts* it when the adjusted p is below ``ALPHA``
   with the opposite sign, and is *inconclusive* otherwise (:func:`verdict`).
5. A claim is contradicted if any comparison contradicts it, reproduced if every comparison
   reproduces it, and inconclusive otherwise (:func:`claim_verdict`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

ALPHA = 0.05

# A difference or spread at or below this fraction of the values' magnitude is floating-point rounding (e.g. ``v``
# against ``sum([v / 10] * 10)``, 1.6e-16 apart): rounding is never a finding.
_REL_TOL = 1e-12


def _rounding(*arrays: np.ndarray) -> float:
    """The largest difference that is rounding of values as large as these."""
    return _REL_TOL * max((float(np.abs(x).max()) for x in arrays if x.size), default=0.0)


_VERDICTS = ("reproduced", "contradicted", "inconclusive", "not run", "failed")


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def _half_width(n, std, mean, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t interval of a mean, ``t.ppf((1 + confidence) / 2, n - 1) · sd / sqrt(n)``, for
    arrays of counts, sample standard deviations (ddof=1) and means: NaN where n < 2, 0 where the spread is
    rounding noise."""
    n, std, mean = (np.asarray(a, dtype=float) for a in (n, std, mean))
    tcrit = scipy.stats.t.ppf((1 + confidence) / 2, np.where(n >= 2, n - 1, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(std <= _REL_TOL * np.abs(mean), 0.0, tcrit * std / np.sqrt(n))
    return np.where(n >= 2, half, np.nan)


def ci_mean(values, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval for the mean of the finite ``values`` (:func:`_half_width`).
    Returns ``(nan, nan)`` with fewer than 2 finite values, ``(mean, mean)`` when they are all equal."""
    x = _finite(values)
    if x.size < 2:
        return (float("nan"), float("nan"))
    mean = float(np.mean(x))
    half = float(_half_width(x.size, np.std(x, ddof=1), mean, confidence))
    return (mean - half, mean + half)


def summarize(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per group of ``by``: ``n``, ``n_excluded``, ``mean``, ``std``, ``ci_low``, ``ci_high``.

    Only finite ``value`` entries are used (``n``); non-finite ones are counted in ``n_excluded``.
    ``std`` is the sample standard deviation (ddof=1); the CI is the 95% t interval of
    :func:`ci_mean` (NaN when ``n < 2``).
    """
    by = [by] if isinstance(by, str) else list(by)
    value = pd.to_numeric(df["value"], errors="coerce").astype(float)
    finite = np.isfinite(value.to_numpy())
    work = df[by].assign(_v=value.where(finite), _size=1)
    out = (
        work.groupby(by, dropna=False, observed=True, sort=True)
        .agg(n=("_v", "count"), _size=("_size", "sum"), mean=("_v", "mean"), std=("_v", "std"))
        .reset_index()
    )
    out["n_excluded"] = out.pop("_size") - out["n"]
    mean = out["mean"].to_numpy(dtype=float)
    half = _half_width(out["n"], out["std"], mean)
    out["ci_low"] = mean - half
    out["ci_high"] = mean + half
    out["n"] = out["n"].astype(int)
    out["n_excluded"] = out["n_excluded"].astype(int)
    return out[[*by, "n", "n_excluded", "mean", "std", "ci_low", "ci_high"]]


@dataclass
class Comparison:
    """Result of :func:`compare`: two-sided test of ``a`` against ``b``; ``diff`` and its CI are ``a - b``."""

    test: str  # "paired t" | "welch t" | "none"
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    effect_size: float
    statistic: float
    p: float
    n_excluded: int


def _degenerate(diff: float, alternative: str) -> tuple[float, float, float]:
    """(statistic, effect size, p) when there is no spread: the difference is certain, so p is 0 when it lies in
    the alternative and 1 otherwise."""
    if diff == 0:
        return 0.0, 0.0, 1.0
    s = float(np.copysign(np.inf, diff))
    holds = {"two-sided": True, "greater": diff > 0, "less": diff < 0}[alternative]
    return s, s, 0.0 if holds else 1.0


def _ci(res, confidence: float = 0.95) -> tuple[float, float]:
    ci = res.confidence_interval(confidence_level=confidence)
    return float(ci.low), float(ci.high)


def compare(a: pd.Series, b: pd.Series, paired: bool | None = None, alternative: str = "two-sided") -> Comparison:
    """t test of ``a`` against ``b``; the difference is ``a - b``. ``alternative`` ("two-sided", "greater": a - b > 0,
    "less") decides the p value (through scipy's ``alternative=``); the CI is always the two-sided 95% one.

    ``a`` and ``b`` are indexed by a pairing key (e.g. seed). Non-finite values are dropped
    and counted in ``n_excluded`` (both sides together).

    * Paired t (``scipy.stats.ttest_rel``) when ``paired`` is True, or when ``paired`` is None and
      both have the same (unique) index set with at least 2 pairs left after dropping pairs where
      either side is non-finite. Effect size: Cohen's d_z = mean(d) / sd(d), d = a - b.
    * Otherwise Welch's t (``scipy.stats.ttest_ind(equal_var=False)``, Welch-Satterthwaite df).
      Effect size: Hedges' g = (mean_a - mean_b) / pooled sd · (1 - 3 / (4 (n_a + n_b) - 9)).
    * Fewer than 2 usable values on a side: test "none", p and CI NaN.
    * No spread at all (every difference equal; for Welch both sides constant): the difference is
      taken as exact, so p = 0 and effect/statistic = ±inf when it is non-zero, p = 1 and effect 0
      when it is zero; the CI is (diff, diff).
    """
    a = pd.Series(a, dtype=float) if not isinstance(a, pd.Series) else a.astype(float)
    b = pd.Series(b, dtype=float) if not isinstance(b, pd.Series) else b.astype(float)
    n_excluded = int((~np.isfinite(a.to_numpy())).sum() + (~np.isfinite(b.to_numpy())).sum())

    same_keys = a.index.is_unique and b.index.is_unique and set(a.index) == set(b.index)
    if paired and not same_keys:
        raise ValueError("paired comparison needs a and b on the same, unique index (pairing key)")
    if same_keys:
        aligned = pd.DataFrame({"a": a, "b": b.reindex(a.index)})
        aligned = aligned[np.isfinite(aligned["a"]) & np.isfinite(aligned["b"])]
        if paired is None:
            paired = len(aligned) >= 2

    if paired:
        xa, xb = aligned["a"].to_numpy(), aligned["b"].to_numpy()
        n = xa.size
        mean_a = float(np.mean(xa)) if n else float("nan")
        mean_b = float(np.mean(xb)) if n else float("nan")
        if n < 2:
            return Comparison("none", n, n, mean_a, mean_b, mean_a - mean_b,
                              float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n_excluded)
        d = xa - xb
        noise = _rounding(xa, xb)
        if np.abs(d).max() <= noise:  # the arms agree up to rounding: no difference at all
            d = np.zeros_like(d)
        diff = float(np.mean(d))
        sd = float(np.std(d, ddof=1))
        if sd <= max(_REL_TOL * abs(diff), noise):
            stat, eff, p = _degenerate(diff, alternative)
            return Comparison("paired t", n, n, mean_a, mean_b, diff, diff, diff, eff, stat, p, n_excluded)
        res = scipy.stats.ttest_rel(xa, xb)
        low, high = _ci(res)
        p = res.pvalue if alternative == "two-sided" else scipy.stats.ttest_rel(xa, xb, alternative=alternative).pvalue
        return Comparison("paired t", n, n, mean_a, mean_b, diff, low, high, diff / sd,
                          float(res.statistic), float(p), n_excluded)

    xa, xb = _finite(a), _finite(b)
    na, nb = xa.size, xb.size
    mean_a = float(np.mean(xa)) if na else float("nan")
    mean_b = float(np.mean(xb)) if nb else float("nan")
    diff = mean_a - mean_b
    if na < 2 or nb < 2:
        return Comparison("none", na, nb, mean_a, mean_b, diff,
                          float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n_excluded)
    va, vb = float(np.var(xa, ddof=1)), float(np.var(xb, ddof=1))
    noise = _rounding(xa, xb)
    if np.sqrt(va) <= noise and np.sqrt(vb) <= noise:
        diff = 0.0 if abs(diff) <= noise else diff  # equal up to rounding: no difference at all
        stat, eff, p = _degenerate(diff, alternative)
        return Comparison("welch t", na, nb, mean_a, mean_b, diff, diff, diff, eff, stat, p, n_excluded)
    with warnings.catch_warnings():
        # One constant side is exact input, not precision loss: scipy's moment check misfires on it.
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        res = scipy.stats.ttest_ind(xa, xb, equal_var=False)
        p = res.pvalue if alternative == "two-sided" else \
            scipy.stats.ttest_ind(xa, xb, equal_var=False, alternative=alternative).pvalue
    low, high = _ci(res)
    pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    g = diff / pooled * (1 - 3 / (4 * (na + nb) - 9))
    return Comparison("welch t", na, nb, mean_a, mean_b, diff, low, high, float(g),
                      float(res.statistic), float(p), n_excluded)


def equivalence_p(a: pd.Series, b: pd.Series, margin: float, paired: bool | None = None) -> float:
    """Two one-sided tests (TOST) that ``|a - b| < margin``: the larger of the p values of
    ``a - b > -margin`` and ``a - b < margin``, each from the same paired or Welch test as :func:`compare`.
    A small p means the difference is shown to lie within the margin."""
    return max(compare(a + margin, b, paired, "greater").p, compare(a - margin, b, paired, "less").p)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p values, in the input order.

    With the m non-NaN p values sorted ascending, p_(i) becomes max_{j<=i} (m - j + 1) · p_(j),
    capped at 1. NaN entries stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def verdict(diff: float, p_adjusted: float, direction: str, alpha: float = ALPHA) -> str:
    """Verdict of one comparison of a claim that ``a > b`` ("greater") or ``a < b`` ("less").

    "reproduced" when ``p_adjusted < alpha`` and ``diff`` (a - b) has the claimed sign,
    "contradicted" when ``p_adjusted < alpha`` and it has the opposite sign, else "inconclusive"
    (including NaN p or diff, and diff == 0).
    """
    if direction not in ("greater", "less"):
        raise ValueError(f"direction must be 'greater' or 'less', not {direction!r}")
    if not (p_adjusted < alpha) or np.isnan(diff) or diff == 0:
        return "inconclusive"
    claimed = diff > 0 if direction == "greater" else diff < 0
    return "reproduced" if claimed else "contradicted"


def similar_verdict(p_equivalence_adjusted: float, ci_low: float, ci_high: float, margin: float,
                    alpha: float = ALPHA) -> str:
    """Verdict of a claim that ``a`` and ``b`` do not differ by more than ``margin``.

    "reproduced" when the Holm-adjusted TOST p (:func:`equivalence_p`) is below ``alpha``;
    "contradicted" when the 95% CI of ``a - b`` lies entirely outside ``[-margin, margin]``;
    otherwise "inconclusive" (a non-significant difference alone is not evidence of equivalence).
    """
    if p_equivalence_adjusted < alpha:
        return "reproduced"
    if ci_low > margin or ci_high < -margin:
        return "contradicted"
    return "inconclusive"


def claim_verdict(verdicts: Sequence[str]) -> str:
    """Verdict of a claim from the verdicts of its comparisons.

    "not run" entries (no runs) are ignored. Any "contradicted" -> "contradicted"; all (at least one)
    "reproduced" -> "reproduced"; otherwise "inconclusive" - also when a "failed" entry (a side whose runs all
    failed) leaves part of the claim untested. Nothing tested: "failed" when some entry failed, else "not run".
    """
    vs = list(verdicts)
    unknown = set(vs) - set(_VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts: {sorted(unknown)}")
    ran = [v for v in vs if v not in ("not run", "failed")]
    if not ran:
        return "failed" if "failed" in vs else "not run"
    if "contradicted" in ran:
        return "contradicted"
    if all(v == "reproduced" for v in ran) and "failed" not in vs:
        return "reproduced"
    return "inconclusive"
