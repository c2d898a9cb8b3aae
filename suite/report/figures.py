"""Figures from the tidy tables: learning curves, final metrics per variant, per-layer probe profiles, paths.

The report draws the common figures of any ablation (learning curves, and each hypothesis metric per variant);
an ablation declares the others (``figures=`` in its declaration, :mod:`suite.declare`). Factors are laid out by how much the hypotheses rest on them: the most compared one
gets the colour (or the x axis), the next ones the panel columns and rows, and any left over are held at the
value the hypotheses use most, which the caption states. A factor keeps its colours across figures.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
import pandas as pd

from suite import stats, tables
from suite.declare import Curves, Custom, Path, Points, Profile
from suite.plan import DEVICES
from suite.registry import Ablation
from suite.results import Result

WIDTH = 6.8  # inches: about the text width of A4 with 16 mm margins, so that figures print near their drawn size
PANEL_HEIGHT = 1.7  # inches of plot area per panel
PANEL_GAP = 0.5  # between panel rows: the panel title and the tick labels
LEGEND_COLS = 6
MAX_POINTS = 80  # per line
MAX_COLS = 4
MAX_PANELS = 12
MARKERS = "osD^vPX<>*"
# Lines are told apart by dashes as well as colour (for print and colour blindness): dashes cost nothing to
# draw, where markers are one more object per point, here and in the PDF.
DASHES = [(), (4, 1.5), (1, 1.2), (5, 1.5, 1, 1.5), (2.5, 2.5), (7, 2), (5, 1.5, 1, 1.5, 1, 1.5)]
WHEN = {"init": "before training", "final": "after training"}


@dataclass
class Figure:
    uri: str  # data: URI of the SVG
    caption: str


@cache
def _pyplot():
    """pyplot on the Agg backend with the report's theme; imported here so that `suite` never loads it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font="DejaVu Sans")
    # Text stays text (a third of the size, and searchable); a fixed salt keeps reports reproducible.
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "suite-report", "axes.titlesize": 8.5,
                         "legend.frameon": False})
    return plt


def axis_label(abl: Ablation, name: str) -> str:
    """The metric's name with the unit its description ends with, e.g. 'test_acc (fraction)', when that is
    short enough for an axis; the caption gives the whole description."""
    unit = re.search(r"\(([^()]+)\)\s*$", abl.describe(name))
    return f"{name} ({unit.group(1)})" if unit and len(unit.group(1)) <= 24 else name


@dataclass
class FigureData:
    """One tier's results of one ablation, with the tidy tables built on first use."""

    result: Result

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

    def values(self, factor: str) -> list:
        """The factor's values that ran, in declaration order (devices in their usual order)."""
        ran = set(self.runs[factor].dropna())
        order = list(DEVICES) if factor == "device" else self.abl.factor_values(factor)
        return [v for v in order if v in ran]

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
        import seaborn as sns

        values = self.values(factor) if factor else [None]
        palette = sns.color_palette("colorblind" if len(values) <= 10 else "viridis", len(values))
        return dict(zip(values, palette))


@dataclass
class Layout:
    roles: dict[str, str]  # role (x, hue, col, row) -> factor
    fixed: dict = field(default_factory=dict)  # factor -> the one value shown
    pooled: list = field(default_factory=list)  # nuisance factors (tuned over), whose runs are pooled

    def __getattr__(self, role: str):
        if role.startswith("__"):
            raise AttributeError(role)
        return self.roles.get(role)

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        for k, v in self.fixed.items():
            df = df[df[k].isin(np.atleast_1d(v).tolist())]
        return df

    def note(self) -> str:
        return ((f" Shown at {_variant(self.fixed)}." if self.fixed else "")
                + (f" Pooled over {', '.join(self.pooled)}." if self.pooled else ""))


def _variant(values: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in values.items())


def layout(fd: FigureData, spec, roles: tuple[str, ...]) -> Layout:
    """Assign factors to roles: the spec's own choices, then the ranking; the rest held at their headline value."""
    chosen = {r: getattr(spec, r) for r in roles if getattr(spec, r, None)}  # checked by the registry
    # A factor the hypotheses tune over (e.g. random hyperparameter trials) is a nuisance: pooled, not shown.
    tuned = {f for h in fd.abl.hypotheses for f in h.tuned}
    free = [f for f in fd.ranking if f not in chosen.values() and f not in spec.where]
    pooled = [f for f in free if f in tuned]
    free = [f for f in free if f not in tuned]
    for role in roles:
        if role not in chosen and free:
            chosen[role] = free.pop(0)
    lay = Layout(chosen, dict(spec.where) | {f: fd.headline(f) for f in free}, pooled)
    n_col, n_row = (len(fd.values(lay.col)) if lay.col else 1), (len(fd.values(lay.row)) if lay.row else 1)
    if lay.row and n_col > MAX_COLS and n_row < n_col:
        chosen["col"], chosen["row"] = chosen["row"], chosen["col"]
    if lay.row and n_col * n_row > MAX_PANELS:
        lay.fixed[lay.row] = fd.headline(lay.row)
        del chosen["row"]
    return lay


