"""Statistics that turn per-seed results into verdicts on a claim (the method, in words, is the README's "How a
claim is judged").

The unit of replication is the seed: the verdict engine hands these functions one value per seed and side.

- Continuous outcomes: a paired t test on the per-seed differences when both sides ran the same seeds, Welch's t
  test otherwise (:func:`compare`); equivalence within a margin by two one-sided tests (:func:`equivalence_p`),
  and the opposite finding - a difference beyond the margin - by :func:`nonequivalence_p`.
- Binary outcomes (0/1 per run): McNemar's exact test when seeds pair, Fisher's exact test otherwise
  (:func:`compare_binary`).
- Censored outcomes (steps to a target, capped at the budget): the log-rank test; over strata, the runs' log-rank
  scores averaged per seed and compared by the Mann-Whitney U test (:func:`compare_censored`).
- The p values of one family of hypotheses are Holm-adjusted together (:func:`holm`).
- A claim's profile is graded from its core hypotheses (:func:`profile_verdict`).
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
MIN_N_EFFECT = 3  # below this many seeds a standardized effect size says nothing


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

    test: str  # "paired t" | "welch t" | "McNemar exact" | "Fisher exact" | "sign test" | "log-rank" | "none"
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
    n_censored: tuple[int, int] | None = None  # censored outcomes: runs that never reached the target, per side


def _degenerate(diff: float, alternative: str) -> tuple[float, float, float]:
    """(statistic, effect size, p) when there is no spread: the difference is certain, so p is 0 when it lies in
    the alternative and 1 otherwise; a standardized effect is undefined (NaN) without spread."""
    if diff == 0:
        return 0.0, float("nan"), 1.0
    holds = {"two-sided": True, "greater": diff > 0, "less": diff < 0}[alternative]
    return float(np.copysign(np.inf, diff)), float("nan"), 0.0 if holds else 1.0


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
      Effect size: Hedges' g = (mean_a - mean_b) / pooled sd · (1 - 3 / (4 (n_a + n_b) - 9)) (NaN below
      ``MIN_N_EFFECT`` values on a side).
    * Fewer than 2 usable values on a side: test "none", p and CI NaN.
    * No spread at all (every difference equal; for Welch both sides constant): the difference is
      taken as exact, so p = 0 and statistic = ±inf when it is non-zero, p = 1 when it is zero; the
      CI is (diff, diff) and the effect size NaN.
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
        return Comparison("paired t", n, n, mean_a, mean_b, diff, low, high,
                          diff / sd if n >= MIN_N_EFFECT else float("nan"), float(res.statistic), float(p), n_excluded)

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
    g = diff / pooled * (1 - 3 / (4 * (na + nb) - 9)) if min(na, nb) >= MIN_N_EFFECT else float("nan")
    return Comparison("welch t", na, nb, mean_a, mean_b, diff, low, high, float(g),
                      float(res.statistic), float(p), n_excluded)


def equivalence_p(a: pd.Series, b: pd.Series, margin: float, paired: bool | None = None) -> float:
    """Two one-sided tests (TOST) that ``|a - b| < margin``: the larger of the p values of
    ``a - b > -margin`` and ``a - b < margin``, each from the same paired or Welch test as :func:`compare`.
    A small p means the difference is shown to lie within the margin."""
    return max(compare(a + margin, b, paired, "greater").p, compare(a - margin, b, paired, "less").p)


def nonequivalence_p(a: pd.Series, b: pd.Series, margin: float, paired: bool | None = None) -> float:
    """The test of the opposite of :func:`equivalence_p`: that ``|a - b| > margin``. Twice the smaller of the p values
    of ``a - b > margin`` and ``a - b < -margin`` (one side or the other, Bonferroni), capped at 1; it is below
    0.05 exactly when the two-sided 95% CI lies outside ``[-margin, margin]``, as TOST's p is below 0.05 when the
    90% CI lies inside."""
    return min(1.0, 2 * min(compare(a - margin, b, paired, "greater").p, compare(a + margin, b, paired, "less").p))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p values, in the input order (statsmodels' ``multipletests``); NaN entries stay NaN
    and do not count towards the family's size."""
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if idx.size:
        from statsmodels.stats.multitest import multipletests

        out[idx] = multipletests(p[idx], method="holm")[1]
    return out


