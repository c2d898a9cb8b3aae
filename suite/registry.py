"""The registry: finds ablation modules, validates their declarations and holds them by name.

An ablation module (``ablations/<name>.py``, or a file in a directory of ``$SUITE_ABLATIONS``) decorates its
train function with :func:`ablation`; importing the module registers it. :func:`discover` imports every module
so that ``list`` sees them all. The vocabulary of a declaration lives in :mod:`suite.declare`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import keyword
import os
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from suite import fingerprint
from suite.declare import FIGURES, ROLES, Hypothesis, Metric, Param, Points, Reference, Tier
from suite.errors import DeclarationError

TIERS = ("smoke", "quick", "full")
DIRECTIONS = ("greater", "less", "similar")
SCALAR_TYPES = (bool, int, float, str)
# Column names of the tidy tables, which factor columns must not shadow.
RESERVED = {"key", "ablation", "tier", "seed", "device", "status", "code_version", "metric", "value", "epoch",
            "step", "layer", "stat", "error"}


@dataclass(frozen=True)
class Ablation:
    """A validated declaration. ``train(contexts) -> outcomes`` trains K >= 1 runs (one context each) and returns,
    per run, its metrics (a dict) or a :class:`suite.context.Diverged`; runs that differ only in ``group_over``
    ("seed" and factor names) may be handed to it together, all others one at a time."""

    name: str
    section: str
    claim: str
    config: Mapping[str, Param]
    factors: Mapping[str, tuple]
    metrics: Mapping[str, str]
    hypotheses: tuple[Hypothesis, ...]
    tiers: Mapping[str, Tier]
    train: Callable
    module: str
    code_version: str
    about: str = ""
    group_over: tuple[str, ...] = ()
    figures: tuple = ()
    references: tuple[Reference, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)  # logged curves and probe statistics, in words
    kinds: Mapping[str, Metric] = field(default_factory=dict)  # metric -> what it records (continuous by default)
    # Runs on two devices count as the same result when their means differ by less than this fraction of |mean|.
    device_tolerance: float = 0.01
    # Combinations of factor values left out of every plan: factor -> values, all of them matching.
    exclude: tuple[Mapping[str, tuple], ...] = ()

    def kind(self, metric: str) -> str:
        m = self.kinds.get(metric)
        return m.kind if m else "continuous"

    @property
    def core(self) -> tuple[Hypothesis, ...]:
        return tuple(h for h in self.hypotheses if h.role == "core")

    def grid(self, tier: str) -> dict[str, tuple]:
        """The factor grid of a tier: the declared factors with the tier's narrower lists applied."""
        return {k: tuple(self.tiers[tier].factors.get(k, v)) for k, v in self.factors.items()}

    def factor_values(self, name: str) -> list:
        """Every value a factor takes in any tier, in declaration order."""
        seen = list(self.factors[name])
        for t in self.tiers.values():
            seen += [v for v in t.factors.get(name, ()) if v not in seen]
        return seen

    def excluded(self, variant: Mapping[str, Any]) -> bool:
        """Whether a variant (factor -> value) matches an ``exclude`` entry, i.e. is never run."""
        return any(all(variant.get(k) in values for k, values in entry.items()) for entry in self.exclude)

    def plan_version(self, tier: str) -> str:
        """The code version together with what the tier's default plan is made of (its seeds, config and grid, and
        the exclusions), which the code version leaves out: the key of what is stored about that plan as a whole,
        such as where ``run --until-decided`` stopped it."""
        t = self.tiers[tier]
        payload = [self.code_version, t.seeds, dict(t.config), self.grid(tier), [dict(e) for e in self.exclude]]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def n_variants(self, tier: str) -> int:
        grid = self.grid(tier)
        return sum(not self.excluded(dict(zip(grid, values))) for values in itertools.product(*grid.values()))

    def describe(self, name: str) -> str:
        """A metric, logged curve or probe statistic in words (its declared description), else its name."""
        return self.metrics.get(name) or self.labels.get(name) or name


