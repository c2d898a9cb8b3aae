"""Which runs each panel and line of a figure shows, and at which tuned setting: one tier's data
(:class:`FigureData`) and the layout of its factors (:class:`Layout`, :func:`layout`). Nothing here draws:
:mod:`suite.report.figures` does.

Factors are laid out by how much the hypotheses rest on them: the most compared one gets the colour (or the x
axis), the next ones the panel columns and rows, and any left over are held at the value the hypotheses use most,
which the caption states. A factor the hypotheses tune (``best=``, ``top=``) is drawn as the verdicts choose it:
each arm (each combination of the factors shown) at its own best setting, or best fraction of settings, which the
caption names. A factor keeps its colours across figures (:func:`palette`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from suite import verdicts
from suite.plan import DEVICES
from suite.registry import Ablation
from suite.results import Result

MAX_COLS = 4
MAX_PANELS = 12
MAX_LISTED = 12  # tuned arms named one by one in a caption; more are counted per chosen value


# --- the data of one tier ----------------------------------------------------------------------------------------

@dataclass
class FigureData:
    """One tier's results of one ablation, with the tidy tables built on first use."""

    result: Result
    tuned: dict = field(default_factory=dict, repr=False)  # what _tune chose, per arms, fixed values and rule
    _values: dict = field(default_factory=dict, repr=False)

    @property
    def abl(self) -> Ablation:
        return self.result.abl

    @property
    def curves(self) -> pd.DataFrame:
        return self.result.curves

    @property
    def probes(self) -> pd.DataFrame:
        return self.result.probes

    @property
    def summary(self) -> pd.DataFrame:
        return self.result.judgement.summary

    @property
    def runs(self) -> pd.DataFrame:
        return self.result.judgement.runs

    @cached_property
    def ok(self) -> set:
        """Keys of the runs that finished (status "ok")."""
        return set(self.runs.loc[self.runs["status"] == "ok", "key"]) if not self.runs.empty else set()

    def values(self, factor: str) -> list:
        """The factor's values that ran, in declaration order (devices in their usual order)."""
        if factor not in self._values:
            ran = set(self.runs[factor].dropna().unique())
            order = list(DEVICES) if factor == "device" else self.abl.factor_values(factor)
            self._values[factor] = [v for v in order if v in ran]
        return self._values[factor]

    @cached_property
    def ranking(self) -> list[str]:
        """Factors that vary among the runs, those the hypotheses compare first; the device last."""
        score = Counter()
        for h in self.abl.hypotheses:
            score.update({k: 2 for k in h.a})
            score.update({k: 1 for k in h.where})
        names = list(self.abl.factors)
        varying = sorted((f for f in names if len(self.values(f)) > 1), key=lambda f: (-score[f], names.index(f)))
        return varying + (["device"] if len(self.values("device")) > 1 else [])

    def headline(self, factor: str):
        """The value the hypotheses restrict this factor to most often, else its first value that ran."""
        ran = self.values(factor)
        used = Counter(v for h in self.abl.hypotheses for side in (h.where, h.a, h.b)
                       for v in np.atleast_1d(side.get(factor, [])).tolist() if v in ran)
        return used.most_common(1)[0][0] if used else ran[0]

    def colours(self, factor: str | None) -> dict:
        return palette(self.values(factor) if factor else [None])

    @property
    def tune_seeds(self) -> int | None:
        """The seeds tuning looks at: the first round's under the sequential rule (as :func:`suite.verdicts.judge`)."""
        tier = self.result.tier
        return self.abl.tiers[tier].seeds if self.result.sequential and tier in self.abl.tiers else None


def palette(values: list) -> dict:
    import seaborn as sns

    colours = sns.color_palette("colorblind" if len(values) <= 10 else "viridis", len(values))
    return dict(zip(values, colours))


# --- layout: which factor goes where, and the tuned ones ------------------------------------------------------------

@dataclass
class Layout:
    roles: dict[str, str]  # role (x, hue, col, row) -> factor
    fixed: dict = field(default_factory=dict)  # factor -> the one value shown
    tuned: dict = field(default_factory=dict)  # factor -> (selection metric, fraction or None), as the verdicts tune
    chosen: dict = field(default_factory=dict)  # arm (values of the shown factors) -> factor -> chosen value(s)
    keys: set | None = None  # the runs tuning keeps; None: no factor is tuned

    def __getattr__(self, role: str):
        if role.startswith("__"):
            raise AttributeError(role)
        return self.roles.get(role)

    @property
    def arms(self) -> list[str]:
        """The factors shown (panels, colour, x), whose combinations are the arms."""
        return list(dict.fromkeys(self.roles.values()))

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        for k, v in self.fixed.items():
            df = df[df[k].isin(np.atleast_1d(v).tolist())]
        return df if self.keys is None else df[df["key"].isin(self.keys)]

    def note(self) -> str:
        return (f" Shown at {_variant(self.fixed)}." if self.fixed else "") + _tuning_note(self)


