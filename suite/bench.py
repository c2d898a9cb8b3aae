"""Speed as ratios measured side by side in one process (absolute seconds vary between machines; ratios less).

Each benchmark times a candidate and its baseline in interleaved repeats and reports the median ratio, so a
burst of load on a noisy machine hits both. Benchmarks register with :func:`benchmark`: the engine's own here
(loading and judging records, building reports), the lab's (training loops, grouped models, recurrent cells
against bare PyTorch) in the ``benchmarks`` package, which :func:`discover` imports the way
:func:`suite.registry.discover` imports the ablations, so that the engine never imports the lab itself.
``python -m suite bench`` prints the table; the pytest-benchmark files in ``benchmarks/`` time the same functions.
"""

from __future__ import annotations

import importlib
import itertools
import json
import pkgutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from suite.errors import UsageError


@dataclass
class Ratio:
    name: str
    candidate: str
    baseline: str
    ratio: float          # how many times faster the candidate is (baseline time / candidate time)
    spread: float         # (max - min) / median of the per-repeat ratios: the noise of this measurement
    target: float | None  # the ratio it should reach, where there is one
    detail: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


def side_by_side(candidate: Callable[[], None], baseline: Callable[[], None], repeats: int = 5) -> tuple[float, float]:
    """Median and spread of baseline_time / candidate_time over interleaved repeats (after one warm-up each)."""
    candidate(), baseline()
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        candidate()
        t1 = time.perf_counter()
        baseline()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    median = statistics.median(ratios)
    return median, (max(ratios) - min(ratios)) / median


@dataclass(frozen=True)
class Benchmark:
    measure: Callable[[bool], Ratio | None]  # measure(quick) -> a ratio, or None when there is nothing to measure
    quick: bool  # part of ``bench --quick``


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, *, quick: bool = True) -> Callable:
    """Register ``measure(quick: bool) -> Ratio | None`` under ``name``; ``quick``: also run by ``bench --quick``."""

    def register(measure: Callable) -> Callable:
        BENCHMARKS[name] = Benchmark(measure, quick)
        return measure

    return register


def discover(package: str = "benchmarks") -> dict[str, Benchmark]:
    """Import every module of the benchmarks package (its pytest-benchmark files, ``test_*``, aside)."""
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith(("_", "test_")):
            importlib.import_module(f"{package}.{info.name}")
    return BENCHMARKS


def measure(name: str, quick: bool = False) -> Ratio:
    """One registered benchmark's ratio, by name."""
    found = discover()
    if name not in found:
        raise UsageError(f"unknown benchmark {name!r} (known: {', '.join(found)})")
    return found[name].measure(quick)


# --- loading and aggregating the store ---------------------------------------------------------------------------

def _bench_ablation():
    """A declaration of the shape of a real claim (36 variants, 9 metrics, 9 hypotheses), validated but not
    registered: what the records of the store benchmark belong to."""
    from suite.declare import Greater, Less, Tier
    from suite.registry import TIERS, validate

    factors = {"arm": ["a", "b", "c", "d", "e", "f"], "depth": [3, 10], "init": ["usual", "naive", "large"]}
    metrics = {f"m{i}": f"metric {i}" for i in range(9)}
    hypotheses = [(Greater if i % 2 else Less)(f"m{i}", a={"arm": "a"}, b={"arm": "bcdef"[i % 5]},
                                               where={"depth": 10}) for i in range(9)]
    return validate(name="bench_store", section="-", claim="records to load and judge", data=None, factors=factors,
                    metrics=metrics, hypotheses=hypotheses, tiers={t: Tier(seeds=1) for t in TIERS}, config={},
                    train=lambda ctxs: [])


@benchmark("load+judge records")
def bench_store(quick: bool = False, repeats: int = 3, n_records: int | None = None) -> Ratio:
    """Loading n stored records (10,000; 2,000 quick) into tidy tables and judging them, against reading the same
    bytes as JSON."""
    from suite import tables, verdicts
    from suite.store import Store

    n_records = n_records or (2_000 if quick else 10_000)
    abl = _bench_ablation()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        factors = [dict(zip(abl.factors, v)) for v in itertools.product(*abl.factors.values())]
        curve = {"epoch": [e for e in range(21) for _ in range(5)], "metric": ["train_loss", "train_acc", "val_loss",
                                                                              "val_acc", "test_acc"] * 21,
                 "value": [0.5] * 105}
        for i in range(n_records):
            f = factors[i % len(factors)]
            store.write({"key": f"r{i:06d}", "ablation": abl.name, "tier": "quick", "seed": i // len(factors),
                         "device": "cpu", "status": "ok", "factors": f, "config": f,
                         "metrics": {m: float(i % 7) for m in abl.metrics}, "curves": curve, "probes": {}})
        paths = sorted((Path(tmp) / abl.name).glob("*.json"))

        def aggregate():
            records = list(store.records(abl.name))
            tables.curves(records)
            verdicts.judge(abl, records)

        def raw():
            for p in paths:
                json.loads(p.read_text())

        t0 = time.perf_counter()
        aggregate()
        seconds = time.perf_counter() - t0
        ratio, spread = side_by_side(aggregate, raw, repeats)
    return Ratio(f"load+judge {n_records} records", "store+tables+verdicts", "json.loads alone", ratio, spread, None,
                 f"{seconds:.2f} s for {n_records} records")


# --- reports -----------------------------------------------------------------------------------------------------

def bench_reports(results: str | Path | None = None) -> Ratio | None:
    """Building the HTML and PDF reports of every ablation with stored results, against the statistics alone
    (the CSV tables: the same records loaded and judged), from the results directory (default: the usual one).
    None when it holds no results."""
    import contextlib
    import io

    from suite import registry
    from suite.report import build_reports
    from suite.store import Store

    store = Store(results)
    names = [n for n in sorted(registry.discover()) if next(iter(store.records(n)), None) is not None]
    if not names:
        return None
    timings = {}
    with tempfile.TemporaryDirectory() as out:
        for fmt in ("csv", "html,pdf"):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                build_reports(names, formats=fmt, out=out, results=results)
            timings[fmt] = time.perf_counter() - t0
    return Ratio("all reports", "HTML+PDF", "statistics alone (CSV)", timings["csv"] / timings["html,pdf"], 0.0, None,
                 f"{timings['html,pdf']:.1f} s for {len(names)} ablations (statistics {timings['csv']:.1f} s)")


def run_all(quick: bool = False, results: str | Path | None = None) -> list[Ratio]:
    """Every registered benchmark (those marked quick with ``quick``), then the reports of the results directory,
    on one thread, as each parallel worker of a run has."""
    from suite.process import configure

    configure(1)
    out = [r for b in discover().values() if b.quick or not quick if (r := b.measure(quick)) is not None]
    if (report := bench_reports(results)) is not None:
        out.append(report)
    return out