def _panels(plt, fd: FigureData, lay: Layout, df: pd.DataFrame, *, sharey: bool = True, col_values=None,
            long_ticks: bool = False, integer_x: bool = False):
    """A figure with one panel per (row, col) value; returns it and a list of (axes, that panel's rows).

    Margins are set by hand rather than by a layout engine, which measures every text several times over."""
    from matplotlib.ticker import MaxNLocator

    cols = col_values or (fd.values(lay.col) if lay.col else [None])
    rows = fd.values(lay.row) if lay.row else [None]
    cells = [(r, c) for r in rows for c in cols]
    n_cols = len(cols) if lay.row else min(len(cols), MAX_COLS)
    n_rows = math.ceil(len(cells) / n_cols)
    n_hue = len(fd.values(lay.hue)) if lay.hue else 0
    top = 0.3 + (0.2 * (math.ceil(n_hue / LEGEND_COLS) + 1) + 0.05 if n_hue else 0)
    bottom = 0.5 + (0.3 if long_ticks else 0)
    height = top + n_rows * PANEL_HEIGHT + (n_rows - 1) * PANEL_GAP + bottom
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(WIDTH, height), sharex=True, sharey=sharey, squeeze=False)
    fig.subplots_adjust(left=0.8 / WIDTH, right=1 - 0.12 / WIDTH, bottom=bottom / height, top=1 - top / height,
                        wspace=0.1 if sharey else 0.3, hspace=PANEL_GAP / PANEL_HEIGHT)
    flat = axes.ravel()
    for ax in flat[len(cells):]:
        ax.set_visible(False)
    for ax in flat[:len(cells)]:  # few ticks: each is several objects to lay out and draw
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=integer_x))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    panels = []
    for ax, (r, c) in zip(flat, cells):
        sub = df
        title = {}
        for role, value in (("row", r), ("col", c)):
            factor = "when" if role == "col" and col_values else getattr(lay, role)
            if factor is not None:
                sub = sub[sub[factor] == value]
                title[factor] = WHEN.get(value, value) if factor == "when" else value
        # A title placed by hand spares matplotlib measuring every tick label to place it.
        ax.set_title(", ".join(str(v) if k == "when" else f"{k} = {v}" for k, v in title.items()), y=1.0, pad=3)
        panels.append((ax, sub))
    return fig, panels


def _finish(plt, fig, fd: FigureData, hue: str | None, handles: dict, xlabel: str, ylabel: str) -> str:
    """Axis labels and the legend in the margins _panels left for them; the figure as an SVG data URI."""
    width, height = fig.get_size_inches()
    if xlabel:
        fig.supxlabel(xlabel, y=0.06 / height, va="bottom", fontsize=9)
    fig.supylabel(ylabel, x=0.06 / width, ha="left", fontsize=9)
    if hue and handles:
        shown = [v for v in fd.values(hue) if v in handles]
        fig.legend([handles[v] for v in shown], [str(v) for v in shown], title=hue, loc="upper center",
                   bbox_to_anchor=(0.5, 1 - 0.04 / height), ncols=min(len(shown), LEGEND_COLS), fontsize=8,
                   title_fontsize=8, handlelength=2.2, columnspacing=1.2, borderaxespad=0)
    return _save(plt, fig)


