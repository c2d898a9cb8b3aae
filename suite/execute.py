"""Execute a plan: skip what the store has, claim each run, group runs that train together, run the groups on
local processes (loky) or a dask cluster, and store one record per run as soon as its group finishes.

A group is the runs handed to one call of the ablation's train function: the runs that differ only in the
ablation's ``group_over`` (e.g. the seeds of one variant), or a single run. Every worker stores its own records,
so a kill loses only the groups in flight.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import traceback
from dataclasses import asdict
from typing import Iterable, Iterator

from suite.errors import UsageError
from suite.plan import RunSpec
from suite.progress import progress
from suite.registry import USER_PATH_VAR, get
from suite.store import Store

DONE = ("ok", "diverged")  # outcomes that a rerun reproduces; failed runs are tried again
log = logging.getLogger("suite.execute")
BACKENDS = ("loky", "dask")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def columns(rows: list[dict]) -> dict[str, list]:
    """Rows as columns: records stay a third of the size and load straight into a DataFrame."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row.get(k) for row in rows] for k in names}


def _train(abl, ctxs: list) -> list:
    """Call the train function; each run's metrics go into its context. Returns the outcome per context: None
    (finished) or a Diverged. An outcome that is neither a dict of metrics nor a Diverged is an error."""
    from suite.context import Diverged

    outcomes = abl.train(ctxs)
    if not isinstance(outcomes, (list, tuple)) or len(outcomes) != len(ctxs):
        got = f"{len(outcomes)} outcomes" if isinstance(outcomes, (list, tuple)) else type(outcomes).__name__
        raise TypeError(f"{abl.name}: train() must return one outcome per run context ({len(ctxs)}), got {got}")
    for ctx, outcome in zip(ctxs, outcomes):
        if isinstance(outcome, dict):
            ctx.report(**outcome)
        elif not isinstance(outcome, Diverged):
            raise TypeError(f"{abl.name}: train() returned {type(outcome).__name__} for a run; each outcome is a "
                            "dict of metrics (possibly empty) or a Diverged")
    return [o if isinstance(o, Diverged) else None for o in outcomes]


def _mismatch(spec: RunSpec, data_dir: str | None) -> str | None:
    """Why this process would not compute what the spec's key names, or None: its code, its library versions or
    its data differ from those the plan hashed (e.g. a worker that imported an older module, or a file that
    changed since)."""
    from suite import datasets, fingerprint

    try:
        abl = get(spec.ablation)
    except UsageError:
        return (f"this worker ({socket.gethostname()}) does not know ablation {spec.ablation!r}: is "
                f"${USER_PATH_VAR} set to the same directories on the workers as where the run was planned?")
    if abl.code_version != spec.code_version:
        return (f"the code of {spec.ablation} here (version {abl.code_version}) is not the code planned "
                f"({spec.code_version}): it changed since, or this worker imported an older copy")
    if spec.versions is not None and fingerprint.library_versions() != spec.versions:
        return f"libraries here ({fingerprint.library_versions()}) differ from those planned ({spec.versions})"
    if spec.data is not None and datasets.fingerprint(spec.config["data"], data_dir=data_dir) != spec.data:
        return f"the {spec.config['data']} data here differ from the data planned (a file changed or another --data-dir)"
    return None


