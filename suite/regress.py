"""Regression checks for CI: results against stored baselines, speed ratios against their measured noise.

``baseline`` stores, per ablation, the smoke tier's per-variant statistics, per-seed values and verdicts, and
the speed ratios of :mod:`suite.bench` with the spread seen over several measurements. ``check`` retrains the
smoke tier from scratch (in a temporary store) and fails when a run fails, when a mean leaves the band its seed
variance allows, when a verdict flips, when there is nothing to compare, or when a speed ratio falls by more than
its measured noise allows. Per-seed values must repeat bit for bit only on the platform that wrote the baseline.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from suite.errors import SuiteError
from suite import present
from suite.files import atomic_write
from suite.verdicts import TIMING_SUFFIX  # wall-clock metrics (e.g. solve_s): speed is judged by the ratios instead

BASELINE_DIR = Path("results") / "baselines"
BAND_SE = 4.0          # a mean may move this many standard errors of the difference before it is a regression
# ... and always at least this fraction of |mean| (float32 training on another CPU moved the means of runs whose
# seeds agree by up to 1.5e-6 of |mean|, measured between two machines' baselines of the smoke tiers), or this
# much for a value that is 0 up to rounding (e.g. SGD's change of effective step, 0 by construction).
BAND_FLOOR = 1e-4
BAND_FLOOR_ABS = 1e-6
MIN_SEEDS = 2          # a baseline tier needs a seed spread to set its bands
SPEED_NOISE_SD = 3.0   # a speed ratio may fall this many measured standard deviations ...
SPEED_MIN_DROP = 0.15  # ... and at least this fraction, before it is a regression
SPEED_BENCHES = ("training loop", "grouped seeds K=16 (digits)")
SPEED_HISTORY = 8      # earlier baselines' ratios kept: a ratio also varies between sessions and hosts, not only
                       # between the rounds of one measurement


@dataclass
class Finding:
    ablation: str
    what: str
    ok: bool
    detail: str


def _retrain(abl, store, tier: str, jobs: int | None):
    """The tier's plan on the CPU, trained into ``store`` and judged."""
    from suite import execute, results
    from suite.plan import plan

    specs = plan(abl, tier, devices=["cpu"])
    execute.run(specs, store, jobs=jobs, progress_bar=False)
    return results.collect(abl, specs, store)


def _variant(row: dict, factors) -> str:
    return ", ".join(f"{f}={row[f]}" for f in factors)


def platform_fingerprint() -> dict:
    """What decides the bits of a float32 result besides the code: the CPU model and the vector instructions torch
    uses on it, the machine, torch and its BLAS, numpy and its BLAS."""
    import platform
    import re

    import numpy
    import torch

    from suite.environment import cpu_model

    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    try:
        numpy_blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    except TypeError:  # numpy before 1.26 prints its configuration only
        numpy_blas = {}
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine(), "torch": torch.__version__, "torch_blas": blas.group(1) if blas else None,
            "numpy": numpy.__version__, "numpy_blas": f"{numpy_blas.get('name')} {numpy_blas.get('version')}"}


def snapshot(result) -> dict:
    """What a baseline keeps of one ablation's smoke tier."""
    import torch

    abl = result.abl
    summary = result.judgement.summary.to_dict("records")
    values: dict[str, dict] = {}
    for r in result.records:
        for metric, value in r.get("metrics", {}).items():
            if metric.endswith(TIMING_SUFFIX):
                continue
            values.setdefault(f"{_variant(r['factors'], abl.factors)} | {metric}", {})[str(r["seed"])] = value
    return {
        "ablation": abl.name, "tier": result.tier, "code_version": abl.code_version, "torch": torch.__version__,
        "platform": platform_fingerprint(),
        "stats": {f"{_variant(s, abl.factors)} | {s['metric']}": {k: s[k] for k in ("mean", "std", "n")}
                  for s in summary if not s["metric"].endswith(TIMING_SUFFIX)},
        "values": values,
        "verdicts": {h["hypothesis"]: h["verdict"] for h in result.judgement.hypotheses.to_dict("records")},
        "profile": {"verdict": result.judgement.claim,
                    "counts": result.judgement.profile.counts() if result.judgement.profile else "",
                    "exceptions": [present.exception(e) for e in result.judgement.profile.exceptions]
                    if result.judgement.profile else []},
        "runs": {s: sum(r["status"] == s for r in result.records) for s in ("ok", "diverged", "failed")},
        "first_error": next((r.get("error") for r in result.records if r["status"] == "failed"), None),
    }