REGISTRY: dict[str, Ablation] = {}


def _fail(name: str, fld: str, why: str) -> None:
    raise DeclarationError(f"ablation {name!r}: field {fld!r}: {why}")


def _check_scalar(name: str, fld: str, value: Any) -> None:
    if not isinstance(value, SCALAR_TYPES):
        _fail(name, fld, f"{value!r} is a {type(value).__name__}; values must be bool, int, float or str")


def _code_version(train: Callable) -> str:
    """The version of the code a run of this ablation executes (:func:`suite.fingerprint.code_version`)."""
    module = sys.modules.get(train.__module__)
    try:
        source = inspect.getsource(module) if module else inspect.getsource(train)
    except (OSError, TypeError):
        source = train.__qualname__
    package = getattr(module, "__package__", None) or ""
    return fingerprint.code_version(source, package)


def ablation(
    *,
    name: str,
    section: str,
    claim: str,
    data: str | None,
    factors: Mapping[str, Sequence[Any]],
    metrics: Mapping[str, str | Metric],
    hypotheses: Sequence[Hypothesis],
    tiers: Mapping[str, Tier],
    config: Mapping[str, Any] | None = None,
    group_over: Sequence[str] = (),
    figures: Sequence = (),
    references: Sequence[Reference] = (),
    labels: Mapping[str, str] | None = None,
    device_tolerance: float = 0.01,
    exclude: Sequence[Mapping[str, Any]] = (),
) -> Callable[[Callable], Callable]:
    """Register the decorated ``train(contexts) -> outcomes`` function as an ablation, validating the declaration.

    ``group_over``: what may differ among the runs handed to one call of ``train`` - "seed" and factor names,
    e.g. ``("seed",)`` for an ablation that trains the seeds of one variant as one grouped model; empty (the
    default): one run per call. ``figures`` and ``references`` are what its report draws and quotes
    (:mod:`suite.declare`); ``labels`` describe, in words, the curves and probe statistics its runs log.
    ``exclude``: combinations never run, each a mapping of factor to a value or a list of values, e.g.
    ``[{"init": ["naive", "large"], "lr": [0.01, 1.0]}]`` sweeps the learning rate only for the other inits (a
    variant is left out when it matches every key of one entry).
    """

    def register(train: Callable) -> Callable:
        abl = validate(
            name=name, section=section, claim=claim, data=data, factors=factors, metrics=metrics,
            hypotheses=hypotheses, tiers=tiers, config=config or {}, train=train, group_over=group_over,
            figures=figures, references=references, labels=labels or {}, device_tolerance=device_tolerance,
            exclude=exclude,
        )
        if name in REGISTRY and REGISTRY[name].module != abl.module:
            _fail(name, "name", f"already registered by module {REGISTRY[name].module}")
        REGISTRY[name] = abl
        return train

    return register


