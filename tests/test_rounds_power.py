"""Seeds added until decided (``run --until-decided``), ``power`` on constructed data, and the claim's profile in
every place that shows a verdict - with real processes and a user ablation whose answer is known."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from suite import power, results
from suite.declare import Greater, Similar, Tier
from suite.registry import validate
from suite.verdicts import judge

# 'a' beats 'b' by 0.3 with per-seed noise of sd ~0.1 (a fixed pseudo-random pattern by seed): decided after a few
# rounds by the sequential rule, not at the tier's 2 seeds. 'c' equals 'b' exactly on every seed: a sanity check.
CLAIM = """
import math
from suite.declare import Greater, Less, Tier
from suite.registry import ablation

@ablation(name='toy_rounds', section='0', claim='a beats b', data=None, factors={'arm': ['a', 'b', 'c']},
          metrics={'score': 'a score'},
          hypotheses=[Greater('score', {'arm': 'a'}, {'arm': 'b'}),
                      Less('score', {'arm': 'b'}, {'arm': 'a'}, role='mechanism'),
                      Greater('score', {'arm': 'a'}, {'arm': 'c'}, role='sanity')],
          tiers={t: Tier(seeds=2) for t in ('smoke', 'quick', 'full')})
def train(ctxs):
    return [{'score': (0.3 if c.cfg.arm == 'a' else 0.0) + 0.1 * math.sin(3.7 * c.seed + (c.cfg.arm == 'a'))}
            for c in ctxs]
"""


@pytest.fixture
def claim_dir(tmp_path):
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "toy_rounds.py").write_text(CLAIM)
    return {"SUITE_ABLATIONS": str(tmp_path / "claims")}


def test_until_decided_adds_rounds_and_show_judges_the_same_seeds(tmp_path, cli, claim_dir):
    out = cli("run", "toy_rounds", "--tier", "smoke", "--until-decided", "--max-seeds", "12", "--no-progress",
              "--jobs", "1", env=claim_dir, results=tmp_path / "r")
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("toy_rounds: ") and " seeds: " in ln]
    assert lines[0].startswith("toy_rounds: 2 seeds: undecided H1")  # 2 seeds cannot decide it
    assert lines[-1].endswith("decided") and len(lines) >= 2
    stopped = int(lines[-1].split(": ")[1].split()[0])
    assert 2 < stopped <= 12
    text = " ".join(out.stdout.split())  # rich wraps long lines
    assert f"sequential rule: {stopped} seeds, every core hypothesis decided" in text
    assert "reproduced - core 1 of 1, mechanism 1 of 1, sanity 1 of 1 passed" in text
    shown = json.loads(cli("show", "toy_rounds", "--json", env=claim_dir, results=tmp_path / "r").stdout)
    smoke = shown["verdicts"]["smoke"]
    assert smoke["rule"] == "sequential" and smoke["seeds"] == stopped
    assert smoke["profile"]["verdict"] == "reproduced" and smoke["profile"]["core"] == {"reproduced": 1, "tested": 1}
    assert smoke["profile"]["sanity"] == {"passed": 1, "checked": 1}
    sanity = next(h for h in smoke["hypotheses"] if h["role"] == "sanity")
    assert sanity["verdict"] == "pass" and sanity["p"] is None
    # Rerunning finds every round stored: nothing trains again.
    again = cli("run", "toy_rounds", "--tier", "smoke", "--until-decided", "--max-seeds", "12", "--no-progress",
                env=claim_dir, results=tmp_path / "r")
    assert again.returncode == 0 and f"toy_rounds: {stopped * 3} runs" in again.stdout
    assert "trained" not in again.stdout


def test_the_cap_stops_rounds_and_says_so(tmp_path, cli, claim_dir):
    out = cli("run", "toy_rounds", "--tier", "smoke", "--until-decided", "--max-seeds", "2", "--no-progress",
              env=claim_dir, results=tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert "sequential rule: 2 seeds, cap of 2 seeds reached (H1 (cpu) undecided)" in " ".join(out.stdout.split())
    bad = cli("run", "toy_rounds", "--tier", "smoke", "--max-seeds", "4", env=claim_dir, results=tmp_path / "r")
    assert bad.returncode == 2 and "--max-seeds goes with --until-decided" in bad.stderr


def test_profile_in_report_csv_and_power(tmp_path, cli, claim_dir):
    r = tmp_path / "r"
    assert cli("run", "toy_rounds", "--tier", "quick", "--seeds", "2", "--no-progress", env=claim_dir,
               results=r).returncode == 0
    out = cli("report", "toy_rounds", "--format", "html,csv", "--out", str(tmp_path / "rep"), env=claim_dir,
              results=r)
    assert out.returncode == 0, out.stderr
    claims = pd.read_csv(tmp_path / "rep" / "tables" / "claims.csv")
    row = claims.iloc[0]
    assert (row["core_tested"], row["mechanism_tested"], row["sanity_checked"]) == (1, 1, 1)
    html = (tmp_path / "rep" / "report.html").read_text()
    # Two seeds decide nothing: the profile says so, with the counts and the exception's numbers.
    assert "not enough evidence - core 0 of 1, mechanism 0 of 1, sanity 1 of 1 passed" in html
    assert "<strong>H1</strong> inconclusive: " in html and "How a claim is judged" in html  # and why
    assert row["verdict"] == "not enough evidence" and row["exceptions"].startswith("H1 (inconclusive)")
    shown = cli("power", "toy_rounds", "--tier", "quick", env=claim_dir, results=r)
    assert shown.returncode == 0, shown.stderr
    assert "H1" in shown.stdout and "no margin declared" in shown.stdout
    none = cli("power", "toy_rounds", "--tier", "full", env=claim_dir, results=r)
    assert none.returncode == 1 and "no stored runs" in none.stderr and len(none.stderr.splitlines()) == 1


def _toy(hypotheses):
    return validate(name="toy", section="0", claim="c", data=None, factors={"arm": ["a", "b"]},
                    metrics={"acc": "accuracy"}, hypotheses=hypotheses, config={},
                    tiers={t: Tier(seeds=8) for t in ("smoke", "quick", "full")}, train=lambda ctxs: [])


def _result(abl, a, b):
    records = [{"key": f"{arm}{s}", "ablation": "toy", "tier": "quick", "seed": s, "device": "cpu", "status": "ok",
                "factors": {"arm": arm}, "metrics": {"acc": v}}
               for arm, values in (("a", a), ("b", b)) for s, v in enumerate(values)]
    return results.Result(abl, "quick", records, judge(abl, records), len(records))


def _paired_power(effect: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t test at a standardized effect, from the noncentral t (scipy)."""
    t = scipy.stats.t.ppf(1 - alpha / 2, n - 1)
    nc = effect * math.sqrt(n)
    return scipy.stats.nct.sf(t, n - 1, nc) + scipy.stats.nct.cdf(-t, n - 1, nc)