def execute_group(specs: list[RunSpec], root: str, data_dir: str | None = None, threads: int = 1) -> list[dict]:
    """Train one group of specs in one call of the ablation's train function and store one record per spec.
    Returns a short summary per spec; never raises for a run (a failure is stored with its traceback). A group
    that this process would not compute as its keys name (:func:`_mismatch`) fails without training, and
    stores nothing."""
    if (why := _mismatch(specs[0], data_dir)) is not None:
        return [{"key": s.key, "status": "failed", "error": why, "stored": False} for s in specs]

    import torch

    from suite import datasets
    from suite.context import Config, Diverged, RunContext
    from suite.environment import environment
    from suite.process import configure

    configure(threads)
    abl = get(specs[0].ablation)
    started = time.perf_counter()
    ctxs = [RunContext(s.ablation, s.tier, Config(s.config), s.seed, torch.device(s.device), data_dir) for s in specs]
    failure: dict = {}
    outcomes: list = [None] * len(specs)
    train_s = 0.0
    try:
        # Read the data outside the timed training (cached per process, so once per worker); turning it into
        # tensors, which is a copy only on an accelerator, falls in the first group's time.
        if "data" in specs[0].config:
            datasets.load(specs[0].config["data"], data_dir=data_dir)
        t0 = time.perf_counter()
        try:
            outcomes = _train(abl, ctxs)
        finally:
            train_s = time.perf_counter() - t0
    except Exception as exc:  # stored as failed runs, with the traceback, and tried again next time
        first = next(iter(str(exc).strip().splitlines()), "")  # e.g. torch's C++ errors span many lines
        failure = {"error": f"{type(exc).__name__}: {first}".rstrip(": "), "traceback": traceback.format_exc()}
    summaries = []
    share = train_s / len(specs)  # the runs of a group share its time
    for spec, ctx, outcome in zip(specs, ctxs, outcomes):
        if failure:
            status, extra = "failed", failure
        elif isinstance(outcome, Diverged):
            status, extra = "diverged", {"diverged_step": outcome.step, "error": outcome.reason}
        else:
            status, extra = "ok", {}
        record = {
            **asdict(spec), "status": status, **extra,
            "metrics": ctx.metrics,
            "curves": columns(ctx.curves), "probes": columns(ctx.probes),
            "timing": {"wall_s": (time.perf_counter() - started) / len(specs), "train_s": share,
                       "samples_per_s": ctx.samples / share if share > 0 else None, "group_size": len(specs)},
            "env": environment(spec.device),
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        Store(root).write(record)
        summaries.append({"key": spec.key, "status": status, "error": extra.get("error")})
    return summaries


def groups(specs: list[RunSpec], grouped: bool = True) -> list[list[RunSpec]]:
    """The groups of a plan: with ``grouped``, the specs of one ablation, device and tier that differ only in its
    ``group_over``; otherwise (and for ablations that group over nothing) one spec each."""
    jobs: dict[tuple, list[RunSpec]] = {}
    for s in specs:
        over = get(s.ablation).group_over if grouped else ()
        if not over:
            key: tuple = (s.key,)
        else:
            shared = {k: v for k, v in s.config.items() if k not in over}
            key = (s.ablation, s.device, s.tier, json.dumps(shared, sort_keys=True),
                   None if "seed" in over else s.seed)
        jobs.setdefault(key, []).append(s)
    return list(jobs.values())


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
    """Read each dataset the runs need once here, so that missing data is one error before any training."""
    from suite import datasets

    for name in sorted({s.config["data"] for s in todo if "data" in s.config}):
        datasets.load(name, data_dir=data_dir)


def _dask_results(work: list[list[RunSpec]], root: str, data_dir: str | None, workers: int, threads: int,
                  scheduler: str | None) -> Iterator[list[dict]]:
    """Run the groups on a dask cluster: an existing scheduler, or a local one bound to loopback only."""
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
        futures = client.map(execute_group, work, root=root, data_dir=data_dir, threads=threads, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_all(specs: list[RunSpec], root: str, jobs: int | None, data_dir: str | None,
                 grouped: bool, backend: str = "loky", scheduler: str | None = None) -> Iterator[dict]:
    work = groups(specs, grouped)
    workers, threads = workers_and_threads(jobs, len(work))
    if backend == "dask":
        results: Iterable[list[dict]] = _dask_results(work, root, data_dir, workers, threads, scheduler)
    elif workers == 1:
        results = (execute_group(g, root, data_dir, threads) for g in work)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
        results = parallel(delayed(execute_group)(g, root, data_dir, threads) for g in work)
    return (summary for group in results for summary in group)


def run(specs: list[RunSpec], store: Store, *, jobs: int | None = None, data_dir: str | None = None,
        progress_bar: bool = True, label: str = "", poll_s: float = 0.5, grouped: bool = True,
        backend: str = "loky", scheduler: str | None = None) -> list[dict]:
    """Execute the pending specs and return a summary of each, with ``by`` = "here" or "other" (a concurrent
    process that had claimed it). With ``grouped`` (the default), runs that the ablation trains together form one
    group; otherwise every run is a group of one. ``backend`` "dask" sends the groups to the scheduler at
    ``scheduler`` (or a local loopback-only cluster); the workers must see the results directory at the same path."""
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
    with progress(progress_bar, len(todo), label or todo[0].ablation) as advance:
        while todo:
            mine = {s.key: s for s in todo if store.claim(s.ablation, s.key)}
            try:
                for summary in _execute_all(list(mine.values()), str(store.root.resolve()), jobs, data_dir, grouped,
                                            backend, scheduler) if mine else ():
                    store.release(mine[summary["key"]].ablation, summary["key"])
                    summaries.append(summary | {"by": "here"})
                    advance(summary)
            finally:
                for s in mine.values():
                    store.release(s.ablation, s.key)
            todo = _wait_for_others([s for s in todo if s.key not in mine], store, summaries, advance, poll_s)
    return summaries


WAIT_NOTE_S = (2.0, 30.0)  # say who holds what first after this long, then this often


def _wait_for_others(others: list[RunSpec], store: Store, summaries: list, advance, poll_s: float) -> list[RunSpec]:
    """Wait while other processes hold live claims, saying who holds what and for how long this one has waited;
    return the runs whose holder released them (or went stale) without a record."""
    orphaned = []
    started, next_note = time.monotonic(), WAIT_NOTE_S[0]
    while others:
        time.sleep(poll_s)
        still, holders = [], {}
        for s in others:
            path = store.path(s.ablation, s.key)
            record = store.read(path) if path.is_file() else None
            if record is not None:
                summary = {"key": s.key, "status": record["status"], "error": record.get("error"), "by": "other"}
                summaries.append(summary)
                advance(summary)
            elif (h := store.holder(s.ablation, s.key)) is not None:
                still.append(s)
                holders.setdefault((s.ablation, h.host, h.pid), []).append(h)
            else:
                orphaned.append(s)
        others = still
        waited = time.monotonic() - started
        if others and waited >= next_note:
            next_note = waited + WAIT_NOTE_S[1]
            log.warning("waited %.0f s for %s", waited, "; ".join(
                f"{len(hs)} run(s) of {abl} that {host} pid {pid} holds (last heartbeat {min(h.age_s for h in hs):.0f} s ago)"
                for (abl, host, pid), hs in holders.items()))
    return orphaned