def _save(plt, fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def _style(fd: FigureData, hue: str | None):
    """Colour, marker and dash pattern of each hue value."""
    colours = fd.colours(hue)
    markers = {v: MARKERS[i % len(MARKERS)] for i, v in enumerate(colours)}
    dashes = {v: DASHES[i % len(DASHES)] for i, v in enumerate(colours)}
    return colours, markers, dashes


def _band(ax, x: np.ndarray, low: np.ndarray, high: np.ndarray, colour) -> None:
    """The CI band as plain polygons, one per stretch where it is defined (fill_between costs ten times more)."""
    from matplotlib.patches import Polygon

    finite = np.isfinite(low) & np.isfinite(high)
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start > 1:
            xs, lo, hi = x[start:stop], low[start:stop], high[start:stop]
            ax.add_patch(Polygon(np.c_[np.r_[xs, xs[::-1]], np.r_[lo, hi[::-1]]], closed=True, facecolor=colour,
                                 alpha=0.18, linewidth=0))


def _bands(ax, agg: pd.DataFrame, x: str, hue: str | None, fd: FigureData, handles: dict) -> None:
    """Mean lines with their 95% CI band, one per hue value."""
    colours, _, dashes = _style(fd, hue)
    groups = dict(list(agg.groupby(hue, sort=False))) if hue else {None: agg}
    for value, colour in colours.items():
        sub = groups.get(value)
        if sub is None or sub.empty:
            continue
        sub = sub.sort_values(x)
        xs = sub[x].to_numpy(float)
        (line,) = ax.plot(xs, sub["mean"].to_numpy(float), color=colour, linewidth=1.3, dashes=dashes[value])
        _band(ax, xs, sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float), colour)
        handles.setdefault(value, line)


def _runs_note(fd: FigureData, df: pd.DataFrame) -> str:
    runs = fd.runs[fd.runs["key"].isin(df["key"].unique())]
    bad = runs["status"].value_counts().drop("ok", errors="ignore")
    what = ", ".join(f"{n} {s}" for s, n in bad.items())
    return f" {len(runs)} runs over {runs['seed'].nunique()} seeds" + (f" ({what})" if what else "") + "."


SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _decade(value: float, _pos=None) -> str:
    """10 to a power in Unicode superscripts: plain text, which matplotlib lays out far faster than TeX."""
    if value <= 0 or not math.isfinite(value):
        return ""
    power = math.log10(value)
    return "10" + str(round(power)).translate(SUPERSCRIPTS) if abs(power - round(power)) < 1e-6 else ""


def _range(n: pd.Series) -> str:
    low, high = int(n.min()), int(n.max())
    return str(low) if low == high else f"{low} to {high}"


def _log_axis(ax, axis: str = "y") -> None:
    """A log axis with at most six labelled decades and no minor ticks (each tick is an object to draw)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    getattr(ax, f"set_{axis}scale")("log", nonpositive="mask")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(numticks=6))
    target.set_major_formatter(FuncFormatter(_decade))
    target.set_minor_locator(NullLocator())


def _log_scale(means: pd.Series, name: str) -> bool:
    """Log axis for norms and variances that span a decade (they vanish and explode geometrically), and for
    other positive values that span three (e.g. a loss that exploded); not for other values with zeros."""
    v = means.to_numpy(float)
    v = v[np.isfinite(v)]
    positive = v[v > 0]
    if positive.size == 0:
        return False
    span = positive.max() / positive.min()
    if "norm" in name or "var" in name.split("_"):
        return span >= 10
    return v.min() > 0 and span >= 1e3


def _by(lay: Layout, *extra: str) -> list[str]:
    return [f for f in (lay.hue, lay.col, lay.row) if f] + list(extra)


def _thin(df: pd.DataFrame, x: str, most: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``most`` evenly spaced values of x, the last one included: a panel is a few hundred pixels wide,
    and every point is drawn twice (here and in the PDF)."""
    values = np.sort(df[x].dropna().unique())
    if len(values) <= most:
        return df
    keep = values[np.unique(np.r_[np.linspace(0, len(values) - 1, most).round().astype(int)])]
    return df[df[x].isin(keep)]


def _progress(logged: pd.Series) -> str:
    """What the curves' x counts: the training loop logs every epoch (0, 1, 2, ...); a loop that logs every
    so many optimizer steps leaves gaps."""
    values = np.sort(logged.dropna().unique())
    return "epoch" if len(values) < 2 or (np.diff(values) == 1).all() else "step"