def validate(*, name, section, claim, data, factors, metrics, hypotheses, tiers, config, train,
             group_over=(), figures=(), references=(), labels=None, device_tolerance=0.01, exclude=()) -> Ablation:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise DeclarationError(f"ablation {name!r}: field 'name': must be a Python identifier such as 'my_claim'")
    for fld, value in (("section", section), ("claim", claim)):
        if not isinstance(value, str) or not value.strip():
            _fail(name, fld, "must be a non-empty string")
    if not callable(train) or len(inspect.signature(train).parameters) != 1:
        _fail(name, "train", "must be a function of one argument: the list of run contexts to train")

    params: dict[str, Param] = {}
    for key, value in dict(config).items():
        param = value if isinstance(value, Param) else Param(value)
        _check_scalar(name, f"config.{key}", param.default)
        if param.choices is not None and param.default not in param.choices:
            _fail(name, f"config.{key}", f"default {param.default!r} is not among choices {param.choices}")
        params[key] = param
    if data is not None:
        from suite.datasets import DATASETS

        if data not in DATASETS:
            _fail(name, "data", f"unknown dataset {data!r}; known: {', '.join(DATASETS)}")
        params.setdefault("data", Param(data, choices=tuple(DATASETS), help="dataset"))

    if not isinstance(factors, Mapping) or not factors:
        _fail(name, "factors", "must be a non-empty mapping of factor name to a list of values")
    grid: dict[str, tuple] = {}
    for key, values in factors.items():
        if key in RESERVED or not key.isidentifier():
            _fail(name, f"factors.{key}", f"must be an identifier and not one of {', '.join(sorted(RESERVED))}")
        if key in params:
            _fail(name, f"factors.{key}", "is also a config key; a name is either a factor or a config value")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            _fail(name, f"factors.{key}", "must be a non-empty list of values")
        for v in values:
            _check_scalar(name, f"factors.{key}", v)
        if len({type(v) for v in values}) > 1:
            _fail(name, f"factors.{key}", "values must all have one type")
        if len(set(values)) != len(values):
            _fail(name, f"factors.{key}", "values must be distinct")
        grid[key] = tuple(values)

    if not isinstance(metrics, Mapping) or not metrics:
        _fail(name, "metrics", "must map each metric name to a one-line description")
    kinds = {k: v if isinstance(v, Metric) else Metric(v) for k, v in metrics.items()}
    for key, m in kinds.items():
        if not isinstance(m.about, str) or m.kind not in ("continuous", "binary", "censored"):
            _fail(name, f"metrics.{key}", "must be a description, Binary(description) or Censored(description, event)")
        if m.kind == "censored" and kinds.get(m.event, Metric("")).kind != "binary":
            _fail(name, f"metrics.{key}.event", f"{m.event!r} is not a declared Binary metric of the same runs")
    if not (isinstance(device_tolerance, (int, float)) and device_tolerance > 0):
        _fail(name, "device_tolerance", "must be a positive fraction, e.g. 0.01")

    missing = [t for t in TIERS if t not in tiers]
    if missing:
        _fail(name, "tiers", f"missing tier(s) {', '.join(missing)}; every ablation declares {', '.join(TIERS)}")
    for tname, tier in tiers.items():
        where = f"tiers.{tname}"
        if tname not in TIERS:
            _fail(name, where, f"unknown tier; tiers are {', '.join(TIERS)}")
        if not isinstance(tier, Tier):
            _fail(name, where, "must be a Tier(...)")
        if not isinstance(tier.seeds, int) or tier.seeds < 1:
            _fail(name, f"{where}.seeds", "must be a positive integer")
        for key, value in tier.config.items():
            if key not in params:
                _fail(name, f"{where}.config.{key}", f"not a config key; keys: {', '.join(params)}")
            if type(value) is not params[key].type and not (params[key].type is float and type(value) is int):
                _fail(name, f"{where}.config.{key}", f"{value!r} is not a {params[key].type.__name__}")
        for key, values in tier.factors.items():
            if key not in grid:
                _fail(name, f"{where}.factors.{key}", f"not a factor; factors: {', '.join(grid)}")
            if isinstance(values, (str, bytes)) or not values:
                _fail(name, f"{where}.factors.{key}", "must be a non-empty list of values")

    all_values = {k: set(v) for k, v in grid.items()}
    for tier in tiers.values():
        for k, values in tier.factors.items():
            all_values[k] |= set(values)
    excluded = []
    for i, entry in enumerate(exclude):
        if not isinstance(entry, Mapping) or not entry:
            _fail(name, f"exclude[{i}]", "must be a non-empty mapping of factor name to a value or list of values")
        norm = {}
        for k, values in entry.items():
            values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
            if k not in grid:
                _fail(name, f"exclude[{i}].{k}", f"not a factor; factors: {', '.join(grid)}")
            unknown = [v for v in values if v not in all_values[k]]
            if unknown or not values:
                _fail(name, f"exclude[{i}].{k}", f"{unknown or values!r}: not values of factor {k!r}")
            norm[k] = values
        excluded.append(norm)
    for i, hyp in enumerate(hypotheses):
        where = f"hypotheses[{i}]"
        if not isinstance(hyp, Hypothesis):
            _fail(name, where, "must be built with Greater(...) or Less(...)")
        if hyp.metric not in metrics:
            _fail(name, f"{where}.metric", f"{hyp.metric!r} is not a declared metric ({', '.join(metrics)})")
        if hyp.direction not in DIRECTIONS:
            _fail(name, f"{where}.direction", f"must be one of {DIRECTIONS}")
        if hyp.direction == "similar" and not (isinstance(hyp.margin, (int, float)) and hyp.margin > 0):
            _fail(name, f"{where}.margin", "a Similar hypothesis needs a positive margin")
        if hyp.margin is not None and not (isinstance(hyp.margin, (int, float)) and hyp.margin > 0):
            _fail(name, f"{where}.margin", "must be a positive number")
        if hyp.role not in ROLES:
            _fail(name, f"{where}.role", f"{hyp.role!r} is not a role; roles: {', '.join(ROLES)}")
        if hyp.direction == "similar" and kinds[hyp.metric].kind != "continuous" and hyp.role != "sanity":
            _fail(name, where, f"Similar needs a continuous metric; {hyp.metric!r} is {kinds[hyp.metric].kind}")
        if not hyp.a or set(hyp.a) != set(hyp.b):
            _fail(name, where, "a and b must name the same factors, at least one")
        if hyp.a == hyp.b:
            _fail(name, where, "a and b are the same slice")
        for side in ("a", "b", "where"):
            for k, v in getattr(hyp, side).items():
                if k not in grid:
                    _fail(name, f"{where}.{side}.{k}", f"not a factor; factors: {', '.join(grid)}")
                for item in v if isinstance(v, (list, tuple)) else [v]:
                    if item not in all_values[k]:
                        _fail(name, f"{where}.{side}.{k}", f"{item!r} is not a value of factor {k!r}")
        if set(hyp.where) & set(hyp.a):
            _fail(name, f"{where}.where", "must not name the factors compared in a and b")
        for k, m in hyp.best.items():
            if k not in grid or k in hyp.a or k in hyp.where:
                _fail(name, f"{where}.best.{k}", "must be a factor not named in a, b or where")
            if m is None:
                m = validation_counterpart(hyp.metric, metrics)
                if m is None:
                    _fail(name, f"{where}.best.{k}", f"{hyp.metric!r} has no declared validation counterpart "
                                                     "(val_...): name the selection metric, e.g. {'lr': 'val_acc'}")
                hyp.best[k] = m
            if m.lstrip("-") not in metrics:
                _fail(name, f"{where}.best.{k}", f"{m.lstrip('-')!r} is not a declared metric")
        for k, sel in hyp.top.items():
            if k not in grid or k in hyp.a or k in hyp.where or k in hyp.best:
                _fail(name, f"{where}.top.{k}", "must be a factor not named in a, b, where or best")
            if not (isinstance(sel, tuple) and len(sel) == 2 and isinstance(sel[0], str)
                    and isinstance(sel[1], (int, float)) and 0 < sel[1] <= 1):
                _fail(name, f"{where}.top.{k}", "must be (metric, fraction) with 0 < fraction <= 1, e.g. "
                                                "('val_acc', 0.5)")
            if sel[0].lstrip("-") not in metrics:
                _fail(name, f"{where}.top.{k}", f"{sel[0].lstrip('-')!r} is not a declared metric")

    if hypotheses and not any(h.role == "core" for h in hypotheses):
        _fail(name, "hypotheses", "at least one must be core (the claim's profile is computed from them)")

    if isinstance(group_over, str) or not all(f == "seed" or f in grid for f in group_over):
        _fail(name, "group_over", f"must be a list of 'seed' and factor names; factors: {', '.join(grid)}")
    for i, fig in enumerate(figures):
        if not isinstance(fig, FIGURES):
            _fail(name, f"figures[{i}]", f"{fig!r} is not a figure; use Curves, Points, Profile, Path or Custom")
        for role in ("hue", "col", "row", *(("x",) if isinstance(fig, Points) else ())):  # Path's x is logged
            if isinstance(getattr(fig, role, None), str) and getattr(fig, role) not in (*grid, "device"):
                _fail(name, f"figures[{i}].{role}", f"{getattr(fig, role)!r} is not a factor; factors: {', '.join(grid)}")
        for k in getattr(fig, "where", {}):
            if k not in grid:
                _fail(name, f"figures[{i}].where.{k}", f"not a factor; factors: {', '.join(grid)}")
    for i, ref in enumerate(references):
        if not isinstance(ref, Reference):
            _fail(name, f"references[{i}]", "must be a Reference(...)")
        if ref.metric not in metrics:
            _fail(name, f"references[{i}].metric", f"{ref.metric!r} is not a declared metric")
        for k in ref.where:
            if k not in grid:
                _fail(name, f"references[{i}].where.{k}", f"not a factor; factors: {', '.join(grid)}")

    module = getattr(train, "__module__", "?")
    return Ablation(
        name=name, section=section, claim=claim.strip(), config=MappingProxyType(params),
        factors=MappingProxyType(grid), metrics=MappingProxyType({k: m.about for k, m in kinds.items()}),
        kinds=MappingProxyType(kinds), device_tolerance=float(device_tolerance), hypotheses=tuple(hypotheses),
        tiers=MappingProxyType(dict(tiers)), train=train, module=module, code_version=_code_version(train),
        exclude=tuple(MappingProxyType(e) for e in excluded),
        about=inspect.cleandoc(sys.modules[module].__doc__ or "") if module in sys.modules else "",
        group_over=tuple(group_over), figures=tuple(figures), references=tuple(references),
        labels=MappingProxyType(dict(labels or {})),
    )