def _paired_frame(a: pd.Series, b: pd.Series) -> pd.DataFrame | None:
    """a and b aligned on their shared index when they pair (same unique index), else None."""
    if a.index.is_unique and b.index.is_unique and set(a.index) == set(b.index):
        return pd.DataFrame({"a": a, "b": b.reindex(a.index)})
    return None


def _none(na: int, nb: int, mean_a: float, mean_b: float, n_excluded: int, **kw) -> Comparison:
    nan = float("nan")
    return Comparison("none", na, nb, mean_a, mean_b, mean_a - mean_b, nan, nan, nan, nan, nan, n_excluded, **kw)


def compare_binary(a: pd.Series, b: pd.Series, paired: bool | None = None) -> Comparison:
    """Exact two-sided test of 0/1 outcomes, one per seed (or per-seed fractions when a seed holds several runs).
    ``diff`` is the difference of the proportions a - b, with a 95% CI.

    * Paired (same seeds, ``paired`` not False): McNemar's exact test (statsmodels) on the discordant pairs - a
      binomial test that, under no difference, a seed where the sides disagree favours either side with
      probability 1/2. With per-seed fractions the same exact sign test on the per-seed differences.
    * Unpaired: Fisher's exact test (scipy) on the 2x2 table of successes; with fractions, the Mann-Whitney U test.
    * CI: Newcombe's hybrid score interval for a difference of proportions (statsmodels
      ``confint_proportions_2indep``), which ignores pairing and so errs wide when seeds pair positively.
    Effect size: none (the difference of proportions is the effect)."""
    a, b = pd.Series(a, dtype=float), pd.Series(b, dtype=float)
    n_excluded = int((~np.isfinite(a.to_numpy())).sum() + (~np.isfinite(b.to_numpy())).sum())
    frame = _paired_frame(a, b) if paired is not False else None
    if frame is not None:
        frame = frame[np.isfinite(frame["a"]) & np.isfinite(frame["b"])]
        if len(frame) < 2 and not paired:
            frame = None  # as compare falls back to Welch's test
    if frame is not None:
        xa, xb = frame["a"].to_numpy(), frame["b"].to_numpy()
    else:
        xa, xb = _finite(a), _finite(b)
    na, nb = xa.size, xb.size
    mean_a = float(xa.mean()) if na else float("nan")
    mean_b = float(xb.mean()) if nb else float("nan")
    if na < 2 or nb < 2:
        return _none(na, nb, mean_a, mean_b, n_excluded)
    whole = bool(np.all(np.isin(xa, (0, 1))) and np.all(np.isin(xb, (0, 1))))
    if frame is not None:
        d = xa - xb
        up, down = int((d > 0).sum()), int((d < 0).sum())
        if whole:
            from statsmodels.stats.contingency_tables import mcnemar

            table = [[int(((xa == 1) & (xb == 1)).sum()), up], [down, int(((xa == 0) & (xb == 0)).sum())]]
            res = mcnemar(table, exact=True)
            test, stat, p = "McNemar exact", float(res.statistic), float(res.pvalue)
        else:
            p = float(scipy.stats.binomtest(up, up + down).pvalue) if up + down else 1.0
            test, stat = "sign test", float(up - down)
    elif whole:
        res = scipy.stats.fisher_exact([[xa.sum(), na - xa.sum()], [xb.sum(), nb - xb.sum()]])
        test, stat, p = "Fisher exact", float(res.statistic), float(res.pvalue)
    else:
        res = scipy.stats.mannwhitneyu(xa, xb)
        test, stat, p = "Mann-Whitney U", float(res.statistic), float(res.pvalue)
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(xa.sum(), na, xb.sum(), nb, method="newcomb", compare="diff")
    return Comparison(test, na, nb, mean_a, mean_b, mean_a - mean_b, float(low), float(high), float("nan"),
                      stat, p, n_excluded)


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median of times to an event, some right-censored (``event`` 0); inf when more than half never
    reached it."""
    if time.size == 0:
        return float("nan")
    if event.all():
        return float(np.median(time))
    data = scipy.stats.CensoredData(uncensored=time[event == 1], right=time[event == 0])
    sf = scipy.stats.ecdf(data).sf
    below = sf.quantiles[sf.probabilities <= 0.5]
    return float(below[0]) if below.size else float("inf")


def censored_scores(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series | None:
    """Per seed, which side reached the target first, averaged over the seed's pairs of runs (its strata): -1 when
    a always did, +1 when b always did (signed like a - b: positive when a took longer), 0 for ties - both
    censored, or equal. ``a``/``b``: columns ``time``, ``event``, indexed alike by seed or (seed, stratum...).
    None when the runs do not pair."""
    if not (a.index.is_unique and b.index.is_unique and set(a.index) == set(b.index)):
        return None
    frame = a.add_suffix("_a").join(b.add_suffix("_b"))
    ta = np.where(frame["event_a"] == 1, frame["time_a"], np.inf)
    tb = np.where(frame["event_b"] == 1, frame["time_b"], np.inf)
    with np.errstate(invalid="ignore"):  # inf - inf: both censored, a tie
        scores = pd.Series(np.where(np.isinf(ta) & np.isinf(tb), 0.0, np.sign(ta - tb)), index=frame.index)
    return scores.groupby(level=0).mean() if scores.index.nlevels > 1 else scores


def logrank_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The log-rank (Savage) score of each run in a pooled sample: ``event - H(time)``, with ``H`` the Nelson-Aalen
    cumulative hazard (ties counted together). High for an early event, low for a late one or a run censored late;
    the log-rank statistic is the sum of one group's scores."""
    order = np.unique(time[event == 1])
    at_risk = np.array([(time >= t).sum() for t in order])
    events = np.array([((time == t) & (event == 1)).sum() for t in order])
    hazard = np.cumsum(events / at_risk)
    h = np.concatenate([[0.0], hazard])[np.searchsorted(order, time, side="right")]
    return event - h