def _variant(values: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in values.items())


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(map(_fmt, value)) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _tuning_note(lay: Layout) -> str:
    """'Each optimizer at its own best lr by lowest val_loss (as the verdicts choose): sgd 0.1, adam 0.001.'"""
    out = ""
    arms = lay.arms
    for factor, (metric, frac) in lay.tuned.items():
        how = f"lowest {metric[1:]}" if metric.startswith("-") else f"highest {metric}"
        who = f"Each {arms[0]}" if len(arms) == 1 else f"Each variant ({'/'.join(arms)})" if arms else "The runs"
        rule = (f"{who} at its own best {factor} by {how}" if frac is None else
                f"{who} with its best {frac:.0%} of {factor} values by {how}")
        picks = [("/".join(map(_fmt, arm)), lay.chosen[arm].get(factor)) for arm in lay.chosen]
        if len(picks) <= MAX_LISTED:
            listing = ", ".join(f"{name} {_fmt(v) if v is not None else 'none'}".strip() for name, v in picks)
        else:
            counts = Counter(_fmt(v) if v is not None else "none" for _, v in picks)
            listing = ", ".join(f"{v} for {n} variant{'s' if n > 1 else ''}" for v, n in counts.most_common())
        out += f" {rule} (as the verdicts choose): {listing}."
        if any(v is None for _, v in picks):
            out += " An arm with none had a diverged seed at every setting and is not drawn."
    return out


def layout(fd: FigureData, spec, roles: tuple[str, ...], shown: str | None = None) -> Layout:
    """Assign factors to roles: the spec's own choices, then the ranking; the rest held at their headline value,
    except factors that hypotheses tune, which each arm takes at the value(s) the verdicts would choose, ranked by
    the selection metric of the hypotheses about ``shown`` (the metric drawn)."""
    chosen = {r: getattr(spec, r) for r in roles if getattr(spec, r, None)}  # checked by the registry
    tunable = {f for h in fd.abl.hypotheses for f in h.tuned}
    free = [f for f in fd.ranking if f not in chosen.values() and f not in spec.where]
    tuned = [f for f in free if f in tunable]
    free = [f for f in free if f not in tunable]
    for role in roles:
        if role not in chosen and free:
            chosen[role] = free.pop(0)
    selection = {f: verdicts.selection(fd.abl, f, shown) for f in tuned}
    # As the verdicts do: settings chosen (best) before fractions kept (top).
    selection = dict(sorted(selection.items(), key=lambda kv: kv[1][1] is not None))
    lay = Layout(chosen, dict(spec.where) | {f: fd.headline(f) for f in free}, selection)
    n_col, n_row = (len(fd.values(lay.col)) if lay.col else 1), (len(fd.values(lay.row)) if lay.row else 1)
    if lay.row and n_col > MAX_COLS and n_row < n_col:
        chosen["col"], chosen["row"] = chosen["row"], chosen["col"]
    if lay.row and n_col * n_row > MAX_PANELS:
        lay.fixed[lay.row] = fd.headline(lay.row)
        del chosen["row"]
    _tune(fd, lay)
    return lay


def _tune(fd: FigureData, lay: Layout) -> None:
    """Each arm's chosen settings and the runs they keep (``lay.chosen``, ``lay.keys``), by the verdicts' rule
    (:func:`suite.verdicts.choose`): the best mean over seeds of the selection metric, no setting with a
    diverged seed."""
    if not lay.tuned:
        return
    memo = (tuple(lay.arms), repr(sorted(lay.fixed.items(), key=str)), tuple(lay.tuned.items()))
    if memo in fd.tuned:  # figures of one ablation mostly share their arms: tuned once
        lay.chosen, lay.keys = fd.tuned[memo]
        return
    m = fd.result.metrics
    if m.empty:
        lay.keys = set()
        return
    m = m[m["status"] != "failed"]
    for k, v in lay.fixed.items():
        m = m[m[k].isin(np.atleast_1d(v).tolist())]
    m = m[m["metric"].isin({metric.lstrip("-") for metric, _ in lay.tuned.values()})]
    arms = lay.arms
    keys: set = set()
    for arm, g in (m.groupby(arms, sort=True, dropna=False) if arms else [((), m)]):
        picks = {}
        for factor, (metric, frac) in lay.tuned.items():
            keep = verdicts.choose(g, factor, metric, frac, fd.tune_seeds)
            picks[factor] = (keep[0] if frac is None else sorted(keep)) if keep else None
            g = g[g[factor].isin(keep)]
        lay.chosen[arm if isinstance(arm, tuple) else (arm,)] = picks
        keys |= set(g["key"])
    lay.keys = keys
    order = [fd.values(f) for f in arms]  # the arms in declaration order, as the panels and legends show them
    lay.chosen = dict(sorted(lay.chosen.items(), key=lambda kv: [o.index(v) if v in o else len(o)
                                                                 for o, v in zip(order, kv[0])]))
    fd.tuned[memo] = lay.chosen, lay.keys