# Selection metrics to minimize, by name: a loss, an error, a count of steps or iterations to a target.
_LOWER_IS_BETTER = ("loss", "error", "steps", "iters")


def validation_counterpart(metric: str, metrics: Mapping) -> str | None:
    """The validation metric that ranks settings for a hypothesis on ``metric``: ``test_acc`` -> ``val_acc``,
    ``train_loss`` -> ``-val_loss`` (prefix "-": minimized), ``val_acc`` itself; None when it is not declared."""
    stem = metric.split("_", 1)[1] if metric.startswith(("test_", "train_", "val_")) else None
    if stem is None or f"val_{stem}" not in metrics:
        return None
    return ("-" if any(w in stem for w in _LOWER_IS_BETTER) else "") + f"val_{stem}"


USER_PATH_VAR = "SUITE_ABLATIONS"  # extra directories of ablation modules, separated like PATH


def _import(modname: str, path: str | None = None) -> None:
    """Import one ablation module; any failure becomes one line that names the module."""
    if modname in sys.modules:
        return
    try:
        if path is None:
            importlib.import_module(modname)
        else:
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[modname]
                raise
    except DeclarationError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        where = path or modname
        raise DeclarationError(f"ablation module {where} failed to import: {type(exc).__name__}: {first}") from None


def discover(package: str = "ablations") -> dict[str, Ablation]:
    """Import every module of the ablations package and of the directories in $SUITE_ABLATIONS."""
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            _import(f"{package}.{info.name}")
    for directory in filter(None, os.environ.get(USER_PATH_VAR, "").split(os.pathsep)):
        for path in sorted(Path(directory).glob("*.py")):
            if not path.name.startswith("_"):
                digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
                _import(f"suite_user_ablations.{path.stem}_{digest}", str(path))
    return REGISTRY


def get(name: str) -> Ablation:
    from suite.errors import UsageError

    registry = discover()
    if name not in registry:
        import difflib

        close = difflib.get_close_matches(name, registry, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown ablation {name!r}{hint} (known: {', '.join(sorted(registry)) or 'none'})")
    return registry[name]