def compare_censored(a: pd.DataFrame, b: pd.DataFrame) -> Comparison:
    """Two-sided comparison of times to an event, right-censored at the budget. ``a`` and ``b`` hold columns
    ``time`` and ``event`` (1 reached, 0 censored at ``time``), indexed by seed, or by (seed, stratum...) with the
    seed first. ``mean_a``/``mean_b`` are the Kaplan-Meier medians over the runs (inf when more than half were
    censored); ``diff`` their difference; no CI. ``n_a``/``n_b`` count seeds, the unit of replication.

    * One run per seed and side: the log-rank test (``scipy.stats.logrank``).
    * Several strata: each run's log-rank score (:func:`logrank_scores`) within its stratum, averaged per seed and
      side, and the exact Mann-Whitney U test between the sides' per-seed scores - one value per seed, so a seed's
      strata are never counted as independent samples.
    * A seed with several runs in one stratum (e.g. several kept settings) has no seed-level test: "none".
    The statistic is signed like a - b: positive when a took longer. Pairing by seed is not used (with the
    positive correlation seeds bring, this errs on the cautious side)."""
    def clean(df):
        df = df[np.isfinite(df["time"]) & np.isfinite(df["event"])]
        return df.assign(event=df["event"].astype(int))

    n_excluded = int((~np.isfinite(a["time"])).sum() + (~np.isfinite(b["time"])).sum())
    a, b = clean(a), clean(b)
    censored = (int((a["event"] == 0).sum()), int((b["event"] == 0).sum()))
    med_a = km_median(a["time"].to_numpy(), a["event"].to_numpy())
    med_b = km_median(b["time"].to_numpy(), b["event"].to_numpy())
    diff = med_a - med_b if np.isfinite(med_a) or np.isfinite(med_b) else float("nan")
    na, nb = a.index.get_level_values(0).nunique(), b.index.get_level_values(0).nunique()
    if na < 2 or nb < 2 or not (a.index.is_unique and b.index.is_unique):
        return _none(na, nb, med_a, med_b, n_excluded, n_censored=censored)
    stratified = a.index.nlevels > 1
    test = "log-rank scores, Mann-Whitney" if stratified else "log-rank"
    if a["event"].sum() + b["event"].sum() == 0:  # nobody reached the target: no evidence either way
        return Comparison(test, na, nb, med_a, med_b, diff, float("nan"), float("nan"), float("nan"), 0.0, 1.0,
                          n_excluded, censored)
    if stratified:
        both = pd.concat([a, b], keys=["a", "b"], names=["side"])
        strata = both.index.droplevel(["side", both.index.names[1]])
        scores = pd.Series(0.0, index=both.index)
        for _, rows in both.groupby(strata.to_flat_index()):
            scores.loc[rows.index] = logrank_scores(rows["time"].to_numpy(float), rows["event"].to_numpy())
        per_seed = scores.groupby(level=["side", both.index.names[1]]).mean()
        sa, sb = per_seed.loc["a"].to_numpy(), per_seed.loc["b"].to_numpy()
        res = scipy.stats.mannwhitneyu(sa, sb)
        # A high score is an early event: a took longer when its scores are lower.
        return Comparison(test, na, nb, med_a, med_b, diff, float("nan"), float("nan"), float("nan"),
                          float(sb.mean() - sa.mean()), float(res.pvalue), n_excluded, censored)

    def data(df):
        return scipy.stats.CensoredData(uncensored=df.loc[df["event"] == 1, "time"].to_numpy(float),
                                        right=df.loc[df["event"] == 0, "time"].to_numpy(float))

    res = scipy.stats.logrank(data(a), data(b))
    # scipy's statistic is positive when a reaches the event sooner; negated, it is signed like a - b.
    return Comparison(test, na, nb, med_a, med_b, diff, float("nan"), float("nan"), float("nan"),
                      -float(res.statistic), float(res.pvalue), n_excluded, censored)


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


