"""A claim's forest plot: every tested hypothesis as its difference A - B with the 95% CI, one panel per metric,
coloured by verdict, with the margin of an equivalence ("similar") hypothesis shaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite import present
from suite.report.figures import WIDTH, Figure, pyplot, save_svg
from suite.report.quantities import short_label
from suite.results import Result

COLOURS = {"reproduced": "#009e73", "contradicted": "#d55e00", "inconclusive": "#e69f00"}  # as the badges
MARKERS = {"core": "o", "mechanism": "s", "secondary": "^"}
ROW_HEIGHT = 0.24  # inches per hypothesis
CLAIMED = {"greater": "> 0", "less": "< 0"}


def _rows(result: Result) -> pd.DataFrame:
    """The tested, non-sanity hypotheses with their numbers, in declaration order."""
    h = result.judgement.hypotheses
    if h.empty:
        return h
    number = present.numbers(result.abl)
    h = h[h["verdict"].isin(list(COLOURS)) & (h["role"] != "sanity")].copy()
    h["n"] = h["hypothesis"].map(number)
    return h.sort_values(["n", "device"], kind="stable")


def _label(abl, metric: str) -> str:
    return f"A \u2212 B: {short_label(abl.describe(metric)).replace(' (fraction)', '')}" + (
        " (percentage points)" if present.is_percent(abl, metric) else "")


def draw(result: Result) -> Figure | None:
    """The forest plot of one tier's results, or None when nothing was tested."""
    abl = result.abl
    rows = _rows(result)
    if rows.empty:
        return None
    plt = pyplot()
    metrics = list(dict.fromkeys(rows["metric"]))
    sizes = [int((rows["metric"] == m).sum()) for m in metrics]
    heights = [ROW_HEIGHT * n + 0.25 for n in sizes]
    gap = 0.55  # between panels: the x label of the one above
    fig_h = sum(heights) + gap * len(metrics) + 0.15
    fig, axes = plt.subplots(len(metrics), 1, figsize=(WIDTH, fig_h), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    fig.subplots_adjust(left=1.45 / WIDTH, right=1 - 0.15 / WIDTH, top=1 - 0.1 / fig_h, bottom=gap / fig_h,
                        hspace=gap * len(metrics) / sum(heights))
    multi = rows["device"].nunique() > 1
    endless: list = []  # (axes, y, +-inf, colour) of medians never reached, drawn once the limits are known
    for ax, metric in zip(axes.ravel(), metrics):
        sub = rows[rows["metric"] == metric].reset_index(drop=True)
        scale = 100.0 if present.is_percent(abl, metric) else 1.0
        y = np.arange(len(sub))[::-1].astype(float)
        xs = []
        for yi, r in zip(y, sub.to_dict("records")):
            colour = COLOURS[r["verdict"]]
            diff = r.get("diff", np.nan) * scale
            low, high = r.get("ci_low", np.nan) * scale, r.get("ci_high", np.nan) * scale
            margin = r.get("margin") if r.get("margin") == r.get("margin") else None
            if r.get("direction") == "similar" and margin is not None:
                ax.fill_betweenx([yi - 0.4, yi + 0.4], -margin * scale, margin * scale, color="#dddddd", lw=0)
                xs += [-margin * scale, margin * scale]
            if np.isfinite(low) and np.isfinite(high) and r.get("kind") != "censored":
                ax.plot([low, high], [yi, yi], color=colour, lw=1.6, solid_capstyle="butt")
                xs += [low, high]
            hollow = r.get("kind") == "censored"
            if np.isinf(diff):  # a side whose median is never reached: an arrow to that side's edge
                endless.append((ax, yi, diff, colour))
                continue
            ax.plot([diff], [yi], MARKERS.get(r["role"], "o"), ms=5, color=colour,
                    markerfacecolor="white" if hollow else colour, markeredgewidth=1.2)
            xs.append(diff)
        ax.axvline(0, color="#555555", lw=0.8)
        labels = [f"H{r['n']}" + (f" {r['device']}" if multi else "") + f" {present.ROLE.get(r['role'], r['role'])} "
                  + (f"(\u00b1{present.fmt((r['margin'] or 0) * scale)})" if r["direction"] == "similar"
                     else f"({CLAIMED.get(r['direction'], '')})") for r in sub.to_dict("records")]
        ax.set_yticks(y, labels, fontsize=7.5)
        ax.set_ylim(-0.6, len(sub) - 0.4)
        ax.grid(axis="y", visible=False)
        finite = np.asarray([x for x in xs if np.isfinite(x)], float)
        steps = np.abs(finite[finite != 0])
        if (sub["kind"] == "censored").all() and steps.size and steps.max() / max(steps.min(), 1.0) > 100:
            # medians of 10^2 to 10^5 steps: on a linear axis the small differences vanish into zero
            ax.set_xscale("symlog", linthresh=max(float(steps.min()), 1.0))
            pad = 3.0  # a factor on a log axis: symlog's own limits cut the extreme markers in half
            ax.set_xlim(min(finite.min() * pad, -steps.min()), max(finite.max() * pad, steps.min()))
        ax.set_xlabel(_label(abl, metric), fontsize=8)
        ax.tick_params(axis="x", labelsize=7.5)
    for ax, yi, diff, colour in endless:
        edge = ax.get_xlim()[1 if diff > 0 else 0]
        ax.annotate("+\u221e" if diff > 0 else "\u2212\u221e", (edge, yi), ha="right" if diff > 0 else "left", va="center", color=colour,
                    fontsize=9, fontweight="bold", annotation_clip=False)
    uri = save_svg(plt, fig)
    left_out = result.judgement.hypotheses
    sanity = int((left_out["role"] == "sanity").sum()) if not left_out.empty else 0
    not_run = [f"H{present.numbers(abl).get(h, '?')}" for h in
               left_out.loc[left_out["verdict"].isin(["not run", "failed"]), "hypothesis"].unique()] \
        if not left_out.empty else []
    caption = ("Every tested hypothesis at a glance: the difference A \u2212 B with its 95% CI, one panel per metric "
               "(proportions in percentage points). Colour: the verdict (green reproduced, orange inconclusive, "
               "red contradicted); marker: the role (circle core, square mechanism, triangle secondary); "
               "beside each label, what the hypothesis claims. Grey band: the equivalence margin of a \u201csimilar\u201d "
               "hypothesis. Hollow markers: steps to a target, compared by the log-rank test; the value is the "
               "difference of Kaplan\u2013Meier medians, with no interval; \u221e at an edge: a side whose median was "
               "never reached (most of its runs did not get there within the budget). Equivalence is decided on the "
               "90% CI (two one-sided tests), so a 95% CI may reach just past its band.")
    if sanity:
        caption += f" Sanity checks ({sanity}) are not evidence and are not drawn."
    if not_run:
        caption += f" Not run at this tier: {', '.join(not_run)}."
    return Figure(uri, caption)