def draw_curves(plt, fd: FigureData, spec: Curves) -> list[Figure]:
    logged = list(dict.fromkeys(fd.curves["metric"])) if not fd.curves.empty else []
    wanted = spec.metrics or [m for m in dict.fromkeys([h.metric for h in fd.abl.hypotheses] + ["train_loss"])
                              if m in logged][:1] or logged[:1]
    lay = layout(fd, spec, ("hue", "col", "row"))
    x_label = spec.x_label or _progress(fd.curves["epoch"])
    out = []
    for metric in wanted:
        df = _thin(lay.apply(fd.curves[fd.curves["metric"] == metric]), "epoch")
        if df.empty:
            continue
        agg = stats.summarize(df, by=_by(lay, "epoch"))
        log_y = spec.log_y if spec.log_y is not None else _log_scale(agg["mean"], metric)
        fig, panels = _panels(plt, fd, lay, agg, integer_x=True)
        handles: dict = {}
        for ax, sub in panels:
            _bands(ax, sub, "epoch", lay.hue, fd, handles)
            if log_y:
                _log_axis(ax)
        uri = _finish(plt, fig, fd, lay.hue, handles, x_label,
                      axis_label(fd.abl, metric) + (" (log scale)" if log_y else ""))
        caption = (f"Learning curves: {fd.abl.describe(metric)} per {x_label}, mean over seeds with its 95% "
                   f"CI band (t interval)" + (f", one line per {lay.hue}" if lay.hue else "") + "."
                   + lay.note() + _runs_note(fd, df) + " Runs that diverged stop where they diverged.")
        out.append(Figure(uri, f"{caption} {spec.caption}".strip()))
    return out


def draw_points(plt, fd: FigureData, spec: Points) -> list[Figure]:
    m = fd.result.metrics
    lay = layout(fd, spec, ("x", "hue", "col", "row"))
    values = lay.apply(m[m["metric"] == spec.metric]) if not m.empty else m
    if values.empty:
        return []
    df = stats.summarize(values, by=[f for f in (lay.x, lay.hue, lay.col, lay.row) if f] + ["metric"])
    x = lay.x
    xs = fd.values(x) if x else [None]
    numeric = len(xs) >= 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    log_x = spec.log_x if spec.log_x is not None else numeric and min(xs) > 0 and max(xs) / min(xs) >= 10
    colours, markers, _ = _style(fd, lay.hue)
    fig, panels = _panels(plt, fd, lay, df, long_ticks=not numeric and len(xs) > 4)
    handles: dict = {}
    width = 0.7 / max(len(colours), 1)
    for ax, sub in panels:
        for i, (value, colour) in enumerate(colours.items()):
            part = sub if lay.hue is None else sub[sub[lay.hue] == value]
            if x:
                part = part.set_index(x).reindex(xs).reset_index()
            pos = np.asarray(xs if numeric else np.arange(len(xs)) + (i - (len(colours) - 1) / 2) * width,
                             dtype=float)
            mean = part["mean"].to_numpy(dtype=float)
            err = np.abs(np.vstack([mean - part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float) - mean]))
            handle = ax.errorbar(pos, mean, yerr=np.nan_to_num(err), color=colour, marker=markers[value],
                                 markersize=4, capsize=2, linewidth=1 if numeric else 0, elinewidth=1)
            handles.setdefault(value, handle)
        if log_x:
            _log_axis(ax, "x")
        if spec.log_y:
            _log_axis(ax)
        if not numeric:
            ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs], rotation=30 if len(xs) > 4 else 0,
                          ha="right" if len(xs) > 4 else "center", rotation_mode="anchor")
            ax.set_xlim(-0.5, len(xs) - 0.5)
    uri = _finish(plt, fig, fd, lay.hue, handles, x or "", axis_label(fd.abl, spec.metric))
    excluded = int(df["n_excluded"].sum())
    what = fd.abl.describe(spec.metric)
    caption = (f"{what[:1].upper()}{what[1:]}: mean over runs with its 95% CI (t interval) per variant, "
               f"n = {_range(df['n'])} runs each."
               + lay.note() + (f" {excluded} non-finite values (diverged runs) are left out." if excluded else ""))
    return [Figure(uri, f"{caption} {spec.caption}".strip())]


def _position(probes: pd.DataFrame, spec: Profile, factors) -> str | None:
    """Where along the network a probe looks: "layer", else the probes' own numeric column (e.g. "t")."""
    if spec.position:
        return spec.position
    if "layer" in probes and probes["layer"].notna().any():
        return "layer"
    skip = {*tables.RUN_COLUMNS, *factors, "epoch", "step", "stat", "value"}
    return next((c for c in probes.columns if c not in skip and pd.api.types.is_numeric_dtype(probes[c])), None)


