"""What an ablation may declare for its report: extra figures and reference numbers from the literature.

Two ways, neither of which touches the ablation's registration:

- module-level lists in the ablation module: ``FIGURES = [Points(metric="test_acc", x="lag")]`` and
  ``REFERENCES = [Reference(...)]``;
- or, from any module, ``suite.report.declare.declare("my_claim", figures=[...], references=[...])``. Note that
  the first way edits the ablation's source, whose hash is part of every run key, so its stored runs are redone.

Declared figures are drawn before the engine's common ones, which skip what a declaration already covers (the
same kind of figure of the same metric or statistic). Factors not given a role (``x``, ``hue``, ``col``, ``row``)
are laid out by the engine; ``where`` fixes factors to values. This module imports nothing heavy: ablation modules
may import it at registration time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass(frozen=True, kw_only=True)
class _Spec:
    hue: str | None = None
    col: str | None = None
    row: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    caption: str = ""  # added after the engine's caption, which states what is plotted and how


@dataclass(frozen=True, kw_only=True)
class Curves(_Spec):
    """Per-epoch curves of logged metrics, mean over seeds with a 95% CI band, one line per variant."""

    metrics: tuple[str, ...] = ()  # default: the first hypothesis metric that is logged, else the training loss
    x_label: str = ""  # default: "epoch" when every epoch is logged, else "step"
    log_y: bool | None = None  # None: log for positive values spanning three decades (e.g. an exploded loss)


@dataclass(frozen=True, kw_only=True)
class Points(_Spec):
    """A final metric per variant: mean over seeds with its 95% CI; a numeric ``x`` gets a line (e.g. lag)."""

    metric: str = ""
    x: str | None = None
    log_x: bool | None = None  # None: log when a numeric x spans a factor of 10 or more
    log_y: bool = False


@dataclass(frozen=True, kw_only=True)
class Profile(_Spec):
    """A probe statistic along the network (``position``: the probe's layer column, e.g. ``layer`` or ``t``),
    mean over seeds with a 95% CI band, at init and after training side by side."""

    stat: str = ""
    position: str | None = None  # default: "layer" when the probes have it
    at: tuple[str, ...] = ("init", "final")
    log_y: bool | None = None  # None: log for norms and for values spanning three decades
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class Path(_Spec):
    """Trajectories: logged quantity ``y`` against ``x`` over training (e.g. the iterate on a ravine), one
    line per run, from the curves (``source="curves"``) or the probes (``source="probes"``)."""

    x: str = ""
    y: str = ""
    source: str = "curves"


@dataclass(frozen=True)
class Custom:
    """Anything else: ``draw(data) -> matplotlib Figure`` gets a :class:`suite.report.figures.FigureData`."""

    draw: Callable[..., Any]
    caption: str


@dataclass(frozen=True)
class Reference:
    """A number from the literature shown beside ours: ``metric`` of our runs matching ``where``."""

    source: str  # e.g. "Glorot & Bengio (2010), table 1"
    metric: str
    value: float
    where: Mapping[str, Any] = field(default_factory=dict)
    setting: str = ""  # their setting, where it differs from ours


_DECLARED: dict[str, dict[str, list]] = {}


def declare(name: str, *, figures=(), references=()) -> None:
    """Declare figures and reference numbers for the ablation ``name`` (adds to earlier declarations)."""
    entry = _DECLARED.setdefault(name, {"figures": [], "references": []})
    entry["figures"] += list(figures)
    entry["references"] += list(references)


def declared(abl) -> tuple[list, list]:
    """(figures, references) declared for an ablation, by its module's lists and by :func:`declare`."""
    module = sys.modules.get(abl.module)
    extra = _DECLARED.get(abl.name, {"figures": [], "references": []})
    return ([*getattr(module, "FIGURES", ()), *extra["figures"]],
            [*getattr(module, "REFERENCES", ()), *extra["references"]])