def _band(base: dict, new: dict) -> float:
    """Allowed |difference of means|: BAND_SE standard errors of the difference (from both sides' seed spread),
    and never less than what rounding on another CPU can move (BAND_FLOOR, BAND_FLOOR_ABS)."""
    se2 = sum((s["std"] ** 2 / s["n"]) for s in (base, new) if s["n"] and s["std"] == s["std"])
    return max(BAND_SE * math.sqrt(se2), BAND_FLOOR * abs(base["mean"]), BAND_FLOOR_ABS)


def compare(base: dict, new: dict) -> list[Finding]:
    name = base["ablation"]
    runs = new.get("runs", {})
    findings = [Finding(name, "no failed runs", not runs.get("failed"),
                        f"{runs.get('failed')} failed (first: {new.get('first_error')})" if runs.get("failed")
                        else ", ".join(f"{n} {s}" for s, n in runs.items() if n))]
    if not base["stats"] or not base["values"]:
        return findings + [Finding(name, "something to compare", False, "the baseline holds no values: "
                                   f"python -m suite baseline {name}")]
    moved = []
    for key, b in base["stats"].items():
        n = new["stats"].get(key)
        if n is None:
            moved.append(f"{key}: missing")
            continue
        if (b["mean"] != b["mean"]) != (n["mean"] != n["mean"]):  # one side NaN (e.g. now diverges)
            moved.append(f"{key}: {b['mean']} -> {n['mean']}")
        elif b["mean"] == b["mean"] and abs(n["mean"] - b["mean"]) > _band(b, n):
            moved.append(f"{key}: {b['mean']:.4g} -> {n['mean']:.4g} (band +/-{_band(b, n):.2g})")
    findings.append(Finding(name, "metrics within their seed-variance bands", not moved,
                            "; ".join(moved[:3]) + (f" (+{len(moved) - 3} more)" if len(moved) > 3 else "")
                            or f"{len(base['stats'])} variant x metric means"))
    flips = [f"{h}: {v} -> {new['verdicts'].get(h, 'missing')}" for h, v in base["verdicts"].items()
             if new["verdicts"].get(h) != v]
    findings.append(Finding(name, "verdicts unchanged", not flips, "; ".join(flips) or
                            f"{len(base['verdicts'])} hypotheses"))
    if "profile" in base:
        was, now = base["profile"], new.get("profile", {})
        exceptions = "".join(f"; exception {e}" for e in now.get("exceptions", []))
        findings.append(Finding(name, "claim profile unchanged", was.get("verdict") == now.get("verdict"),
                                (f"{now.get('verdict')} - {now.get('counts')}" if was.get("verdict") == now.get("verdict")
                                 else f"{was.get('verdict')} ({was.get('counts')}) -> {now.get('verdict')} "
                                      f"({now.get('counts')})") + exceptions))
    same = sum(new["values"].get(k, {}).get(seed) == v for k, seeds in base["values"].items()
               for seed, v in seeds.items())
    total = sum(len(seeds) for seeds in base["values"].values())
    # Bits are only expected to repeat on the platform that wrote the baseline; elsewhere they are reported.
    exact_expected = base.get("platform", {"torch": base.get("torch")}) == new.get("platform", {"torch": new.get("torch")})
    findings.append(Finding(name, "per-seed values bit for bit", same == total or not exact_expected,
                            f"{same} of {total} identical" + ("" if exact_expected else
                                                              " (baseline from another platform: not required)")))
    return findings


def measure_speed(rounds: int = 3) -> dict[str, dict]:
    """Each speed ratio measured ``rounds`` times: its median and relative standard deviation (the noise)."""
    from suite import bench
    from suite.process import configure

    configure(1)  # as each parallel worker runs
    out = {}
    for name in SPEED_BENCHES:
        ratios = [bench.measure(name).ratio for _ in range(rounds)]
        med = statistics.median(ratios)
        out[name] = {"ratio": med, "noise": statistics.stdev(ratios) / med if len(ratios) > 1 else 0.0,
                     "rounds": ratios}
    return out


def with_history(new: dict, old: dict | None) -> dict:
    """The new speed baseline, carrying the earlier baselines' ratios (newest last, at most SPEED_HISTORY)."""
    for name, entry in new.items():
        before = (old or {}).get(name)
        entry["history"] = ([*before.get("history", []), before["ratio"]][-SPEED_HISTORY:] if before else [])
    return new


def speed_noise(entry: dict) -> float:
    """Relative noise of a ratio: the larger of the spread of one baseline's rounds and the spread of the ratios
    that successive baselines measured (the same code measures differently on another day or host)."""
    sessions = [*entry.get("history", []), entry["ratio"]]
    between = statistics.stdev(sessions) / statistics.mean(sessions) if len(sessions) > 1 else 0.0
    return max(entry["noise"], between)


