"""The vocabulary of a declaration: what an ablation module writes in its ``@ablation(...)``.

Configuration values (:class:`Param`), tiers (:class:`Tier`), the kinds of outcome a metric records (continuous by
default, :func:`Binary`, :func:`Censored`), hypotheses (:func:`Greater`, :func:`Less`, :func:`Similar`, each with a
role: core, mechanism or sanity), the figures its report draws (:class:`Curves`, :class:`Points`, :class:`Profile`,
:class:`Path`, :class:`Custom`) and numbers from the literature (:class:`Reference`). Plain data, checked by
:func:`suite.registry.validate`; this module imports nothing heavy, so declarations load in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


@dataclass(frozen=True)
class Param:
    """A configuration value with its type taken from the default, and optional bounds or choices."""

    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    help: str = ""

    @property
    def type(self) -> type:
        return type(self.default)


@dataclass(frozen=True)
class Tier:
    """A scale at which an ablation runs: number of seeds, config overrides and an optional narrower grid."""

    seeds: int
    config: Mapping[str, Any] = field(default_factory=dict)
    factors: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    about: str = ""


@dataclass(frozen=True)
class Metric:
    """What a metric records. ``kind``: "continuous" (the default for a plain description string), "binary" (0 or
    1 per run: compared with exact tests) or "censored" (e.g. steps to a target, capped at the budget: the run's
    ``event`` metric is 1 where the target was reached and 0 where the value is only the cap)."""

    about: str
    kind: str = "continuous"
    event: str | None = None


def Binary(about: str) -> Metric:
    """A 0/1 outcome per run, e.g. "reached the target": compared with McNemar's or Fisher's exact test."""
    return Metric(about, "binary")


def Censored(about: str, event: str) -> Metric:
    """A time to an event capped at the budget (e.g. updates until solved); ``event`` names the binary metric that
    says whether the run reached it. Compared with tests that treat the cap as censoring."""
    return Metric(about, "censored", event)


ROLES = ("core", "mechanism", "secondary", "sanity")


def _items(d: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


@dataclass(frozen=True)
class Hypothesis:
    """A directed comparison: ``metric`` of the runs matching ``a`` is greater (or less) than of those matching ``b``.

    ``where`` restricts both sides to a slice of the grid. The unit of replication is the seed: each side's runs of
    one seed (its strata - the factors neither compared nor tuned that vary in the slice - and, with ``top``, its
    kept settings) are averaged into one value per seed, and the two sides pair on the seed.

    ``role``: "core" (what the book states: decides the claim's profile), "mechanism" (the why, from probes or
    internals: reported beside it), "secondary" (a consequence the book does not state, e.g. test accuracy when
    the claim is about fitting: reported beside it) or "sanity" (true by construction or exact arithmetic: shown as a
    measurement that passes when every seed satisfies it; no p value, never evidence).
    """

    metric: str
    direction: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]
    where: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    # factor -> metric: each side, in each stratum, runs at the factor value with the best mean of that metric
    # (prefix "-" to minimize), e.g. {"lr": "val_acc"} compares two optimizers each at its own best learning rate.
    # A metric of None: the validation counterpart of the tested one (test_acc -> val_acc).
    best: Mapping[str, str | None] = field(default_factory=dict)
    # "similar": the largest |a - b| that counts as no difference; "greater"/"less": the smallest difference that
    # matters (optional; ``power`` reports the seeds needed to detect it).
    margin: float | None = None
    # factor -> (metric, fraction): each side keeps its best fraction of that factor's values, ranked by their
    # mean of the metric, e.g. {"trial": ("val_acc", 0.5)} compares the best half of each side's trials (Greff
    # et al.'s protocol). The sides then hold different settings, so the test is Welch's, never paired.
    top: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    role: str = "core"

    def describe(self) -> str:
        """The label, or one generated from the hypothesis, e.g. 'test_acc: activation=relu > activation=sigmoid
        where depth=10, each at its best lr=val_acc'."""
        if self.label:
            return self.label
        sign = {"greater": ">", "less": "<", "similar": f"~ (within {self.margin})"}[self.direction]
        where = f" where {_items(self.where)}" if self.where else ""
        best = f", each at its best {_items(self.best)}" if self.best else ""
        top = "".join(f", each side's best {frac:.0%} of {k} by {m}" for k, (m, frac) in self.top.items())
        return f"{self.metric}: {_items(self.a)} {sign} {_items(self.b)}{where}{best}{top}"

    @property
    def tuned(self) -> set[str]:
        """The factors each side chooses for itself (``best`` and ``top``): pooled, never paired on."""
        return set(self.best) | set(self.top)


Tuning = Mapping[str, str | None] | Sequence[str] | None


def _hypothesis(metric: str, direction: str, a: Mapping, b: Mapping, where: Mapping | None, label: str,
                best: Tuning, top: Mapping | None, margin: float | None, role: str) -> Hypothesis:
    best = dict(best) if isinstance(best, Mapping) else dict.fromkeys(best or ())
    return Hypothesis(metric, direction, dict(a), dict(b), dict(where or {}), label, best, margin,
                      dict(top or {}), role)


