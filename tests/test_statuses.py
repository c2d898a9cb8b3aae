"""Statuses that say what happened: runs that raise are failed (not diverged) everywhere a verdict is shown, and
a run's randomness - torch, numpy's global generator, Python's random, its own numpy Generator - pairs across arms
and repeats across processes."""

import csv

from suite.store import Store

RAISING = """
from suite.declare import Greater, Tier
from suite.registry import ablation


@ablation(name="raising_claim", section="0", claim="a beats b", data=None, factors={"arm": ["a", "b"]},
          metrics={"score": "score"}, hypotheses=[Greater("score", {"arm": "a"}, {"arm": "b"})],
          tiers={t: Tier(seeds=3) for t in ("smoke", "quick", "full")})
def train(ctxs):
    raise RuntimeError("the data loader is broken")
"""

DRAWING = """
import random

import numpy as np

from suite.declare import Greater, Tier
from suite.registry import ablation


@ablation(name="drawing_claim", section="0", claim="a beats b", data=None, factors={"arm": ["a", "b"]},
          metrics={"np_global": "a draw", "py_random": "a draw", "rng": "a draw", "offset": "a draw plus the arm"},
          hypotheses=[Greater("offset", {"arm": "a"}, {"arm": "b"})],
          tiers={t: Tier(seeds=3) for t in ("smoke", "quick", "full")})
def train(ctxs):
    out = []
    for ctx in ctxs:
        x = float(np.random.rand())
        out.append({"np_global": x, "py_random": random.random(), "rng": float(ctx.rng.random()),
                    "offset": x + (1.0 if ctx.cfg.arm == "a" else 0.0)})
    return out
"""


def test_a_claim_whose_runs_all_fail_says_failed_with_the_first_error(cli, tmp_path):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "raising_claim.py").write_text(RAISING)
    env = {"SUITE_ABLATIONS": str(tmp_path / "user")}
    out = cli("run", "raising_claim", "--tier", "smoke", "--no-progress", env=env, results=tmp_path / "r")
    assert out.returncode == 1 and "6 run(s) failed" in out.stderr
    assert "claim raising_claim, smoke (3 seeds): failed" in out.stdout and "the data loader is broken" in out.stdout
    assert "diverged" not in out.stdout and "excluded" not in out.stdout
    assert "H1 failed: all 3 runs of A (arm=a) failed (first: RuntimeError: the data loader is broken)" in out.stdout
    shown = cli("show", "raising_claim", env=env, results=tmp_path / "r")
    assert "claim raising_claim, smoke (3 seeds): failed" in shown.stdout
    report = cli("report", "raising_claim", "--format", "html,csv", "--out", str(tmp_path / "rep"), env=env,
                 results=tmp_path / "r")
    assert report.returncode == 0, report.stderr
    (row,) = csv.DictReader(open(tmp_path / "rep" / "tables" / "claims.csv"))
    assert row["verdict"] == "failed" and row["first_error"] == "RuntimeError: the data loader is broken"
    html = (tmp_path / "rep" / "report.html").read_text()
    assert 'class="badge failed"' in html and "first error: RuntimeError: the data loader is broken" in html


def test_a_runs_random_draws_pair_across_arms_and_repeat_across_processes(cli, tmp_path):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "drawing_claim.py").write_text(DRAWING)
    env = {"SUITE_ABLATIONS": str(tmp_path / "user")}
    for results in ("r1", "r2"):
        out = cli("run", "drawing_claim", "--tier", "smoke", "--no-progress", "--jobs", "2", env=env,
                  results=tmp_path / results)
        assert out.returncode == 0, out.stderr
    runs = [{(r["factors"]["arm"], r["seed"]): r["metrics"] for r in Store(tmp_path / d).records("drawing_claim")}
            for d in ("r1", "r2")]
    assert runs[0] == runs[1]  # every draw repeats in another process
    for seed in range(3):
        a, b = runs[0]["a", seed], runs[0]["b", seed]
        assert {m: a[m] for m in ("np_global", "py_random", "rng")} == {m: b[m] for m in ("np_global", "py_random", "rng")}
    assert len({runs[0]["a", s]["np_global"] for s in range(3)}) == 3  # and differ between seeds
    assert "claim drawing_claim, smoke (3 seeds): reproduced - core" in out.stdout  # a paired test sees the offset exactly
