"""What a plotted quantity is and how its numbers are summarized: its axis label, units and range
(:class:`Quantity`, :func:`quantity`), its means and intervals (:func:`intervals`), its axis limits and scale
(:func:`limits`, :func:`log_scale`), curves as the runs ended (:func:`settle`), and the caption's words for each.
Nothing here draws: :mod:`suite.report.figures` does.

What is drawn follows the verdicts' rules: runs that diverged are left out of means and never set an axis; runs
that stopped early keep their last value; intervals respect the metric's range (Wilson intervals for 0/1
outcomes, clipped to the range of fractions and at 0 for quantities that cannot be negative); deterministic
quantities get none. Axis labels come from the descriptions of the metrics; accuracies and 0/1 outcomes are drawn
in percent, as the report's tables show them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite import stats
from suite.registry import Ablation

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


# --- what a quantity is, and how to draw it ------------------------------------------------------------------------

LOG_WORDS = re.compile(r"\blog(?:10|2)?\b")
# Quantities that cannot be negative, by a word of their name or description (unless they are logarithms).
NONNEGATIVE_NAMES = {"norm", "var", "msq", "loss", "steps", "iters", "updates", "count", "drift", "params", "err",
                     "error", "s"}
NONNEGATIVE_WORDS = ("norm", "variance", "mean square", "loss", "cross-entropy", "squared error", "steps",
                     "updates", "iterations", "parameters", "seconds", "distance", "|")


@dataclass(frozen=True)
class Quantity:
    """How a metric, logged curve or probe statistic is drawn: its axis label, the factor from stored to drawn
    units (100 for percentages), the range its values (and so its intervals) cannot leave, in drawn units, and
    whether it is a 0/1 outcome or fixed by construction (no interval)."""

    name: str
    about: str
    label: str
    scale: float = 1.0
    low: float = -math.inf
    high: float = math.inf
    binary: bool = False
    fixed: bool = False


def short_label(about: str) -> str:
    """An axis label from a description: its definition without the explanation that follows a ";" (or a ":"
    that explains, e.g. 'flat in kappa when ...'), without a trailing remark in parentheses that is not a unit,
    and a long definition cut to its first clause. '1 if X, else 0' becomes X."""
    text = " ".join(about.split())
    binary = re.fullmatch(r"1 if (.*?)(?:,? else 0)?", text)
    text = binary.group(1) if binary else text
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if depth == 0 and (ch == ";" or ch == ":" and re.search(r"\b(when|if|for)\b", text[i:])):
            text = text[:i]
            break
    remark = re.search(r"\s\(([^()]*)\)$", text)
    if remark and (len(remark.group(1)) > 20 or re.search(r"\b(if|when|the)\b", remark.group(1))):
        text = text[:remark.start()]
    if len(text) > 60 and text.find(", ", 30) > 0:
        text = text[:text.find(", ", 30)]
    return text.strip()


def quantity(abl: Ablation, name: str, logged: bool = False, about: str = "") -> Quantity:
    """How ``name`` is drawn; ``logged``: a curve or probe statistic, described by the ablation's ``labels``
    first (a metric's description speaks of its final value); ``about``: a figure's own description of it."""
    about = about or ((abl.labels.get(name) or abl.describe(name)) if logged else abl.describe(name))
    words = set(name.lower().split("_"))
    text = about.lower()
    binary = abl.kind(name) == "binary"
    logarithm = bool(words & {"log", "log10", "log2"} or LOG_WORDS.search(text))
    fraction = binary or bool(words & {"acc", "frac"}) or text.endswith("(fraction)") or \
        text.startswith("fraction of")
    percent = binary or name.endswith("_acc")  # as the report's tables show them
    label = short_label(about)
    if percent:
        label = re.sub(r"\s*\(fraction\)$", "", label) + (" (% of runs)" if binary else " (%)")
    scale = 100.0 if percent else 1.0
    low, high = -math.inf, math.inf
    if fraction:
        low, high = 0.0, scale
    elif not logarithm and (words & NONNEGATIVE_NAMES or any(w in text for w in NONNEGATIVE_WORDS)):
        low = 0.0
    tested = [h.role for h in abl.hypotheses if h.metric == name]
    return Quantity(name, about, label, scale, low, high, binary, bool(tested) and set(tested) == {"sanity"})


def geometric_means(df: pd.DataFrame, by: list[str], agg: pd.DataFrame, log: bool) -> tuple[pd.DataFrame, bool]:
    """On a log axis, lines of positive values (norms, variances, losses spanning decades) are geometric means
    with the t interval of their log10 values: an arithmetic mean's interval of values that span decades reaches 0,
    which a log axis cannot show. ``agg`` as it is otherwise (or when a value is 0 or less)."""
    values = pd.to_numeric(df["value"], errors="coerce").to_numpy(float)
    finite = values[np.isfinite(values)]
    if not log or not finite.size or (finite <= 0).any():
        return agg, False
    logs = stats.summarize(df.assign(value=np.log10(np.where(np.isfinite(values), values, np.nan))), by=by)
    for col in ("mean", "ci_low", "ci_high"):
        logs[col] = 10.0 ** logs[col]
    return logs, True


def intervals(q: Quantity, agg: pd.DataFrame, check_identical: bool = True,
              geometric: bool = False) -> tuple[pd.DataFrame, tuple]:
    """``agg`` (from :func:`suite.stats.summarize`) in drawn units, with intervals that fit the quantity: Wilson
    intervals for a 0/1 outcome; none for a quantity fixed by construction, or (``check_identical``) one whose
    values are identical across seeds (an arm whose seeds agree gets none either); clipped to the quantity's
    range. Also the caption's words for them, for :func:`caption_interval` (``geometric``: ``agg`` holds geometric
    means)."""
    agg = agg.copy()
    n, mean = agg["n"].to_numpy(float), agg["mean"].to_numpy(float)
    notes = []
    if geometric:
        kind = "95% CI"
        notes.append("t interval of log10 values")
    elif q.binary:  # Wilson: a t interval of a proportion leaves [0, 1] (a solve rate once had a CI up to 1.2)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = (mean + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
            half = Z95 * np.sqrt(mean * (1 - mean) / n + Z95 ** 2 / (4 * n ** 2)) / (1 + Z95 ** 2 / n)
        agg["ci_low"] = np.where(n >= 1, centre - half, np.nan)
        agg["ci_high"] = np.where(n >= 1, centre + half, np.nan)
        kind = "95% Wilson interval"
    if not geometric and not q.binary:
        kind = "95% CI"
        notes.append("t interval")
        # Seeds that agree exactly leave nothing to estimate (e.g. Newton's one iteration): no bar, not a flat one.
        same = (n >= 2) & (np.nan_to_num(agg["std"].to_numpy(float), nan=np.inf) <= 1e-12 * np.abs(mean))
        if q.fixed or (check_identical and same.any() and same[n >= 2].all()):
            kind = "no interval (fixed by construction)" if q.fixed else "no interval (identical across seeds)"
            same[:] = True
        if check_identical:
            agg.loc[same, ["ci_low", "ci_high"]] = np.nan
    for col in ("mean", "ci_low", "ci_high"):
        agg[col] = agg[col] * q.scale
    low, high = agg["ci_low"].to_numpy(float), agg["ci_high"].to_numpy(float)
    if np.any(low < q.low) or np.any(high > q.high):
        notes.append(f"clipped to [{q.low:g}, {q.high:g}]" if math.isfinite(q.high) else f"clipped at {q.low:g}")
    agg["ci_low"], agg["ci_high"] = np.clip(low, q.low, q.high), np.clip(high, q.low, q.high)
    return agg, (kind, notes, geometric)


def caption_about(q: Quantity) -> str:
    """The description for a caption, without a unit the figure does not use ('(fraction)' drawn in %)."""
    return re.sub(r"\s*\(fraction\)", "", q.about) if q.scale == 100 else q.about


def caption_mean(q: Quantity, words: tuple = ("", [], False)) -> str:
    """What a point or line is: 'mean over runs', 'geometric mean over runs', 'share of runs (%)' for a 0/1
    outcome (``words``: from :func:`intervals`)."""
    if q.binary:
        return "share of runs (%)"
    return ("geometric mean" if words[2] else "mean") + " over runs" + (" (in %)" if q.scale == 100 else "")


def caption_interval(words: tuple, band: bool = False) -> str:
    """'its 95% CI band (t interval, clipped at 0)', or 'no interval (identical across seeds)'."""
    kind, notes, _ = words
    if kind.startswith("no interval"):
        return kind
    return f"its {kind}" + (" band" if band else "") + (f" ({', '.join(notes)})" if notes else "")


def limits(values, means, lows, highs, log: bool = False, bounded: tuple | None = None) -> tuple[float, float] | None:
    """y limits from the data: the means, and the intervals only as far as the runs' own values reach (a wide
    interval of a few seeds, or a diverged run, never stretches an axis) unless they are ``bounded`` (low, high:
    e.g. a proportion's, inside [0, 100]; then a panel spans at least a tenth of that range, so that noise at
    chance level does not fill it); a 5% margin."""
    def finite(a):
        a = np.asarray(a, dtype=float).ravel()
        a = a[np.isfinite(a)]
        return np.log10(a[a > 0]) if log else a

    data, mid = finite(values), finite(means)
    if not mid.size:
        return None
    lo, hi = mid.min(), mid.max()
    if data.size or bounded:
        ends = finite(np.r_[np.ravel(lows), np.ravel(highs)])
        ends = ends if bounded else np.clip(ends, min(data.min(), lo), max(data.max(), hi))
        if ends.size:
            lo, hi = min(lo, ends.min()), max(hi, ends.max())
    if bounded and not log and hi - lo < (bounded[1] - bounded[0]) / 10:
        centre, half = (lo + hi) / 2, (bounded[1] - bounded[0]) / 20
        lo, hi = max(bounded[0], centre - half), min(bounded[1], centre + half)
        lo, hi = (lo, lo + 2 * half) if lo == bounded[0] else (hi - 2 * half, hi) if hi == bounded[1] else (lo, hi)
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.1, 0.05 if log else 1e-9)
    lo, hi = lo - pad, hi + pad
    return (10 ** lo, 10 ** hi) if log else (lo, hi)


def log_scale(means: pd.Series, name: str) -> bool:
    """Log axis for norms and variances that span a decade (they vanish and explode geometrically), for losses
    that span two, and for other positive values that span three; not for values with zeros."""
    v = means.to_numpy(float)
    v = v[np.isfinite(v)]
    positive = v[v > 0]
    if positive.size == 0:
        return False
    span = positive.max() / positive.min()
    if "norm" in name or "var" in name.split("_"):
        return span >= 10
    return v.min() > 0 and span >= (1e2 if "loss" in name else 1e3)  # a loss falls geometrically: two decades


# --- curves as the runs ended --------------------------------------------------------------------------------------

def settle(df: pd.DataFrame, x: str, by: list[str], ok: set) -> tuple[pd.DataFrame, int, int]:
    """Curves as the runs ended: runs that diverged are left out (their values before diverging say nothing of
    a finished run, and one of them can reach 1e27), and a run that finished before the last ``x`` its group
    (``by``) logged - solved, or stopped early - keeps its last value to that end. Returns the rows, the number of
    diverged runs left out and the number of runs carried to the end."""
    keys = df["key"].unique()
    diverged = int(sum(k not in ok for k in keys))
    if diverged:
        df = df[df["key"].isin(ok)]
    if df.empty:
        return df, diverged, 0
    last = df.loc[df.groupby("key", sort=False)[x].idxmax()]
    end = last.groupby(by, dropna=False)[x].transform("max") if by else pd.Series(last[x].max(), last.index)
    stopped = last[last[x] < end]
    if stopped.empty:
        return df, diverged, 0
    grid = df[[*by, x]].drop_duplicates()
    tail = stopped.rename(columns={x: "_last"})
    tail = tail.merge(grid, on=by, how="inner") if by else tail.merge(grid, how="cross")
    tail = tail[tail[x] > tail["_last"]].drop(columns="_last")
    return pd.concat([df, tail[df.columns]], ignore_index=True), diverged, len(stopped)


def settle_note(diverged: int, stopped: int) -> str:
    return ((f" {runs_phrase(diverged)} that diverged {'is' if diverged == 1 else 'are'} left out."
             if diverged else "")
            + (f" {runs_phrase(stopped)} that stopped before the end (solved, or stopped early) keep"
               f"{'s its' if stopped == 1 else ' their'} last value to the end." if stopped else ""))


def runs_phrase(n: int) -> str:
    return f"{n} run" + ("s" if n != 1 else "")
