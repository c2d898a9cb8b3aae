"""Plan (variants x seeds x devices), skip what the store has, run the rest in parallel, store each record."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from suite.errors import UsageError
from suite.registry import Ablation, get
from suite.store import Store

DEVICE_CHOICES = ("cpu", "cuda", "mps", "auto", "all")
DONE = ("ok", "diverged")  # outcomes that a rerun reproduces; failed runs are tried again


@dataclass(frozen=True)
class RunSpec:
    ablation: str
    tier: str
    config: dict
    factors: dict
    seed: int
    device: str
    code_version: str
    key: str


def run_key(ablation: str, config: dict, seed: int, device: str, tier: str, code_version: str) -> str:
    """Content address of a run: stable across processes and dict orders."""
    payload = json.dumps([ablation, config, seed, device, tier, code_version], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def available_devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_devices(choice: str) -> list[str]:
    if choice not in DEVICE_CHOICES:
        raise UsageError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    present = available_devices()
    if choice == "all":
        return present
    if choice == "auto":
        return [present[-1]]
    if choice not in present:
        raise UsageError(f"device {choice!r} is not available on this machine (available: {', '.join(present)})")
    return [choice]


def plan(
    abl: Ablation,
    tier: str,
    *,
    seeds: int | None = None,
    devices: Iterable[str] = ("cpu",),
    config: dict[str, Any] | None = None,
    factors: dict[str, tuple] | None = None,
) -> list[RunSpec]:
    """Every run of a tier, seed-major so that an interrupted plan still holds complete pairs."""
    if tier not in abl.tiers:
        raise UsageError(f"unknown tier {tier!r}; tiers: {', '.join(abl.tiers)}")
    if seeds is not None and seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {seeds}")
    t = abl.tiers[tier]
    base = {k: p.default for k, p in abl.config.items()} | dict(t.config) | dict(config or {})
    grid = abl.grid(tier) | dict(factors or {})
    names = list(grid)
    specs = []
    for seed in range(seeds if seeds is not None else t.seeds):
        for values in itertools.product(*grid.values()):
            variant = dict(zip(names, values))
            cfg = base | variant
            for device in devices:
                key = run_key(abl.name, cfg, seed, device, tier, abl.code_version)
                specs.append(RunSpec(abl.name, tier, cfg, variant, seed, device, abl.code_version, key))
    return specs


@functools.lru_cache(maxsize=None)
def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> dict:
    import numpy
    import torch

    if device == "cuda":
        name = torch.cuda.get_device_name()
    elif device == "mps":
        name = "Apple MPS"
    else:
        name = _cpu_model()
    return {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "platform": platform.platform(), "device_name": name, "cpu": _cpu_model(),
        "threads": torch.get_num_threads(), "git_commit": _git_commit(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cuda": torch.version.cuda if device == "cuda" else None,
    }


def execute(specs: list[RunSpec], root: str, data_dir: str | None = None, threads: int = 1) -> list[dict]:
    """Run specs that differ only by seed (and the factors the ablation batches over) - one at a time through
    ``train``, or together through the ablation's ``batched`` function - and store one record per spec. Returns
    short summaries; never raises for a run."""
    import torch

    from suite.context import Config, RunContext
    from suite.train import Diverged

    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)  # numpy's BLAS too: workers x threads must not exceed the cores
    abl = get(specs[0].ablation)
    started = time.perf_counter()
    ctxs = [RunContext(s.ablation, s.tier, Config(s.config), s.seed, torch.device(s.device), data_dir) for s in specs]
    failure: dict = {}
    train_s = 0.0
    try:
        if "data" in specs[0].config:
            ctxs[0].data  # load outside the timed training (cached per process, so once for all seeds)
        t0 = time.perf_counter()
        try:
            if len(ctxs) == 1:
                ctxs[0].report(**(abl.train(ctxs[0]) or {}))
            else:
                for ctx, metrics in zip(ctxs, abl.batched(ctxs)):
                    ctx.report(**(metrics or {}))
        finally:
            train_s = time.perf_counter() - t0
    except Diverged as exc:
        ctxs[0].diverged = (exc.step, str(exc))
    except Exception as exc:  # stored as failed runs, with the traceback, and tried again next time
        failure = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    summaries = []
    for spec, ctx in zip(specs, ctxs):
        if failure:
            status, extra = "failed", failure
        elif ctx.diverged:
            status, extra = "diverged", {"diverged_step": ctx.diverged[0], "error": ctx.diverged[1]}
        else:
            status, extra = "ok", {}
        share = train_s / len(specs)  # batched seeds share the time
        record = {
            **asdict(spec), "status": status, **extra,
            "metrics": ctx.metrics,
            "curves": columns(ctx.curves), "probes": columns(ctx.probes),
            "timing": {"wall_s": (time.perf_counter() - started) / len(specs), "train_s": share,
                       "samples_per_s": ctx.samples / share if share > 0 else None, "batched_seeds": len(specs)},
            "env": environment(spec.device),
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        Store(root).write(record)
        summaries.append({"key": spec.key, "status": status, "error": extra.get("error")})
    return summaries


def groups(specs: list[RunSpec], batched: bool) -> list[list[RunSpec]]:
    """Jobs: one spec each, or, for ablations with a batched path, all seeds of one variant and device (and of
    every value of the factors the ablation batches over)."""
    if not batched:
        return [[s] for s in specs]
    jobs: dict[tuple, list[RunSpec]] = {}
    for s in specs:
        abl = get(s.ablation)
        if abl.batched is None:
            key: tuple = (s.key,)
        else:
            shared = {k: v for k, v in s.config.items() if k not in abl.batch_over}
            key = (s.ablation, s.device, json.dumps(shared, sort_keys=True))
        jobs.setdefault(key, []).append(s)
    return list(jobs.values())


def columns(rows: list[dict]) -> dict[str, list]:
    """Rows as columns: records stay a third of the size and load straight into a DataFrame."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row.get(k) for row in rows] for k in names}