def similar_verdict(p_equivalence_adjusted: float, p_difference_adjusted: float, alpha: float = ALPHA) -> str:
    """Verdict of a claim that ``a`` and ``b`` do not differ by more than ``margin``, from two adjusted tests.

    "reproduced" when the adjusted TOST p (:func:`equivalence_p`) is below ``alpha``; "contradicted" when the
    adjusted p of a difference beyond the margin (:func:`nonequivalence_p`) is; otherwise "inconclusive" (a
    non-significant difference alone is not evidence of equivalence).
    """
    if p_equivalence_adjusted < alpha:
        return "reproduced"
    if p_difference_adjusted < alpha:
        return "contradicted"
    return "inconclusive"


def profile_verdict(verdicts: Sequence[str]) -> str:
    """The claim's profile from the verdicts of its core hypotheses. With ``n`` core hypotheses tested (reproduced,
    contradicted or inconclusive), ``k`` of them reproduced and ``c`` contradicted:

    * "reproduced": k = n >= 1;
    * "reproduced with exceptions": n / 2 < k < n (a strict majority reproduced);
    * "mixed": 1 <= k <= n / 2;
    * "not reproduced": k = 0 and c >= 1;
    * "not enough evidence": k = 0 and c = 0 (every tested core hypothesis inconclusive);
    * "failed": nothing tested and some hypothesis's runs all failed; "not run": nothing tested at all.
    Hypotheses not run or failed are counted beside the profile, not in n.
    """
    vs = list(verdicts)
    unknown = set(vs) - set(_VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts: {sorted(unknown)}")
    tested = [v for v in vs if v in ("reproduced", "contradicted", "inconclusive")]
    n, k, c = len(tested), tested.count("reproduced"), tested.count("contradicted")
    if n == 0:
        return "failed" if "failed" in vs else "not run"
    if k == n:
        return "reproduced"
    if 2 * k > n:
        return "reproduced with exceptions"
    if k >= 1:
        return "mixed"
    return "not reproduced" if c else "not enough evidence"
