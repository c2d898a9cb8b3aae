"""Figures from the tidy tables: learning curves, final metrics per variant, per-layer probe profiles, paths.

The report draws the common figures of any ablation (learning curves, and each hypothesis metric per variant);
an ablation declares the others (``figures=`` in its declaration, :mod:`suite.declare`). This module draws them:
each figure's panels, axes, lines, bands, legend and caption, and saves it as SVG. Which runs each panel and line
shows, and at which tuned setting, is decided in :mod:`suite.report.layout`; how a quantity is labelled, summarized
and bounded (its intervals and axis limits, diverged and early-stopped runs) in :mod:`suite.report.quantities`.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from suite import stats, tables
from suite.declare import Curves, Custom, Path, Points, Profile
from suite.registry import Ablation
from suite.report.layout import MAX_COLS, FigureData, Layout, layout, palette
from suite.report.quantities import (Quantity, caption_about, caption_interval, caption_mean, geometric_means,
                                     intervals, limits, log_scale, quantity, runs_phrase, settle, settle_note,
                                     short_label)
from suite.results import Result

WIDTH = 6.8  # inches: about the text width of A4 with 16 mm margins, so that figures print near their drawn size
PANEL_HEIGHT = 1.7  # inches of plot area per panel
PANEL_GAP = 0.5  # between panel rows: the panel title and the tick labels
LEFT, RIGHT = 0.8, 0.12  # inches of margin: the y label and tick labels; the last tick label's overhang
LEGEND_COLS = 6
MAX_POINTS = 80  # per line
MARKERS = "osD^vPX<>*"
# Lines are told apart by dashes as well as colour (for print and colour blindness): dashes cost nothing to
# draw, where markers are one more object per point, here and in the PDF.
DASHES = [(), (4, 1.5), (1, 1.2), (5, 1.5, 1, 1.5), (2.5, 2.5), (7, 2), (5, 1.5, 1, 1.5, 1, 1.5)]
WHEN = {"init": "at init", "final": "after training"}


@dataclass
class Figure:
    uri: str  # data: URI of the SVG
    caption: str
    # What was drawn, in drawn units (accuracies in %): one row per point or line vertex, with the factors of its
    # panel and colour, its x, ``mean``, ``ci_low`` and ``ci_high`` (NaN: no interval) and ``n`` (runs).
    data: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    ylim: tuple[float, float] | None = None  # the lowest and highest y limit of its panels, in drawn units


@cache
def pyplot():
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


def _wrap(label: str, inches: float) -> str:
    """A label broken into lines that fit ``inches`` at the 9-point axis label size."""
    return textwrap.fill(label, max(16, int(inches * 72 / 5.0)))


# --- panels --------------------------------------------------------------------------------------------------------

def _cells(fd: FigureData, lay: Layout, df: pd.DataFrame, cols: tuple[str, list] | None = None,
           keep=lambda sub: not sub.empty) -> dict:
    """(row value, col value) -> that panel's rows of ``df``, in panel order; panels ``keep`` rejects (by default
    the empty ones) are left out."""
    col_key, col_values = cols or (lay.col, fd.values(lay.col) if lay.col else [None])
    row_values = fd.values(lay.row) if lay.row else [None]
    out = {}
    for r in row_values:
        rows = df if r is None else df[df[lay.row] == r]
        for c in col_values:
            sub = rows if c is None else rows[rows[col_key] == c]
            if keep(sub):
                out[r, c] = sub
    return out


def _figure(plt, lay: Layout, cells: dict, *, n_hue: int = 0, sharey: bool = True, sharex: bool = True,
            long_ticks: bool = False, integer_x: bool = False, panel_height: float = PANEL_HEIGHT,
            col_key: str | None = None):
    """A figure with one panel per cell (a grid of rows x columns when there is a row factor, else columns
    wrapped at MAX_COLS); returns it and a list of (axes, the cell's rows).

    Margins are set by hand rather than by a layout engine, which measures every text several times over."""
    from matplotlib.ticker import MaxNLocator

    col_key = col_key or lay.col
    rows = list(dict.fromkeys(r for r, _ in cells))
    cols = list(dict.fromkeys(c for _, c in cells))
    if lay.row:
        slots = {cell: (rows.index(cell[0]), cols.index(cell[1])) for cell in cells}
        n_rows, n_cols = len(rows), len(cols)
    else:
        n_cols = min(len(cells), MAX_COLS)
        slots = {cell: divmod(i, n_cols) for i, cell in enumerate(cells)}
        n_rows = math.ceil(len(cells) / n_cols)
    top = 0.3 + (0.2 * (math.ceil(n_hue / LEGEND_COLS) + 1) + 0.05 if n_hue else 0)
    bottom = 0.5 + (0.3 if long_ticks else 0)
    height = top + n_rows * panel_height + (n_rows - 1) * PANEL_GAP + bottom
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(WIDTH, height), sharex=sharex, sharey=sharey,
                             squeeze=False)
    fig.subplots_adjust(left=LEFT / WIDTH, right=1 - RIGHT / WIDTH, bottom=bottom / height, top=1 - top / height,
                        wspace=0.1 if sharey in (True, "row") else 0.3, hspace=PANEL_GAP / panel_height)
    used = set(slots.values())
    for i in range(n_rows):
        for j in range(n_cols):
            if (i, j) not in used:
                axes[i, j].set_visible(False)
    panels = []
    for (r, c), sub in cells.items():
        ax = axes[slots[r, c]]
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=integer_x))  # few ticks: each is several objects
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        # The axis labels are the figure's (supxlabel, supylabel): fixed places spare matplotlib measuring the
        # tick labels of every panel that shares an axis to place each panel's empty ones.
        ax.xaxis.set_label_coords(0.5, 0.0)
        ax.yaxis.set_label_coords(0.0, 0.5)
        title = []
        if lay.row:
            title.append(f"{lay.row} = {r}")
        if c is not None:
            title.append(WHEN.get(c, c) if col_key == "when" else f"{col_key} = {c}")
        # A title placed by hand spares matplotlib measuring every tick label to place it.
        ax.set_title(", ".join(map(str, title)), y=1.0, pad=3)
        panels.append((ax, sub))
    # Shared axes hide inner tick labels only on full grids; a gap left by a dropped panel needs them shown.
    if sharex in (True, "col"):
        for (i, j) in used:
            if i + 1 < n_rows and (i + 1, j) not in used:
                axes[i, j].xaxis.set_tick_params(labelbottom=True)
    return fig, panels


def _finish(plt, fig, hue: str | None, hue_values: list, handles: dict, xlabel: str, ylabel: str) -> str:
    """Axis labels and the legend in the margins _figure left for them; the figure as an SVG data URI."""
    _gridlines(fig)
    width, height = fig.get_size_inches()
    if xlabel:
        fig.supxlabel(_wrap(xlabel, width - LEFT), y=0.06 / height, va="bottom", fontsize=9)
    fig.supylabel(_wrap(ylabel, height - 0.2), x=0.06 / width, ha="left", fontsize=9)
    if handles and (hue or len(handles) > 1):
        shown = [v for v in hue_values if v in handles]
        rows = math.ceil(len(shown) / LEGEND_COLS)  # rows as even as they can be: 4 + 3 entries, not 6 + 1
        fig.legend([handles[v] for v in shown], [str(v) for v in shown], title=hue, loc="upper center",
                   bbox_to_anchor=(0.5, 1 - 0.04 / height), ncols=math.ceil(len(shown) / rows), fontsize=8,
                   title_fontsize=8, handlelength=2.2, columnspacing=1.2, borderaxespad=0)
    return save_svg(plt, fig)


def _gridlines(fig) -> None:
    """The grid as one line collection per panel, at the final ticks: matplotlib's own grid is a line per tick,
    which took half of the time of writing a figure."""
    import matplotlib as mpl
    from matplotlib.collections import LineCollection

    style = {"colors": mpl.rcParams["grid.color"], "linewidths": mpl.rcParams["grid.linewidth"],
             "zorder": 0.5}
    if not mpl.rcParams["axes.grid"]:
        return
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        ax.grid(False)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        xs = [x for x in ax.get_xticks() if min(x0, x1) <= x <= max(x0, x1)]
        ys = [y for y in ax.get_yticks() if min(y0, y1) <= y <= max(y0, y1)]
        segments = [[(x, y0), (x, y1)] for x in xs] + [[(x0, y), (x1, y)] for y in ys]
        if segments:
            ax.add_collection(LineCollection(segments, **style), autolim=False)


def save_svg(plt, fig) -> str:
    """The figure as an SVG data URI, the same bytes for the same figure: no build date inside."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def _style(values: list):
    """Colour, marker and dash pattern of each hue value."""
    colours = palette(values)
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


def _bands(ax, agg: pd.DataFrame, x: str, hue: str | None, hue_values: list, handles: dict,
           floor: float | None = None) -> None:
    """Mean lines with their CI band, one per hue value; on a log axis (``floor``: its lower limit) a band that
    reaches 0 or below runs to the panel's bottom edge instead of vanishing."""
    colours, _, dashes = _style(hue_values)
    groups = dict(list(agg.groupby(hue, sort=False))) if hue else {None: agg}
    for value, colour in colours.items():
        sub = groups.get(value)
        if sub is None or sub.empty:
            continue
        sub = sub.sort_values(x)
        xs = sub[x].to_numpy(float)
        (line,) = ax.plot(xs, sub["mean"].to_numpy(float), color=colour, linewidth=1.3, dashes=dashes[value])
        low = sub["ci_low"].to_numpy(float)
        if floor is not None:
            low = np.where(low < floor, floor, low)
        _band(ax, xs, low, sub["ci_high"].to_numpy(float), colour)
        handles.setdefault(value, line)


def _runs_note(fd: FigureData, keys) -> str:
    runs = fd.runs[fd.runs["key"].isin(set(keys))]
    bad = runs["status"].value_counts().drop("ok", errors="ignore")
    what = ", ".join(f"{n} {s}" for s, n in bad.items())
    seeds = runs["seed"].nunique()
    return (f" {runs_phrase(len(runs))} over {seeds} seed{'s' if seeds != 1 else ''}"
            + (f" ({what})" if what else "") + ".")


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


def _few_decades(panels) -> None:
    """A log y axis whose limits hold fewer than two powers of ten gets ticks at 1, 2 and 5 times them, labelled
    plainly: decades alone would leave it with one tick label or none."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    for ax, _ in panels:
        if ax.get_yscale() != "log":
            continue
        lo, hi = ax.get_ylim()
        if lo > 0 and math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) < 1:
            # Within a factor of ten, evenly spaced ticks read best; else 1, 2 and 5 times powers of ten.
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4) if hi / lo < 10 else
                                       LogLocator(subs=(1.0, 2.0, 5.0), numticks=6))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos=None: f"{v:.4g}"))


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


def _share(ranges: dict, log: bool, grid: bool, fill: float = 0.2):
    """How panels share an axis, from each panel's (low, high): all of them (True) when each one's range fills at
    least ``fill`` of their union; else, in a grid, the panels of each row ("row") or column ("col") where that
    holds; else none (False)."""
    def fits(cells) -> bool:
        spans = [((math.log10(lo), math.log10(hi)) if log else (lo, hi)) for lo, hi in
                 (ranges[c] for c in cells) if lo > 0 or not log]
        if len(spans) < 2:
            return True
        union = max(h for _, h in spans) - min(lo for lo, _ in spans)
        return union <= 0 or all(h - lo >= fill * union for lo, h in spans)

    cells = [c for c, r in ranges.items() if r is not None]
    if fits(cells):
        return True
    for mode, part in (("row", 0), ("col", 1)) if grid else ():
        groups = {}
        for c in cells:
            groups.setdefault(c[part], []).append(c)
        if all(fits(g) for g in groups.values()):
            return mode
    return False


def _unite(ranges: dict, share) -> dict:
    """Each panel's range widened to the union of the panels it shares an axis with."""
    def key(c):
        return () if share is True else (c[0],) if share == "row" else (c[1],) if share == "col" else c

    union: dict = {}
    for c, r in ranges.items():
        if r is not None:
            lo, hi = union.get(key(c), r)
            union[key(c)] = (min(lo, r[0]), max(hi, r[1]))
    return {c: union.get(key(c)) for c in ranges}


def _panel_limits(cells: dict, values: dict, log: bool, q: Quantity, grid: bool):
    """Each panel's y limits (cell -> (low, high) or None) and how the panels share the y axis."""
    bounded = (q.low, q.high) if math.isfinite(q.low) and math.isfinite(q.high) else None
    lims = {cell: limits(values.get(cell, []), sub["mean"], sub["ci_low"], sub["ci_high"], log, bounded)
            for cell, sub in cells.items()}
    share = _share(lims, log, grid)
    return _unite(lims, share), share


def _x_share(cells: dict, x: str, grid: bool):
    """Panels share the x axis where their x ranges nearly agree (e.g. not networks of 3 and 10 layers)."""
    ranges = {c: (float(sub[x].min()), float(sub[x].max())) for c, sub in cells.items() if not sub.empty}
    return _share(ranges, False, grid, fill=0.7)


def _set_limits(panels, cells: dict, lims: dict) -> tuple | None:
    """Sets each panel's y limits; returns the lowest and highest of them."""
    by_id = {id(sub): lims.get(cell) for cell, sub in cells.items()}
    for ax, sub in panels:
        if by_id.get(id(sub)) is not None:
            ax.set_ylim(*by_id[id(sub)])
    found = [v for v in by_id.values() if v is not None]
    return (float(min(lo for lo, _ in found)), float(max(hi for _, hi in found))) if found else None


def _floor(lims: dict, cells: dict, sub: pd.DataFrame) -> float | None:
    """The lower y limit of the panel whose rows are ``sub``."""
    lim = next((lims.get(c) for c, s in cells.items() if s is sub), None)
    return lim[0] if lim else None


def _drawn(cells: dict) -> pd.DataFrame:
    """The rows of the panels drawn, for :class:`Figure`'s ``data``."""
    return pd.concat(list(cells.values()), ignore_index=True)


# --- the figures -----------------------------------------------------------------------------------------------------

def draw_curves(plt, fd: FigureData, spec: Curves) -> list[Figure]:
    probes = spec.source == "probes"
    src, name = (fd.probes, "stat") if probes else (fd.curves, "metric")
    if src.empty:
        return []
    logged = list(src[name].unique())
    if spec.metrics:
        wanted = [m for m in spec.metrics if m in logged]
    else:
        wanted = [m for m in dict.fromkeys([h.metric for h in fd.abl.hypotheses] + ["train_loss"])
                  if m in logged][:1] or logged[:1]
    src = src[src[name].isin(wanted)]
    x = "epoch" if "epoch" in src and src["epoch"].notna().any() else "step"
    where = ""
    if probes:  # a statistic probed at several places along the network: shown at the last one
        position = _position(src, Profile(), fd.abl.factors)
        if position and src[position].nunique() > 1:
            src = src[src[position] == src.groupby("key")[position].transform("max")]
            where = f" at the last {position}"
    x_label = spec.x_label or _progress(src[x])
    out = []
    for group in ([wanted] if spec.overlay else [[m] for m in wanted]):
        if not group:
            continue
        lay = layout(fd, spec, ("col", "row") if spec.overlay else ("hue", "col", "row"), shown=group[0])
        hue, hue_values = (name, group) if spec.overlay else (lay.hue, fd.values(lay.hue) if lay.hue else [None])
        df = lay.apply(src[src[name].isin(group)])
        if df.empty:
            continue
        keys = df["key"].unique()
        df, diverged, stopped = settle(df, x, _by(lay, name), fd.ok)
        df = _thin(df, x)
        if df.empty:
            continue
        q = quantity(fd.abl, group[0], logged=True, about=spec.about)
        by = [*dict.fromkeys([*_by(lay), name, x])]
        agg = stats.summarize(df, by=by)
        log_y = spec.log_y if spec.log_y is not None else log_scale(agg["mean"], group[0])
        agg, geometric = geometric_means(df, by, agg, log_y)
        agg, interval = intervals(q, agg, check_identical=False, geometric=geometric)
        cells = _cells(fd, lay, agg)
        if not cells:
            continue
        drawn = df.assign(value=df["value"] * q.scale)
        values = {cell: drawn.loc[_match(drawn, lay, cell), "value"] for cell in cells}
        lims, share = _panel_limits(cells, values, log_y, q, bool(lay.row))
        fig, panels = _figure(plt, lay, cells, n_hue=len(hue_values) if hue else 0, sharey=share,
                              sharex=_x_share(cells, x, bool(lay.row)), integer_x=True)
        handles: dict = {}
        for ax, sub in panels:
            _bands(ax, sub, x, hue, hue_values, handles, _floor(lims, cells, sub) if log_y else None)
            if log_y:
                _log_axis(ax)
        ylim = _set_limits(panels, cells, lims)
        _few_decades(panels)
        label = spec.label or (q.label if len(group) == 1 else _common(fd.abl, group))
        uri = _finish(plt, fig, hue if not spec.overlay else None, hue_values, handles, x_label,
                      label + (" (log scale)" if log_y else ""))
        what = (caption_about(q) if len(group) == 1 else  # the statistics drawn together, described once
                f"{', '.join(group[:-1])} and {group[-1]} ({group[0]}: {q.about}; the others alike)")
        title = "Probe statistics over training" if probes else "Learning curves"
        caption = (f"{title}: {what}{where} per {x_label}, {caption_mean(q, interval)} with "
                   f"{caption_interval(interval, band=True)}"
                   + (f", one line per {hue}" if hue and not spec.overlay else "") + "."
                   + lay.note() + _runs_note(fd, keys) + settle_note(diverged, stopped))
        out.append(Figure(uri, f"{caption} {spec.caption}".strip(), _drawn(cells), ylim))
    return out


def _match(df: pd.DataFrame, lay: Layout, cell: tuple, col_key: str | None = None) -> pd.Series:
    """Rows of ``df`` in the panel ``cell`` (row value, col value)."""
    mask = pd.Series(True, index=df.index)
    r, c = cell
    col_key = col_key or lay.col
    if lay.row and r is not None:
        mask &= df[lay.row] == r
    if col_key and c is not None:
        mask &= df[col_key] == c
    return mask


def _common(abl: Ablation, names: list[str]) -> str:
    """One axis label for several statistics drawn together: their labels' common words, else the first's."""
    labels = [quantity(abl, n, logged=True).label for n in names]
    words = [w for w in labels[0].split() if all(w in lab.split() for lab in labels[1:])]
    return " ".join(words) if len(words) >= 3 else labels[0]


def draw_points(plt, fd: FigureData, spec: Points) -> list[Figure]:
    from matplotlib.ticker import FixedFormatter, FixedLocator

    m = fd.result.metrics
    lay = layout(fd, spec, ("x", "hue", "col", "row"), shown=spec.metric)
    values = lay.apply(m[m["metric"] == spec.metric]) if not m.empty else m
    if values.empty:
        return []
    q = quantity(fd.abl, spec.metric, about=spec.about)
    by = [f for f in (lay.x, lay.hue, lay.col, lay.row) if f]
    agg, interval = intervals(q, stats.summarize(values, by=[*by, "metric"]))
    x = lay.x
    xs = fd.values(x) if x else [None]
    numeric = (len(xs) >= 3 or bool(spec.log_x)) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in xs)
    log_x = spec.log_x if spec.log_x is not None else numeric and min(xs) > 0 and max(xs) / min(xs) >= 10
    hue_values = fd.values(lay.hue) if lay.hue else [None]
    colours, markers, _ = _style(hue_values)
    cells = _cells(fd, lay, agg, keep=lambda sub: sub["n"].sum() > 0)
    if not cells:
        return []
    ok = values[values["key"].isin(fd.ok)]
    runs = {cell: ok.loc[_match(ok, lay, cell), "value"] * q.scale for cell in cells}
    lims, share = _panel_limits(cells, runs, spec.log_y, q, bool(lay.row))
    # Category names turn when they would not fit side by side under a panel.
    n_cols = len({c for _, c in cells}) if lay.row else min(len(cells), MAX_COLS)
    room = (WIDTH - LEFT - RIGHT) / n_cols * 72 / 6.0  # characters of tick label a panel holds in a row
    turn = not numeric and sum(len(str(v)) + 2 for v in xs) > room
    fig, panels = _figure(plt, lay, cells, n_hue=len(hue_values) if lay.hue else 0, sharey=share, long_ticks=turn)
    handles: dict = {}
    width = 0.7 / max(len(colours), 1)
    for ax, sub in panels:
        for i, (value, colour) in enumerate(colours.items()):
            part = sub if lay.hue is None else sub[sub[lay.hue] == value]
            if part.empty:
                continue
            if x:
                part = part.set_index(x).reindex(xs).reset_index()
            pos = np.asarray(xs if numeric else np.arange(len(xs)) + (i - (len(colours) - 1) / 2) * width,
                             dtype=float)
            mean = part["mean"].to_numpy(dtype=float)
            low, high = part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float)
            floor = _floor(lims, cells, sub) if spec.log_y else None
            if floor is not None:  # on a log axis a bar that reaches 0 runs to the panel's bottom edge
                low = np.where(low < floor, floor, low)
            bars = np.isfinite(low) & np.isfinite(high)
            # One collection of interval bars and one line of means: errorbar() adds caps and a container, three
            # times the objects to draw here and in the PDF.
            if bars.any():
                ax.vlines(pos[bars], low[bars], high[bars], colors=[colour], linewidth=1)
            (handle,) = ax.plot(pos, mean, color=colour, marker=markers[value], markersize=4,
                                linestyle="-" if numeric else "none", linewidth=1)
            handles.setdefault(value, handle)
        if log_x:
            _log_axis(ax, "x")
        if spec.log_y:
            _log_axis(ax)
        if not numeric:  # a fixed locator and formatter: set_xticks with labels styles every tick's text anew
            ax.xaxis.set_major_locator(FixedLocator(np.arange(len(xs))))
            ax.xaxis.set_major_formatter(FixedFormatter([str(v) for v in xs]))
            if turn:
                ax.tick_params(axis="x", labelrotation=30, labelrotation_mode="xtick")
            ax.set_xlim(-0.5, len(xs) - 0.5)
    ylim = _set_limits(panels, cells, lims)
    _few_decades(panels)
    uri = _finish(plt, fig, lay.hue, hue_values, handles, x or "",
                  q.label + (" (log scale)" if spec.log_y else ""))
    excluded = int(agg["n_excluded"].sum())
    what = caption_about(q)
    caption = (f"{what[:1].upper()}{what[1:]}: {caption_mean(q, interval)} with {caption_interval(interval)} "
               f"per variant, n = {_range(agg['n'])} runs each."
               + lay.note() + (f" {excluded} non-finite values (diverged runs) are left out." if excluded else ""))
    return [Figure(uri, f"{caption} {spec.caption}".strip(), _drawn(cells), ylim)]


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
    first, last = t.transform("min"), t.transform("max")
    parts = {}
    if "init" in spec.at:
        parts["init"] = p[p[time] == first].assign(when="init")
    if "final" in spec.at:  # a run probed once has no "after training"; a diverged run's last probe is not one
        parts["final"] = p[(p[time] == last) & (last > first) & p["key"].isin(fd.ok)].assign(when="final")
    at = [w for w in spec.at if w in parts and not parts[w].empty]
    if not at:
        return []
    split = len(at) > 1
    lay = layout(fd, spec, ("hue", "row") if split else ("hue", "col", "row"), shown=spec.stat)
    df = lay.apply(pd.concat([parts[w] for w in at], ignore_index=True))
    if df.empty:
        return []
    q = quantity(fd.abl, spec.stat, logged=True, about=spec.about)
    by = _by(lay, *(["when"] if split else []), position)
    agg = stats.summarize(df, by=by)
    log_y = spec.log_y if spec.log_y is not None else log_scale(agg["mean"], spec.stat)
    agg, geometric = geometric_means(df, by, agg, log_y)
    agg, interval = intervals(q, agg, check_identical=False, geometric=geometric)
    # A panel with fewer than two positions (e.g. a network of one layer) has no profile to draw.
    cols = ("when", at) if split else None
    cells = _cells(fd, lay, agg, cols=cols,
                   keep=lambda sub: sub.loc[np.isfinite(sub["mean"]), position].nunique() >= 2)
    if not cells:
        return []
    drawn = df.assign(value=df["value"] * q.scale)
    values = {cell: drawn.loc[_match(drawn, lay, cell, "when" if split else None), "value"] for cell in cells}
    grid = bool(lay.row)
    lims, share = _panel_limits(cells, values, log_y, q, grid)
    hue_values = fd.values(lay.hue) if lay.hue else [None]
    fig, panels = _figure(plt, lay, cells, n_hue=len(hue_values) if lay.hue else 0, sharey=share, integer_x=True,
                          sharex=_x_share(cells, position, grid), col_key="when" if split else None)
    handles: dict = {}
    for ax, sub in panels:
        _bands(ax, sub, position, lay.hue, hue_values, handles, _floor(lims, cells, sub) if log_y else None)
        if log_y:
            _log_axis(ax)
    ylim = _set_limits(panels, cells, lims)
    _few_decades(panels)
    label = spec.label or q.label
    uri = _finish(plt, fig, lay.hue, hue_values, handles, short_label(fd.abl.describe(position)),
                  label + (" (log scale)" if log_y else ""))
    once = [w for w in spec.at if w not in at]
    caption = (f"Probe {spec.stat}" + (f" ({q.about})" if q.about != spec.stat else "") + f" per {position}, "
               + " and ".join(WHEN[w] for w in at)
               + f": {caption_mean(q, interval)} with {caption_interval(interval, band=True)}."
               + (" The runs were probed only at init, so there is no after-training profile." if once == ["final"]
                  else "")
               + lay.note() + _runs_note(fd, df["key"].unique())
               + (" Runs that diverged are left out after training." if "final" in at else ""))
    return [Figure(uri, f"{caption} {spec.caption}".strip(), _drawn(cells), ylim)]


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
    keys = df["key"].unique()
    diverged = int(sum(k not in fd.ok for k in keys))
    df = df[df["key"].isin(fd.ok)]
    if spec.runs:  # the lowest seeds of each line group, for a picture that stays readable
        seeds = df.groupby(_by(lay), dropna=False)["seed"].transform(
            lambda s: s.isin(sorted(s.unique())[:spec.runs])) if _by(lay) else df["seed"].isin(
            sorted(df["seed"].unique())[:spec.runs])
        df = df[seeds.astype(bool)]
        keys = [k for k in keys if k not in fd.ok or k in set(df["key"])]
    cells = _cells(fd, lay, df)
    if not cells:
        return []
    hue_values = fd.values(lay.hue) if lay.hue else [None]
    colours, _, dashes = _style(hue_values)
    x_span = (df[spec.x].min(), df[spec.x].max())
    y_span = (df[spec.y].min(), df[spec.y].max())
    height = PANEL_HEIGHT
    if spec.equal:  # panels as tall as the data are, in the x axis's units
        n_cols = len({c for _, c in cells}) if lay.row else min(len(cells), MAX_COLS)
        panel_w = (WIDTH - LEFT - RIGHT) / n_cols * 0.92
        ratio = (y_span[1] - y_span[0]) / max(x_span[1] - x_span[0], 1e-300)
        height = float(np.clip(panel_w * ratio, 0.8, 2.6))
    fig, panels = _figure(plt, lay, cells, n_hue=len(hue_values) if lay.hue else 0, panel_height=height)
    handles: dict = {}
    for ax, sub in panels:
        for key, run in sub.sort_values(time).groupby("key", sort=False):
            value = run[lay.hue].iloc[0] if lay.hue else None
            (line,) = ax.plot(run[spec.x], run[spec.y], color=colours[value], linewidth=0.9, alpha=0.8,
                              dashes=dashes[value])
            ax.plot(run[spec.x].iloc[:1], run[spec.y].iloc[:1], "o", color=colours[value], markersize=3)
            handles.setdefault(value, line)
    if spec.equal:  # one set of limits for all panels (the axes are shared), the box fitted to one scale
        ax = panels[0][0]
        ax.set_xlim(*_pad(x_span))
        ax.set_ylim(*_pad(y_span))
        for ax, _ in panels:
            ax.set_aspect("equal", adjustable="box")
    qx, qy = quantity(fd.abl, spec.x, logged=True), quantity(fd.abl, spec.y, logged=True)
    uri = _finish(plt, fig, lay.hue, hue_values, handles, qx.label, qy.label)
    caption = (f"Trajectories of ({spec.x}, {spec.y}) over training, one line per run, a dot at its start"
               + ((f"; one run per panel and colour (the lowest seed)" if spec.runs == 1 else
                   f"; the {spec.runs} lowest seeds per panel and colour") if spec.runs else "")
               + (", both axes on one scale" if spec.equal else "") + "."
               + lay.note() + _runs_note(fd, keys)
               + settle_note(diverged, 0))
    data = df.rename(columns={spec.x: "x", spec.y: "y"})
    ylims = [ax.get_ylim() for ax, _ in panels]
    return [Figure(uri, f"{caption} {spec.caption}".strip(), data,
                   (float(min(lo for lo, _ in ylims)), float(max(hi for _, hi in ylims))))]


def _pad(span: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(span[0]), float(span[1])
    pad = (hi - lo) * 0.05 or 0.5
    return lo - pad, hi + pad


def specs_for(fd: FigureData) -> list:
    """The ablation's declared figures, then the common ones that a declaration does not already cover."""
    own = list(fd.abl.figures)
    common: list = [] if any(isinstance(s, Curves) and s.source == "curves" for s in own) else [Curves()]
    done = {s.metric for s in own if isinstance(s, Points)}
    common += [Points(metric=m) for m in dict.fromkeys(h.metric for h in fd.abl.hypotheses) if m not in done]
    return [*own, *common]


DRAW = {Curves: draw_curves, Points: draw_points, Profile: draw_profile, Path: draw_path}


def draw(result: Result) -> list[Figure]:
    """Every figure of one tier of one ablation."""
    plt = pyplot()
    fd = FigureData(result)
    out = []
    for spec in specs_for(fd):
        if isinstance(spec, Custom):
            out.append(Figure(save_svg(plt, spec.draw(fd)), spec.caption))
        else:
            out += DRAW[type(spec)](plt, fd, spec)
    return out