def Greater(metric: str, a: Mapping, b: Mapping, where: Mapping | None = None, label: str = "",
            best: Tuning = None, top: Mapping | None = None, margin: float | None = None,
            role: str = "core") -> Hypothesis:
    """``metric`` is larger for the runs matching ``a`` than for those matching ``b``. ``best``: a mapping factor ->
    selection metric, or factor names (each tuned on the tested metric's validation counterpart)."""
    return _hypothesis(metric, "greater", a, b, where, label, best, top, margin, role)


def Less(metric: str, a: Mapping, b: Mapping, where: Mapping | None = None, label: str = "",
         best: Tuning = None, top: Mapping | None = None, margin: float | None = None,
         role: str = "core") -> Hypothesis:
    """``metric`` is smaller for the runs matching ``a`` than for those matching ``b`` (``best`` as in Greater)."""
    return _hypothesis(metric, "less", a, b, where, label, best, top, margin, role)


def Similar(metric: str, a: Mapping, b: Mapping, margin: float, where: Mapping | None = None, label: str = "",
            best: Tuning = None, top: Mapping | None = None, role: str = "core") -> Hypothesis:
    """a and b differ by less than ``margin`` on ``metric``: judged by an equivalence test (TOST) and, for the
    opposite finding, a test that they differ by more than ``margin``, both Holm-adjusted."""
    return _hypothesis(metric, "similar", a, b, where, label, best, top, margin, role)


# --- figures of the report ---------------------------------------------------------------------------------------
# Declared figures are drawn before the report's common ones (learning curves, and each hypothesis metric per
# variant), which skip what a declaration already covers. Factors not given a role (x, hue, col, row) are laid out
# by the report; ``where`` fixes factors to values.

@dataclass(frozen=True, kw_only=True)
class _Figure:
    hue: str | None = None
    col: str | None = None
    row: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    caption: str = ""  # added after the report's caption, which states what is plotted and how
    # The quantity drawn, in words, for the caption and the axis label, where its declared description says more
    # than this ablation runs (e.g. a description shared with a claim on another task); default: the description.
    about: str = ""


@dataclass(frozen=True, kw_only=True)
class Curves(_Figure):
    """Per-epoch curves of logged metrics (``source="curves"``) or of probe statistics over training
    (``source="probes"``, e.g. the percentiles of a unit's input), mean over runs with a 95% CI band, one line per
    variant; with ``overlay``, the named metrics are the lines of one panel (e.g. the 15th, 50th and 85th
    percentiles) and the factors take the panels."""

    metrics: tuple[str, ...] = ()  # default: the first hypothesis metric that is logged, else the training loss
    x_label: str = ""  # default: "epoch" when every epoch is logged, else "step"
    # None: log for norms and variances spanning a decade, losses spanning two, other positive values three; on a
    # log axis the lines are geometric means
    log_y: bool | None = None
    source: str = "curves"  # "curves" (logged per epoch or step) or "probes" (probe statistics, per epoch or step)
    overlay: bool = False
    label: str = ""  # the y axis's label; default: from the description of the (first) metric

    def __post_init__(self):
        if self.source not in ("curves", "probes"):
            raise ValueError(f"Curves(source={self.source!r}): source must be 'curves' or 'probes'")


@dataclass(frozen=True, kw_only=True)
class Points(_Figure):
    """A final metric per variant: mean over seeds with its 95% CI; a numeric ``x`` gets a line (e.g. lag)."""

    metric: str = ""
    x: str | None = None
    log_x: bool | None = None  # None: log when a numeric x spans a factor of 10 or more
    log_y: bool = False


@dataclass(frozen=True, kw_only=True)
class Profile(_Figure):
    """A probe statistic along the network (``position``: the probe's layer column, e.g. ``layer`` or ``t``),
    mean over seeds with a 95% CI band, at init and after training side by side."""

    stat: str = ""
    position: str | None = None  # default: "layer" when the probes have it
    at: tuple[str, ...] = ("init", "final")
    log_y: bool | None = None  # None: log for norms and for values spanning three decades
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class Path(_Figure):
    """Trajectories: logged quantity ``y`` against ``x`` over training (e.g. the iterate on a ravine), one
    line per run, from the curves (``source="curves"``) or the probes (``source="probes"``)."""

    x: str = ""
    y: str = ""
    source: str = "curves"
    equal: bool = False  # both axes on one scale (e.g. an iterate in the plane), panels as tall as the data
    runs: int = 0  # at most this many runs per line colour and panel, the lowest seeds; 0: all

    def __post_init__(self):
        if self.source not in ("curves", "probes"):
            raise ValueError(f"Path(source={self.source!r}): source must be 'curves' or 'probes'")


@dataclass(frozen=True)
class Custom:
    """Anything else: ``draw(data) -> matplotlib Figure`` gets a :class:`suite.report.layout.FigureData`."""

    draw: Callable[..., Any]
    caption: str


FIGURES = (Curves, Points, Profile, Path, Custom)


@dataclass(frozen=True)
class Reference:
    """A number from the literature shown beside ours - ``metric`` of our runs matching ``where`` - never tested
    against it (the settings differ). References of one source and metric for several variants are compared by
    direction: does their order of the variants agree with ours?"""

    source: str  # e.g. "Glorot & Bengio (2010), table 1"
    metric: str
    value: float
    where: Mapping[str, Any] = field(default_factory=dict)
    setting: str = ""  # their setting: data, network, budget
    unit: str = ""  # e.g. "fraction", "updates"
    differs: str = ""  # what differs from ours
    verified: bool = False  # read in the source itself; False: quoted second hand, shown as unverified