def compare_speed(base: dict, new: dict) -> list[Finding]:
    findings = []
    for name, b in base.items():
        if name not in new:
            findings.append(Finding("speed", name, False, f"no such benchmark now (measured: {', '.join(new)}); "
                                                          "python -m suite baseline writes the current ones"))
            continue
        n = new[name]
        noise = speed_noise(b)
        allowed = max(SPEED_MIN_DROP, SPEED_NOISE_SD * noise)
        floor = b["ratio"] * (1 - allowed)
        findings.append(Finding("speed", name, n["ratio"] >= floor,
                                f"ratio {n['ratio']:.2f} vs baseline {b['ratio']:.2f} (fails below {floor:.2f}: "
                                f"noise {noise:.1%}, allowed drop {allowed:.0%})"))
    return findings


def _path(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def write_baselines(ablations, directory: Path, store, tier: str = "smoke", jobs: int | None = None,
                    speed: bool = True) -> list[Path]:
    """Retrain ``tier`` of each ablation and write its baseline (and the speed ratios'). Nothing is written
    unless every ablation's tier has at least MIN_SEEDS seeds and every run finished (ok or diverged)."""
    few = [f"{a.name} ({a.tiers[tier].seeds})" for a in ablations if a.tiers[tier].seeds < MIN_SEEDS]
    if few:
        raise SuiteError(f"no baseline written: a baseline needs at least {MIN_SEEDS} seeds per variant to set its "
                         f"bands from their spread; the {tier} tier has fewer in {', '.join(few)}")
    # Speed first, before the smoke runs: measured after them, the training-loop ratio came out at 0.87-0.88
    # against 0.94 in a fresh process.
    ratios = measure_speed() if speed else None
    snaps = {abl.name: snapshot(_retrain(abl, store, tier, jobs)) for abl in ablations}
    broken = [f"{name}: {s['runs']['failed']} of {sum(s['runs'].values())} runs failed (first: {s['first_error']})"
              if s["runs"]["failed"] else f"{name}: no finite values ({s['runs']['diverged']} runs diverged)"
              for name, s in snaps.items() if s["runs"]["failed"] or not s["values"]]
    if broken:
        raise SuiteError("no baseline written: " + "; ".join(broken))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if ratios is not None:
        path = _path(directory, "speed")
        old = json.loads(path.read_text()) if path.is_file() else None
        written.append(atomic_write(path, json.dumps(with_history(ratios, old), indent=1)))
    for name, snap in snaps.items():
        written.append(atomic_write(_path(directory, name), json.dumps(snap, indent=1, sort_keys=True)))
    return written


def check(ablations, directory: Path, tier: str = "smoke", jobs: int | None = None,
          speed: bool = True) -> list[Finding]:
    """Retrain the tier from scratch and compare with the baselines; ablations without one are reported."""
    from suite.store import Store

    findings = []
    speed_path = _path(directory, "speed")
    if speed:  # first, as in write_baselines
        if not speed_path.is_file():
            findings.append(Finding("speed", "baseline present", False, "no speed baseline: python -m suite baseline"))
        else:
            findings += compare_speed(json.loads(speed_path.read_text()), measure_speed(rounds=1))
    with tempfile.TemporaryDirectory(prefix="suite-check-") as tmp:
        store = Store(tmp)
        for abl in ablations:
            path = _path(directory, abl.name)
            if not path.is_file():
                findings.append(Finding(abl.name, "baseline present", False,
                                        f"no baseline: python -m suite baseline {abl.name}"))
                continue
            base = json.loads(path.read_text())
            findings += compare(base, snapshot(_retrain(abl, store, base.get("tier", tier), jobs)))
    return findings


def markdown(findings: list[Finding]) -> str:
    """The check as a Markdown summary a CI job can post on a pull request: failures first, each with what moved,
    by how much and against what band (the detail), then the checks that passed."""
    failed = [f for f in findings if not f.ok]
    lines = [f"### Regression check: {len(findings) - len(failed)} of {len(findings)} passed", "",
             "| | ablation | check | detail |", "| --- | --- | --- | --- |"]
    for f in sorted(findings, key=lambda f: f.ok):
        detail = f.detail.replace("|", "\\|")
        lines.append(f"| {'ok' if f.ok else '**FAIL**'} | {f.ablation} | {f.what} | {detail} |")
    return "\n".join(lines) + "\n"


def load_dir(directory: str | None) -> Path:
    path = Path(directory) if directory else BASELINE_DIR
    if path.exists() and not path.is_dir():
        raise SuiteError(f"baseline directory {path} is not a directory")
    return path