def pending(specs: list[RunSpec], store: Store) -> list[RunSpec]:
    """The specs whose record is missing or failed."""
    todo = []
    for spec in specs:
        path = store.path(spec.ablation, spec.key)
        if not path.is_file():
            todo.append(spec)
            continue
        record = store.read(path)
        if record is None or record.get("status") not in DONE:
            todo.append(spec)
    return todo


def workers_and_threads(jobs: int | None, n_runs: int) -> tuple[int, int]:
    """Parallel workers and torch threads per worker, whose product never exceeds the cores."""
    cores = cpu_count()
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    workers = max(1, min(jobs or cores, cores, n_runs))
    return workers, max(1, cores // workers)


def _preflight(todo: list[RunSpec], data_dir: str | None) -> None:
    """Load each dataset the runs need once here, so that missing data is one error before any training."""
    from suite.data import load

    for name in sorted({s.config["data"] for s in todo if "data" in s.config}):
        load(name, data_dir=data_dir)


BACKENDS = ("loky", "dask")


def _dask_results(work: list[list[RunSpec]], root: str, data_dir: str | None, workers: int, threads: int,
                  scheduler: str | None) -> Iterator[list[dict]]:
    """Run the jobs on a dask cluster: an existing scheduler, or a local one bound to loopback only."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("--backend dask needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    try:
        client = Client(cluster or scheduler, timeout=10)
    except OSError as exc:
        raise UsageError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    try:
        futures = client.map(execute, work, root=root, data_dir=data_dir, threads=threads, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_all(specs: list[RunSpec], root: str, jobs: int | None, data_dir: str | None,
                 batched: bool, backend: str = "loky", scheduler: str | None = None) -> Iterator[dict]:
    work = groups(specs, batched)
    workers, threads = workers_and_threads(jobs, len(work))
    if backend == "dask":
        results: Iterable[list[dict]] = _dask_results(work, root, data_dir, workers, threads, scheduler)
    elif workers == 1:
        results = (execute(g, root, data_dir, threads) for g in work)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
        results = parallel(delayed(execute)(g, root, data_dir, threads) for g in work)
    return (summary for group in results for summary in group)


def run(specs: list[RunSpec], store: Store, *, jobs: int | None = None, data_dir: str | None = None,
        progress: bool = True, label: str = "", poll_s: float = 0.5, batched: bool = True,
        backend: str = "loky", scheduler: str | None = None) -> list[dict]:
    """Execute the pending specs and return a summary of each, with ``by`` = "here" or "other" (a concurrent
    process that had claimed it). Each worker stores its own records, so a kill loses only runs in flight.
    With ``batched``, the seeds of one variant train together where the ablation provides a batched path.
    ``backend`` "dask" sends the jobs to the scheduler at ``scheduler`` (or a local loopback-only cluster); the
    workers must see the results directory at the same path."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    todo = pending(specs, store)
    if not todo:
        return []
    store.ensure_writable()
    for ablation in {s.ablation for s in todo}:
        store.sweep(ablation)
    _preflight(todo, data_dir)
    summaries: list[dict] = []
    with _progress(progress, len(todo), label or todo[0].ablation) as advance:
        while todo:
            mine = {s.key: s for s in todo if store.claim(s.ablation, s.key)}
            try:
                for summary in _execute_all(list(mine.values()), str(store.root.resolve()), jobs, data_dir, batched,
                                            backend, scheduler) if mine else ():
                    store.release(mine[summary["key"]].ablation, summary["key"])
                    summaries.append(summary | {"by": "here"})
                    advance(summary)
            finally:
                for s in mine.values():
                    store.release(s.ablation, s.key)
            todo = _wait_for_others([s for s in todo if s.key not in mine], store, summaries, advance, poll_s)
    return summaries


def _wait_for_others(others: list[RunSpec], store: Store, summaries: list, advance, poll_s: float) -> list[RunSpec]:
    """Wait while other processes hold claims; return the runs whose holder vanished without a record."""
    orphaned = []
    while others:
        time.sleep(poll_s)
        still = []
        for s in others:
            path = store.path(s.ablation, s.key)
            record = store.read(path) if path.is_file() else None
            if record is not None:
                summary = {"key": s.key, "status": record["status"], "error": record.get("error"), "by": "other"}
                summaries.append(summary)
                advance(summary)
            elif store.claimed(s.ablation, s.key):
                still.append(s)
            else:
                orphaned.append(s)
        others = still
    return orphaned


class _progress:
    """A rich progress bar on stderr (runs done/total, elapsed, ETA); silent when disabled."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label

    def __enter__(self):
        if not self.enabled:
            return lambda summary: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("{task.fields[note]}"), console=Console(stderr=True), transient=False)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total, note="")
        counts: dict[str, int] = {}

        def advance(summary: dict) -> None:
            counts[summary["status"]] = counts.get(summary["status"], 0) + 1
            note = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "ok")
            self.bar.update(task, advance=1, note=note)

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