def test_power_on_constructed_data():
    """The per-seed differences have sd 0.02 by construction; with 2 core hypotheses the level is 0.025. The
    smallest detectable effect has power 0.8 by the noncentral t, and the seeds for the margin are the fewest
    with power >= 0.8."""
    d = np.array([0.01, 0.03, -0.01, 0.02, 0.0, 0.04, 0.02, 0.01])
    d = 0.02 * (d - d.mean()) / d.std(ddof=1) + 0.01
    base = np.linspace(0.5, 0.9, 8)
    abl = _toy([Greater("acc", {"arm": "a"}, {"arm": "b"}, margin=0.015),
                Similar("acc", {"arm": "a"}, {"arm": "b"}, margin=0.05)])
    table = power.table(_result(abl, base + d, base)).set_index("H")
    row = table.loc["H1"]
    assert row["test"] == "paired" and row["seeds"] == 8 and row["sd"] == pytest.approx(0.02)
    assert _paired_power(row["mde"] / 0.02, 8, 0.025) == pytest.approx(0.8, abs=1e-3)
    n = row["seeds_for_margin"]
    assert _paired_power(0.015 / 0.02, n, 0.025) >= 0.8 > _paired_power(0.015 / 0.02, n - 1, 0.025)
    # TOST at a true difference of 0: each one-sided test at power (1 + 0.8) / 2 = 0.9 against the margin.
    def one_sided(effect, n):
        return scipy.stats.nct.sf(scipy.stats.t.ppf(1 - 0.025, n - 1), n - 1, effect * math.sqrt(n))

    n2 = table.loc["H2", "seeds_for_margin"]
    assert one_sided(0.05 / 0.02, n2) >= 0.9 > one_sided(0.05 / 0.02, n2 - 1)
    assert one_sided(table.loc["H2", "mde"] / 0.02, 8) == pytest.approx(0.9, abs=1e-3)


def test_a_verdict_is_confirmed_on_seeds_not_yet_used(tmp_path, cli, claim_dir):
    """--first-seed runs and judges seeds the tier has not used, alone."""
    r = tmp_path / "r"
    out = cli("run", "toy_rounds", "--tier", "smoke", "--first-seed", "2", "--seeds", "3", "--no-progress",
              env=claim_dir, results=r)
    assert out.returncode == 0, out.stderr
    assert "smoke tier, seeds 2 to 4" in out.stdout and "9 runs, 9 trained" in out.stdout
    from suite.store import Store
    assert {rec["seed"] for rec in Store(r).records("toy_rounds")} == {2, 3, 4}
    bad = cli("run", "toy_rounds", "--tier", "smoke", "--until-decided", "--first-seed", "2", env=claim_dir,
              results=r)
    assert bad.returncode == 2 and "leave out --seeds and --first-seed" in bad.stderr
    neg = cli("run", "toy_rounds", "--tier", "smoke", "--first-seed", "-1", env=claim_dir, results=r)
    assert neg.returncode == 2 and "--first-seed must be at least 0" in neg.stderr


def test_power_for_an_effect_so_large_that_two_seeds_suffice():
    """margin / sd = 50: the solver finds no root above 2 seeds; the answer is the fewest seeds, 2, not a crash."""
    base = np.linspace(0.5, 0.9, 8)
    d = 0.001 * np.array([1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 0.2, -0.2])
    abl = _toy([Similar("acc", {"arm": "a"}, {"arm": "b"}, margin=0.05)])
    row = power.table(_result(abl, base + d, base)).iloc[0]
    assert row["seeds_for_margin"] == 2