def draw_profile(plt, fd: FigureData, spec: Profile) -> list[Figure]:
    p = fd.probes
    p = p[p["stat"] == spec.stat] if not p.empty else p
    position = _position(p, spec, fd.abl.factors)
    if p.empty or position is None or position not in p:
        return []
    p = p[p[position].notna()]
    if p[position].nunique() < 2:  # a profile needs two places along the network
        return []
    time = "epoch" if "epoch" in p and p["epoch"].notna().any() else "step"
    t = p.groupby("key")[time]
    parts = []
    if "init" in spec.at:
        parts.append(p[p[time] == t.transform("min")].assign(when="init"))
    if "final" in spec.at:  # a diverged run's last probe is not "after training"
        ok = set(fd.runs.loc[fd.runs["status"] == "ok", "key"])
        parts.append(p[(p[time] == t.transform("max")) & p["key"].isin(ok)].assign(when="final"))
    df = pd.concat(parts, ignore_index=True)
    split = len(spec.at) > 1
    lay = layout(fd, spec, ("hue", "row") if split else ("hue", "col", "row"))
    df = lay.apply(df)
    if df.empty:
        return []
    agg = stats.summarize(df, by=_by(lay, *(["when"] if split else []), position))
    log_y = spec.log_y if spec.log_y is not None else _log_scale(agg["mean"], spec.stat)
    fig, panels = _panels(plt, fd, lay, agg, col_values=list(spec.at) if split else None, integer_x=True)
    handles: dict = {}
    for ax, sub in panels:
        _bands(ax, sub, position, lay.hue, fd, handles)
        if log_y:
            _log_axis(ax)
    label = spec.label or fd.abl.describe(spec.stat)
    uri = _finish(plt, fig, fd, lay.hue, handles, fd.abl.describe(position),
                  label + (" (log scale)" if log_y else ""))
    caption = (f"Probe {spec.stat}" + (f" ({label})" if label != spec.stat else "") + f" per {position}, "
               + " and ".join(WHEN[w] for w in spec.at) + ": mean over seeds with its 95% CI band."
               + lay.note() + _runs_note(fd, df)
               + (" Runs that diverged are left out after training." if "final" in spec.at else ""))
    return [Figure(uri, f"{caption} {spec.caption}".strip())]


def draw_path(plt, fd: FigureData, spec: Path) -> list[Figure]:
    src, name = (fd.curves, "metric") if spec.source == "curves" else (fd.probes, "stat")
    if src.empty:
        return []
    time = "epoch" if "epoch" in src and src["epoch"].notna().any() else "step"
    wide = (src[src[name].isin([spec.x, spec.y])].pivot_table(index=["key", time], columns=name, values="value")
            .reset_index())
    if spec.x not in wide or spec.y not in wide:
        return []
    lay = layout(fd, spec, ("hue", "col", "row"))
    factors = [f for f in [*fd.abl.factors, "device", "seed"] if f in fd.runs]
    df = lay.apply(wide.merge(fd.runs[["key", *factors]], on="key"))
    colours, _, dashes = _style(fd, lay.hue)
    fig, panels = _panels(plt, fd, lay, df)
    handles: dict = {}
    for ax, sub in panels:
        for key, run in sub.sort_values(time).groupby("key", sort=False):
            value = run[lay.hue].iloc[0] if lay.hue else None
            (line,) = ax.plot(run[spec.x], run[spec.y], color=colours[value], linewidth=0.9, alpha=0.8,
                              dashes=dashes[value])
            ax.plot(run[spec.x].iloc[:1], run[spec.y].iloc[:1], "o", color=colours[value], markersize=3)
            handles.setdefault(value, line)
    uri = _finish(plt, fig, fd, lay.hue, handles, axis_label(fd.abl, spec.x), axis_label(fd.abl, spec.y))
    caption = (f"Trajectories of ({spec.x}, {spec.y}) over training, one line per run, a dot at its start."
               + lay.note() + _runs_note(fd, df))
    return [Figure(uri, f"{caption} {spec.caption}".strip())]


def _covered(specs: list, kind: type, attr: str | None) -> set:
    return {getattr(s, attr) if attr else None for s in specs if isinstance(s, kind)}


def specs_for(fd: FigureData) -> list:
    """The ablation's declared figures, then the common ones that a declaration does not already cover."""
    own = list(fd.abl.figures)
    common: list = [] if _covered(own, Curves, None) else [Curves()]
    done = _covered(own, Points, "metric")
    common += [Points(metric=m) for m in dict.fromkeys(h.metric for h in fd.abl.hypotheses) if m not in done]
    return [*own, *common]


DRAW = {Curves: draw_curves, Points: draw_points, Profile: draw_profile, Path: draw_path}


def draw(result: Result) -> list[Figure]:
    """Every figure of one tier of one ablation."""
    plt = _pyplot()
    fd = FigureData(result)
    out = []
    for spec in specs_for(fd):
        if isinstance(spec, Custom):
            out.append(Figure(_save(plt, spec.draw(fd)), spec.caption))
        else:
            out += DRAW[type(spec)](plt, fd, spec)
    return out
