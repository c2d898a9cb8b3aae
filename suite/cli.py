"""``python -m suite list|show|run|power|report|bench|baseline|check``: errors are one line on stderr (exit 2 usage, 1 failure) unless --debug."""

from __future__ import annotations

import argparse
import json
import sys
import time

from suite.errors import SuiteError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage over several lines; we keep errors to one
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", metavar="DIR", help="results directory (default: $SUITE_RESULTS or ./results)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m suite", description=__doc__.split("\n")[0].strip("`"))
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="table of registered ablations")
    _common(p)

    p = sub.add_parser("show", help="an ablation's claim, factors, hypotheses and latest verdicts")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--data-dir", metavar="DIR", help="the verdicts of runs that read their data from DIR")
    _common(p)

    p = sub.add_parser("run", help="run an ablation (or 'all'), skipping runs already stored",
                       description="Run an ablation's plan (variants x seeds x devices) and print its verdicts. "
                                   "Overrides KEY=VALUE set config values or factor values (comma-separated).")
    p.add_argument("name", help="ablation name, or 'all'")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--tier", default="quick", help="smoke | quick | full (default: quick)")
    p.add_argument("--seeds", type=int, help="number of seeds (default: the tier's)")
    p.add_argument("--first-seed", type=int, default=0, metavar="K",
                   help="start at seed K: confirm a verdict on seeds not yet used, judged on those alone "
                        "(default 0)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto | all (default: cpu)")
    p.add_argument("--jobs", type=int, help="parallel workers (default: one per core)")
    p.add_argument("--data-dir", metavar="DIR", help="directory holding the dataset files (e.g. MNIST IDX)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--backend", default="loky", help="loky (local processes, default) | dask (a cluster)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (default with --backend dask: a local "
                        "cluster on 127.0.0.1)")
    p.add_argument("--no-batch", action="store_true",
                   help="train every run in a group of one, even where the ablation trains runs together")
    p.add_argument("--until-decided", action="store_true",
                   help="add seeds in rounds (the tier's, then half as many again each round) until every core "
                        "hypothesis is decided, judged by anytime-valid tests")
    p.add_argument("--max-seeds", type=int, metavar="N",
                   help="with --until-decided: stop at N seeds (default: 4x the tier's)")
    _common(p)

    p = sub.add_parser("power", help="from stored runs: the smallest effect a tier's seeds detect, and the seeds "
                                     "each core hypothesis's margin needs")
    p.add_argument("name")
    p.add_argument("--tier", default="quick", help="smoke | quick | full (default: quick)")
    p.add_argument("--power", type=float, default=0.8, help="the power to plan for (default 0.8)")
    p.add_argument("--data-dir", metavar="DIR", help="the runs that read their data from DIR")
    _common(p)

    p = sub.add_parser("report", help="HTML/PDF/CSV reports from stored results (no training)",
                       description="Build reports from the store alone, for the named ablations or all of them.")
    p.add_argument("names", nargs="*", metavar="NAME", help="ablations to report (default: all)")
    p.add_argument("--format", default="html,pdf", help="comma-separated: html, pdf, csv, parquet (default html,pdf)")
    p.add_argument("--out", default="reports", metavar="DIR", help="output directory (default: reports/)")
    p.add_argument("--tier", help="report only this tier (default: every tier with results)")
    p.add_argument("--compare", metavar="FILE", help="say what changed since this earlier report's verdicts.json "
                   "(default: the one already in --out, if any)")
    p.add_argument("--data-dir", metavar="DIR", help="report the runs that read their data from DIR")
    _common(p)

    p = sub.add_parser("bench", help="speed ratios measured side by side (suite vs bare loop, grouped vs one at a time...)")
    p.add_argument("--quick", action="store_true", help="fewer and smaller measurements")
    _common(p)

    for name, text in (("baseline", "store the smoke tier's results and the speed ratios as the CI baseline"),
                       ("check", "retrain the smoke tier and compare with the baseline: fails on a moved result, "
                                 "a flipped verdict or a slower ratio")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("names", nargs="*", metavar="NAME", help="ablations (default: all)")
        p.add_argument("--baselines", metavar="DIR", help="baseline directory (default: results/baselines)")
        p.add_argument("--no-speed", action="store_true", help="leave out the speed ratios")
        p.add_argument("--jobs", type=int, help="parallel workers (default: one per core)")
        if name == "check":
            p.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary for a pull request")
        _common(p)
    return parser


def _store(args):
    from suite.store import Store

    return Store(args.results)


def _console():
    from rich.console import Console

    # Logs and pipes get a wider table than rich's 80-column default for non-terminals.
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def cmd_list(args) -> int:
    from rich.table import Table

    from suite.registry import TIERS, discover

    table = Table(title="Registered ablations")
    for col in ("name", "section", "claim", "variants (smoke/quick/full)", "tiers"):
        table.add_column(col, overflow="fold")
    for name, abl in sorted(discover().items()):
        variants = "/".join(str(abl.n_variants(t)) for t in TIERS)
        tiers = ", ".join(f"{t}: {abl.tiers[t].seeds} seeds" for t in TIERS)
        table.add_row(name, abl.section, abl.claim, variants, tiers)
    _console().print(table)
    return 0


def cmd_show(args) -> int:
    from suite import present, references, results
    from suite.registry import get

    abl = get(args.name)
    judged = results.stored(abl, _store(args), data_dir=args.data_dir)
    info = {
        "name": abl.name, "section": abl.section, "claim": abl.claim, "about": abl.about,
        "config": {k: {"default": p.default, "help": p.help, "min": p.min, "max": p.max, "choices": p.choices}
                   for k, p in abl.config.items()},
        "factors": {k: list(v) for k, v in abl.factors.items()},
        "metrics": {k: {"about": m.about, "kind": m.kind, **({"event": m.event} if m.event else {})}
                    for k, m in abl.kinds.items()},
        "hypotheses": [{"label": h.describe(), "role": h.role, "metric": h.metric, "direction": h.direction,
                        "a": dict(h.a), "b": dict(h.b), "where": dict(h.where), "margin": h.margin}
                       for h in abl.hypotheses],
        "tiers": {t: {"seeds": v.seeds, "config": dict(v.config), "factors": {k: list(x) for k, x in v.factors.items()},
                      "variants": abl.n_variants(t), "about": v.about} for t, v in abl.tiers.items()},
        "code_version": abl.code_version,
        "verdicts": {t: {"claim": r.judgement.claim, "claims_by_device": r.judgement.claims,
                         "profile": r.judgement.profile.as_dict() if r.judgement.profile else None,
                         "profiles_by_device": {d: p.as_dict() for d, p in r.judgement.profiles.items()},
                         "line": present.profile_line(r), "rule": r.judgement.rule, "sequential": r.sequential,
                         "seeds": r.seeds, "runs_stored": len(r.records), "runs_planned": r.planned,
                         "hypotheses": json.loads(r.judgement.hypotheses.to_json(orient="records")),
                         "devices": json.loads(r.judgement.devices.to_json(orient="records")),
                         "references": references.rows(abl, r)}
                     for t, r in judged.items()},
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    con = _console()
    con.print(f"[bold]{abl.name}[/bold]  (book section {abl.section})")
    con.print(f"claim: {abl.claim}")
    if abl.about:  # reflow the docstring's paragraphs to the terminal's width
        paragraphs = [" ".join(p.split()) for p in abl.about.split("\n\n")]
        con.print("\n" + "\n\n".join(paragraphs) + "\n")
    con.print("config: " + ", ".join(f"{k}={p.default!r}" for k, p in abl.config.items()))
    con.print("factors: " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in abl.factors.items()))
    con.print("metrics: " + ", ".join(abl.metrics))
    con.print("tiers: " + "; ".join(f"{t}: {v.seeds} seeds x {abl.n_variants(t)} variants"
                                   + (f" ({v.about})" if v.about else "") for t, v in abl.tiers.items()))
    con.print("hypotheses:")
    for i, h in enumerate(abl.hypotheses, 1):
        con.print(f"  H{i}. {h.describe()}")
    if not judged:
        con.print(f"\nno stored results: python -m suite run {abl.name}")
    for tier, r in judged.items():
        con.print()
        print_judgement(con, r, title=f"{tier} tier: {len(r.records)} of {r.planned} runs stored")
    return 0


COLOUR = {"reproduced": "green", "contradicted": "red", "inconclusive": "yellow", "not run": "dim", "failed": "red",
          "pass": "green", "fail": "red", "reproduced with exceptions": "green", "mixed": "yellow",
          "not reproduced": "red", "not enough evidence": "yellow", "differs by device": "yellow"}
# The hypothesis table's columns shown in a terminal, where 80 columns must hold it.
TERMINAL_COLUMNS = ("H", "role", "device", "mean A", "mean B", "A \u2212 B [95% CI]", "p Holm", "n A/B", "verdict")


def print_judgement(con, result, title: str) -> None:
    """The verdict table: hypotheses are listed by number above it so that the table fits 80 columns."""
    from rich.table import Table

    from suite import present

    abl, judgement = result.abl, result.judgement
    con.print(f"[bold]{title}[/bold]")
    for i, hyp in enumerate(abl.hypotheses, 1):
        con.print(f"  H{i}. {hyp.describe()}")
    shown, rows = present.hypothesis_table(abl, judgement.hypotheses)
    cols = [c for c in TERMINAL_COLUMNS if c in shown]
    table = Table(box=None, pad_edge=False)
    for c in cols:
        table.add_column(c, overflow="fold", justify="left" if c in ("H", "device", "verdict") else "right")
    for r in rows:
        table.add_row(*(f"[{COLOUR[r[c]]}]{r[c]}[/]" if c == "verdict" else r[c] for c in cols))
    con.print(table)
    for r in rows:
        if r["tuned"] != "-":
            con.print(f"  {r['H']} compared at {r['tuned']}")
        if r["why"]:
            con.print(f"  [dim]{r['H']} {r['verdict']}: {r['why']}[/]")
    for u in present.unfinished_rows(result.unfinished):
        con.print(f"  [dim]{u['variant']} ({u['device']}): {u['what']}[/]")
    _print_devices(con, judgement.devices)
    _print_references(con, result)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(judgement.counts.items()))
    failed = f"; first error: {judgement.first_error}" if judgement.claim == "failed" else ""
    # Whole lines, never wrapped: the claim's line is what people (and scripts) search for.
    con.print(f"claim [{COLOUR.get(judgement.claim, 'white')}]{present.profile_line(result)}[/] (runs: {counts}{failed})",
              soft_wrap=True)
    for e in judgement.profile.exceptions if judgement.profile else ():
        con.print(f"  exception: {present.exception(e, abl)}", soft_wrap=True)


def _print_devices(con, devices) -> None:
    """Device equivalence: a line per verdict kind, the differing variants named."""
    if devices.empty:
        return
    counts = devices["verdict"].value_counts().to_dict()
    con.print("devices: " + ", ".join(f"{n} {v}" for v, n in counts.items())
              + " (variant x metric, TOST within the declared tolerance)")
    for r in devices[devices["verdict"] == "different"].head(5).to_dict("records"):
        con.print(f"  [red]different[/]: {r['metric']} {r['devices']}: {r['mean']:.4g} vs {r['reference']:.4g}")


def _print_references(con, result) -> None:
    from suite import references

    for r in references.rows(result.abl, result):
        con.print(f"  paper vs ours: {r['source']}: {r['metric']} {r['variant']}: theirs {r['theirs']}, ours "
                  f"{r['ours']}" + (f"; direction {r['direction']}" if r["direction"] else "")
                  + ("" if r["verified"] else " (paper value unverified)"))


def cmd_run(args) -> int:
    from suite import execute, results
    from suite.overrides import parse_overrides
    from suite.plan import plan, resolve_devices
    from suite.registry import discover, get

    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.name == "all":
        ablations = [a for _, a in sorted(discover().items())]
    else:
        ablations = [get(args.name)]
    devices = resolve_devices(args.device)
    if args.backend not in execute.BACKENDS:
        raise UsageError(f"unknown backend {args.backend!r}; choose one of {', '.join(execute.BACKENDS)}")
    if args.scheduler and args.backend != "dask":
        raise UsageError("--scheduler goes with --backend dask")
    if args.max_seeds is not None and not args.until_decided:
        raise UsageError("--max-seeds goes with --until-decided")
    if args.until_decided and (args.seeds is not None or args.first_seed):
        raise UsageError("--until-decided starts from the tier's seeds; leave out --seeds and --first-seed (or use "
                         "--max-seeds)")
    if args.max_seeds is not None and args.max_seeds < 1:
        raise UsageError(f"--max-seeds must be at least 1, got {args.max_seeds}")
    store = _store(args)
    # Plan everything first, so that a bad override or tier fails before anything trains.
    plans = []
    for abl in ablations:
        config, factors = parse_overrides(abl, args.overrides)
        plans.append((abl, plan(abl, args.tier, seeds=args.seeds, devices=devices, config=config,
                                factors=factors, data_dir=args.data_dir, first_seed=args.first_seed)))
    con, failed = _console(), []
    for abl, specs in plans:
        t0 = time.perf_counter()

        def execute_plan(specs, abl=abl):
            nonlocal failed
            summaries = execute.run(specs, store, jobs=args.jobs, data_dir=args.data_dir,
                                    progress_bar=not args.no_progress, label=f"{abl.name} [{args.tier}]",
                                    grouped=not args.no_batch, backend=args.backend, scheduler=args.scheduler)
            failed += [(abl.name, s) for s in summaries if s["status"] == "failed"]
            return summaries

        if args.until_decided:
            result = _run_until_decided(con, abl, args, store, execute_plan)
            con.print(f"{abl.name}: {len(result.records)} runs ({time.perf_counter() - t0:.1f} s)")
            print_judgement(con, result, title=f"{abl.name}: {args.tier} tier, {result.sequential}")
            continue
        summaries = execute_plan(specs)
        trained = sum(s["by"] == "here" for s in summaries)
        elsewhere = len(summaries) - trained
        con.print(f"{abl.name}: {len(specs)} runs, {trained} trained, {len(specs) - len(summaries)} from the store"
                  + (f", {elsewhere} by another process" if elsewhere else "")
                  + f" ({time.perf_counter() - t0:.1f} s)")
        seeds = f", seeds {specs[0].seed} to {specs[-1].seed}" if args.first_seed and specs else ""
        print_judgement(con, results.collect(abl, specs, store), title=f"{abl.name}: {args.tier} tier{seeds}")
    if failed:
        name, first = failed[0]
        where = ("their records hold the traceback" if first.get("stored", True)
                 else "nothing was stored for them")
        raise SuiteError(f"{len(failed)} run(s) failed (first, in {name}: {first['error']}); {where}, and a rerun "
                         "tries them again")
    return 0


def _run_until_decided(con, abl, args, store, execute_plan):
    """Rounds of seeds until every core hypothesis is decided; where the default plan stopped is stored."""
    from suite import rounds
    from suite.overrides import parse_overrides
    from suite.plan import plan, resolve_devices

    config, factors = parse_overrides(abl, args.overrides)
    devices = resolve_devices(args.device)

    def on_round(n, result):
        left, _ = rounds.undecided(result)
        con.print(f"{abl.name}: {n} seeds: " + (f"undecided {', '.join(left)}" if left else "decided"))

    result, stop = rounds.until_decided(
        abl, args.tier, store, lambda n: plan(abl, args.tier, seeds=n, devices=devices, config=config,
                                              factors=factors, data_dir=args.data_dir),
        execute_plan, max_seeds=args.max_seeds, on_round=on_round)
    if not (config or factors) and not args.data_dir:  # the tier's own plan: show and report judge it like this
        store.write_sequential(abl.name, args.tier, abl.plan_version(args.tier),
                               {"seeds": stop.seeds, "stopped": stop.stopped, "rounds": stop.rounds})
    return result


def cmd_power(args) -> int:
    from rich.table import Table

    from suite import power, present, results
    from suite.plan import DEVICES, plan
    from suite.registry import get

    if not 0 < args.power < 1:
        raise UsageError(f"--power must lie between 0 and 1, got {args.power}")
    abl = get(args.name)
    result = results.collect(abl, plan(abl, args.tier, devices=DEVICES, data_dir=args.data_dir), _store(args))
    if not result.records:
        raise SuiteError(f"no stored runs of {abl.name}'s {args.tier} tier: python -m suite run {abl.name} "
                         f"--tier {args.tier}")
    df = power.table(result, power=args.power)
    table = Table(title=f"{abl.name}, {args.tier} tier: power {args.power:.0%} at Bonferroni level "
                        f"{0.05 / max(1, len(abl.core)):.3g} ({len(abl.core)} core hypotheses)")
    for col in ("H", "device", "test", "seeds", "sd over seeds", "smallest detectable effect", "margin",
                "seeds for the margin"):
        table.add_column(col, justify="left" if col in ("H", "device", "test") else "right")
    def count(x) -> str:  # seed counts: whole numbers, though a column with gaps holds them as floats
        return present.fmt(int(x)) if isinstance(x, (int, float)) and x == x else "-"

    for r in df.to_dict("records"):
        mde = present.fmt(r.get("mde")) + (f" ({r['mde_unit']})" if isinstance(r.get("mde_unit"), str) else "")
        table.add_row(r["H"], r["device"], r["test"] if isinstance(r.get("test"), str) else "-",
                      count(r.get("seeds")), present.fmt(r.get("sd")), mde, present.fmt(r.get("margin")),
                      count(r.get("seeds_for_margin")))
    con = _console()
    con.print(table)
    for r in df.to_dict("records"):
        if isinstance(r.get("why"), str):
            con.print(f"  [dim]{r['H']} ({r['device']}): {r['why']}[/]")
    con.print(f"The {args.tier} tier runs {abl.tiers[args.tier].seeds} seeds, fixed before running; raise a tier's "
              "seeds from these numbers, never after seeing a p value (or use run --until-decided).")
    return 0


def _selected(names: list[str]):
    from suite.registry import discover, get

    return [get(n) for n in names] if names else [a for _, a in sorted(discover().items())]


def cmd_bench(args) -> int:
    from rich.table import Table

    from suite import bench

    table = Table(title="Speed ratios (candidate vs baseline, measured side by side; >1 = candidate faster)")
    for col in ("benchmark", "candidate vs baseline", "ratio", "spread", "target", "", "setup"):
        table.add_column(col)
    for r in bench.run_all(quick=args.quick, results=args.results):
        mark = "" if r.ok is None else ("[green]ok[/]" if r.ok else "[red]below[/]")
        table.add_row(r.name, f"{r.candidate} vs {r.baseline}", f"{r.ratio:.2f}x", f"{r.spread:.0%}",
                      "-" if r.target is None else f">= {r.target}x", mark, r.detail)
    _console().print(table)
    return 0


def cmd_baseline(args) -> int:
    import tempfile

    from suite import regress
    from suite.store import Store

    # Retrained from scratch, as `check` retrains: runs reused from the results directory may have trained in other
    # groups (another tier's seeds, --seeds), and a group's batched kernels round differently.
    with tempfile.TemporaryDirectory(prefix="suite-baseline-") as tmp:
        for path in regress.write_baselines(_selected(args.names), regress.load_dir(args.baselines), Store(tmp),
                                            jobs=args.jobs, speed=not args.no_speed):
            print(f"wrote {path}")
    return 0


def cmd_check(args) -> int:
    from suite import regress

    findings = regress.check(_selected(args.names), regress.load_dir(args.baselines), jobs=args.jobs,
                             speed=not args.no_speed)
    con = _console()
    for f in findings:
        con.print(f"{'[green]ok[/]  ' if f.ok else '[red]FAIL[/]'} {f.ablation}: {f.what}: {f.detail}")
    if args.markdown:
        from suite.files import atomic_write

        try:
            atomic_write(args.markdown, regress.markdown(findings))
        except OSError as exc:
            raise SuiteError(f"could not write {args.markdown}: {exc.strerror or exc}") from None
    failed = [f for f in findings if not f.ok]
    if failed:
        raise SuiteError(f"{len(failed)} regression check(s) failed; first: {failed[0].ablation}: {failed[0].what}")
    con.print(f"all {len(findings)} checks passed")
    return 0


def cmd_report(args) -> int:
    from suite.report import build_reports

    build_reports(args.names, formats=args.format, out=args.out, tier=args.tier, results=args.results,
                  data_dir=args.data_dir, compare=args.compare)
    return 0


COMMANDS = {"list": cmd_list, "show": cmd_show, "run": cmd_run, "power": cmd_power, "report": cmd_report,
            "bench": cmd_bench,
            "baseline": cmd_baseline, "check": cmd_check}


def _log_to_stderr() -> None:
    """Warnings (e.g. a record moved aside) as 'warning: ...' lines on stderr."""
    import logging

    root = logging.getLogger("suite")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    root.propagate = False


def _lossy_output() -> None:
    """Characters the terminal's encoding lacks (a claim's arrow, a factor value's Greek letter under cp1252) come
    out as '?': output degrades, it never crashes a run after its results are stored."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    _lossy_output()
    _log_to_stderr()
    try:
        parser = build_parser()
        # Overrides may follow options (``run X --tier smoke depth=12``), which argparse alone does not allow.
        args, extra = parser.parse_known_args(argv)
        stray = [a for a in extra if a.startswith("-") or args.command != "run"]
        if stray:
            parser.error(f"unrecognized arguments: {' '.join(stray)}")
        if extra:
            args.overrides = [*args.overrides, *extra]
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except SuiteError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished runs are stored; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure is still one line unless --debug asks for the traceback
        if debug:
            raise
        first = next(iter(str(exc).strip().splitlines()), "")
        print(f"error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
