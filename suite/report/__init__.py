"""``python -m suite report``: HTML, PDF and CSV/parquet reports built from the store alone (no training).

They render the judged results of :mod:`suite.results`; the figures and reference numbers an ablation wants are
part of its declaration (:mod:`suite.declare`). Plotting and PDF libraries are imported only when a report is built.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

from suite.errors import SuiteError, UsageError
from suite.files import atomic_write

FORMATS = ("html", "pdf", "csv", "parquet")


def _formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"unknown report format {', '.join(unknown) or repr(text)}; formats: {', '.join(FORMATS)}")
    return list(dict.fromkeys(formats))


def _ablations(names: list[str]):
    from suite.registry import discover, get
    from suite.report.glance import book_order

    if not names or "all" in names:
        return sorted(discover().values(), key=book_order)
    return sorted((get(n) for n in dict.fromkeys(names)), key=book_order)


def _require(*modules: str) -> None:
    """One line naming the missing packages, rather than an ImportError halfway through a report."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SuiteError(f"reports need {', '.join(missing)}: pip install {' '.join(missing)}")


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


# (ablation, tier) -> (Result, whether to draw its figures): what forked drawing workers inherit.
_TO_DRAW: dict = {}


def _draw_one(key: tuple[str, str]) -> tuple:
    from dataclasses import replace

    from suite.report import figures, forest

    result, full = _TO_DRAW[key]
    try:
        # What a figure drew stays behind: only its picture and caption travel back.
        return key, [replace(f, data=None) for f in figures.draw(result)] if full else [], forest.draw(result)
    except Exception as exc:  # named, and as plain text: any exception crosses back from a worker
        raise SuiteError(f"drawing the figures of {key[0]} ({key[1]} tier) failed: {type(exc).__name__}: {exc}"
                         ) from None


def _draw_all(results: dict) -> tuple[dict, dict]:
    """Each (ablation, tier)'s figures and forest plot. Figures are drawn for each ablation's largest tier only:
    smaller tiers check the machinery, and every figure costs time twice (drawn here, painted again into the PDF).
    Drawing is most of a report's time and each ablation's is independent, so with several cores it runs in
    forked workers, which inherit the judged results instead of receiving them pickled; one worker per core."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from suite.registry import TIERS

    _TO_DRAW.clear()
    _TO_DRAW.update({(name, t): (r, t == max(tiers, key=TIERS.index))
                     for name, tiers in results.items() for t, r in tiers.items()})
    keys = sorted(_TO_DRAW, key=lambda k: -len(_TO_DRAW[k][0].records))  # the longest first: balanced workers
    workers = min(len(keys), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                try:
                    done = list(pool.map(_draw_one, keys))
                except BaseException:
                    pool.shutdown(cancel_futures=True)  # the first failure ends the report: draw nothing more
                    raise
        else:
            done = [_draw_one(k) for k in keys]
    except BrokenProcessPool:
        raise SuiteError("a process drawing the report's figures died (out of memory?); "
                         "--format csv needs no figures") from None
    finally:
        _TO_DRAW.clear()
    return {k: figs for k, figs, _ in done}, {k: f for k, _, f in done}


def build_reports(names: list[str], *, formats: str = "html,pdf", out: str | Path = "reports",
                  tier: str | None = None, results: str | Path | None = None,
                  data_dir: str | Path | None = None, compare: str | Path | None = None) -> list[Path]:
    """Build ``formats`` (comma-separated: html, pdf, csv, parquet) for the named ablations (all when none are
    named, in the book's order), from the results directory ``results`` (default: the usual one) for the data in
    ``data_dir`` (default: the data cache), into ``out``, with ``out/verdicts.json`` (every verdict and effect);
    the HTML and PDF say what changed since ``compare`` (a previous report's verdicts.json; default: the one
    already in ``out``, if any). Prints what it wrote and returns the paths. Raises UsageError for an unknown
    format or tier or an unreadable ``compare``, SuiteError when a format cannot be made."""
    from suite.registry import TIERS
    from suite.results import stored
    from suite.store import Store

    started = time.perf_counter()
    formats = _formats(formats)
    if tier is not None and tier not in TIERS:
        raise UsageError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
    ablations = _ablations(names)
    from suite.report import changes

    before = changes.load(Path(compare) if compare else Path(out) / changes.NAME, required=compare is not None)
    if {"html", "pdf"} & set(formats):
        _require("jinja2", "matplotlib", "seaborn")
    if "pdf" in formats:
        from suite.report import pdf

        pdf.check()
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SuiteError(f"cannot create the report directory {out}: {exc.strerror or exc}") from None
    store = Store(results)
    results = {abl.name: stored(abl, store, [tier] if tier else None, data_dir) for abl in ablations}
    # The records are millions of small objects that every full garbage collection would scan again while
    # the figures are drawn; they live until the end anyway.
    gc.freeze()

    written: list[Path] = []
    now = changes.snapshot(results)
    moved = changes.compare(before, now, {a.name: a for a in ablations}) if before else None
    try:
        if {"html", "pdf"} & set(formats):
            from suite.report import html

            drawn, forests = _draw_all(results)
            page = html.render(ablations, results, drawn, tier, forests, moved)
            if "html" in formats:
                written.append(atomic_write(out / "report.html", page))
            if "pdf" in formats:
                pdf.write(page, out / "report.pdf")
                written.append(out / "report.pdf")
        written.append(atomic_write(out / changes.NAME, json.dumps(now, indent=1) + "\n"))
        for fmt in ("csv", "parquet"):
            if fmt in formats:
                from suite.report import export

                written += export.write(results, out, fmt)
    except OSError as exc:
        raise SuiteError(f"could not write the report into {out}: {exc.strerror or exc}") from None
    finally:
        gc.unfreeze()

    ran = sum(bool(t) for t in results.values())
    for path in written:
        if path.suffix in (".html", ".pdf"):
            print(f"wrote {path} ({_size(path)})")
    tables = [p for p in written if p.name.endswith((".csv", ".csv.gz", ".parquet"))]
    if tables:
        print(f"wrote {len(tables)} table{'s' if len(tables) != 1 else ''} under {out / 'tables'}")
    print(f"{len(ablations)} ablations, {ran} with stored results, in {time.perf_counter() - started:.1f} s")
    return written
