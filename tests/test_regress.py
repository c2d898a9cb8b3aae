"""Baselines and the regression check, on a real smoke run and on doctored baselines."""

import json
import statistics

import pytest

from suite import regress
from suite.registry import get
from suite.store import Store


def test_baseline_then_check_passes_and_a_moved_result_or_flipped_verdict_fails(tmp_path):
    abl = get("vanishing_gradients")
    directory = tmp_path / "baselines"
    (path,) = regress.write_baselines([abl], directory, Store(tmp_path / "r"), speed=False)
    findings = regress.check([abl], directory, speed=False)
    assert all(f.ok for f in findings), findings
    assert any("bit for bit" in f.what and "of" in f.detail for f in findings)

    base = json.loads(path.read_text())
    key = next(k for k in base["stats"] if k.endswith("| test_acc"))
    base["stats"][key]["mean"] += 0.5  # a result that moved far beyond its seed variance
    hyp = next(iter(base["verdicts"]))
    base["verdicts"][hyp] = "contradicted" if base["verdicts"][hyp] != "contradicted" else "reproduced"
    path.write_text(json.dumps(base))
    failed = {f.what: f for f in regress.check([abl], directory, speed=False) if not f.ok}
    assert key in failed["metrics within their seed-variance bands"].detail
    assert hyp in failed["verdicts unchanged"].detail


def test_missing_baseline_is_a_failure_that_says_what_to_run(tmp_path):
    (finding,) = regress.check([get("vanishing_gradients")], tmp_path, speed=False)
    assert not finding.ok and "python -m suite baseline vanishing_gradients" in finding.detail


def test_speed_comparison_uses_the_measured_noise():
    base = {"training loop": {"ratio": 1.0, "noise": 0.02}, "batched": {"ratio": 6.0, "noise": 0.10}}
    new = {"training loop": {"ratio": 0.86}, "batched": {"ratio": 4.3}}
    verdicts = {f.what: f.ok for f in regress.compare_speed(base, new)}
    assert verdicts == {"training loop": True, "batched": True}  # within the 15% floor; within 3 sd of 10% (30%)
    new = {"training loop": {"ratio": 0.8}, "batched": {"ratio": 3.5}}
    assert not any(f.ok for f in regress.compare_speed(base, new))


def test_speed_noise_includes_the_spread_between_successive_baselines():
    old = {"batched": {"ratio": 3.7, "noise": 0.02, "history": [3.6]}}
    new = regress.with_history({"batched": {"ratio": 2.9, "noise": 0.03}}, old)
    assert new["batched"]["history"] == [3.6, 3.7]
    sessions = [3.6, 3.7, 2.9]
    expected = statistics.stdev(sessions) / statistics.mean(sessions)
    assert regress.speed_noise(new["batched"]) == pytest.approx(expected)  # larger than either round spread
    assert regress.with_history({"x": {"ratio": 1.0, "noise": 0.0}}, None)["x"]["history"] == []
    long = regress.with_history({"x": {"ratio": 1.0, "noise": 0.0}},
                                {"x": {"ratio": 2.0, "noise": 0.0, "history": list(range(20))}})
    assert len(long["x"]["history"]) == regress.SPEED_HISTORY and long["x"]["history"][-1] == 2.0
    # A ratio that falls far below every session is still caught.
    (finding,) = regress.compare_speed(new, {"batched": {"ratio": 1.2}})
    assert not finding.ok


def test_bits_must_repeat_only_on_the_platform_that_wrote_the_baseline():
    platform = regress.platform_fingerprint()
    stats = {"arm=a | acc": {"mean": 0.5, "std": 0.0, "n": 1}}
    base = {"ablation": "toy", "stats": stats, "verdicts": {}, "values": {"arm=a | acc": {"0": 0.5}},
            "platform": platform}
    moved = base | {"values": {"arm=a | acc": {"0": 0.5000001}}, "runs": {"ok": 1}}
    bits = regress.compare(base, moved)[-1]
    assert bits.what == "per-seed values bit for bit"
    assert not bits.ok and "0 of 1 identical" in bits.detail
    bits = regress.compare(base | {"platform": platform | {"cpu": "another CPU"}}, moved)[-1]
    assert bits.ok and "another platform" in bits.detail


def test_check_on_another_machine_passes_at_rounding_level_and_fails_beyond(tmp_path):
    """Baselines written with two workers, checked with one, as on a machine with another CPU whose float32
    rounding moved every value a little: the bits are not required there, and the bands never fall below the
    floor that rounding cannot cross."""
    abl = get("forget_bias")
    directory = tmp_path / "baselines"
    (path,) = regress.write_baselines([abl], directory, Store(tmp_path / "r"), jobs=2, speed=False)
    base = json.loads(path.read_text())
    base["platform"]["cpu"] = "Another CPU model"
    for stat in base["stats"].values():
        stat["mean"] *= 1 + 1e-6
    for seeds in base["values"].values():
        for seed in seeds:
            seeds[seed] *= 1 + 1e-6
    path.write_text(json.dumps(base))
    findings = regress.check([abl], directory, jobs=1, speed=False)
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    assert any("another platform" in f.detail for f in findings)
    key = next(iter(base["stats"]))
    base["stats"][key]["mean"] += 10 * max(1.0, abs(base["stats"][key]["mean"]))
    path.write_text(json.dumps(base))
    failed = [f for f in regress.check([abl], directory, jobs=1, speed=False) if not f.ok]
    assert [f.what for f in failed] == ["metrics within their seed-variance bands"] and key in failed[0].detail


BROKEN = """
from suite.declare import Greater, Tier
from suite.registry import ablation


@ablation(name="{name}", section="0", claim="a beats b", data=None, factors={{"arm": ["a", "b"]}},
          metrics={{"score": "score"}}, hypotheses=[Greater("score", {{"arm": "a"}}, {{"arm": "b"}})],
          tiers={{t: Tier(seeds={seeds}) for t in ("smoke", "quick", "full")}})
def train(ctxs):
    if {fail}:
        raise RuntimeError("every run of this claim raises")
    return [{{"score": (1.0 if c.cfg.arm == "a" else 0.0) + 0.1 * c.seed}} for c in ctxs]
"""


def _claim(tmp_path, name, seeds=2, fail=False):
    (tmp_path / "user").mkdir(exist_ok=True)
    (tmp_path / "user" / f"{name}.py").write_text(BROKEN.format(name=name, seeds=seeds, fail=fail))
    return {"SUITE_ABLATIONS": str(tmp_path / "user")}


def test_baseline_refuses_failed_runs_and_single_seed_tiers(cli, tmp_path):
    args = ["--baselines", str(tmp_path / "b"), "--no-speed"]
    out = cli("baseline", "raising_claim", *args, env=_claim(tmp_path, "raising_claim", fail=True), results=tmp_path)
    assert out.returncode == 1 and "no baseline written: raising_claim: 4 of 4 runs failed" in out.stderr
    assert "every run of this claim raises" in out.stderr and not (tmp_path / "b" / "raising_claim.json").exists()
    out = cli("baseline", "lonely_claim", *args, env=_claim(tmp_path, "lonely_claim", seeds=1), results=tmp_path)
    assert out.returncode == 1 and "needs at least 2 seeds" in out.stderr and "lonely_claim (1)" in out.stderr


def test_check_fails_on_failed_runs_and_on_nothing_to_compare_and_writes_markdown(cli, tmp_path):
    args = ["--baselines", str(tmp_path / "b"), "--no-speed"]
    env = _claim(tmp_path, "turning_claim")
    assert cli("baseline", "turning_claim", *args, env=env, results=tmp_path / "r").returncode == 0
    env = _claim(tmp_path, "turning_claim", fail=True)  # the same claim now raises in every run
    out = cli("check", "turning_claim", *args, "--markdown", str(tmp_path / "check.md"), env=env,
              results=tmp_path / "r")
    assert out.returncode == 1 and "no failed runs" in out.stderr
    summary = (tmp_path / "check.md").read_text()
    assert summary.startswith("### Regression check:") and "| **FAIL** | turning_claim | no failed runs |" in summary
    base = json.loads((tmp_path / "b" / "turning_claim.json").read_text())
    (tmp_path / "b" / "turning_claim.json").write_text(json.dumps(base | {"stats": {}, "values": {}}))
    out = cli("check", "turning_claim", *args, env=_claim(tmp_path, "turning_claim"), results=tmp_path / "r")
    assert out.returncode == 1 and "something to compare" in out.stdout


def test_the_band_floor_follows_the_size_of_the_value():
    """The floor that rounding on another CPU cannot cross is relative: a 1% move of a small deterministic value
    (a trial's learning rate, 0.0013, the same for every seed) fails; a move at rounding level passes."""
    stat = {"mean": 0.0013, "std": 0.0, "n": 2}
    base = {"ablation": "toy", "stats": {"trial=1 | lr": stat}, "verdicts": {}, "values": {"trial=1 | lr": {"0": 0.0013}},
            "platform": {}}

    def moved(factor):
        return base | {"stats": {"trial=1 | lr": stat | {"mean": 0.0013 * factor}}, "runs": {"ok": 2},
                       "platform": {"cpu": "another"}}

    assert not regress.compare(base, moved(1.01))[1].ok
    assert regress.compare(base, moved(1 + 1e-7))[1].ok
    zero = {"mean": 4e-8, "std": 0.0, "n": 2}  # 0 by construction, up to rounding
    base0 = base | {"stats": {"opt=sgd | eff_step_change_log10": zero}}
    assert regress.compare(base0, base0 | {"stats": {"opt=sgd | eff_step_change_log10": zero | {"mean": -9e-8}},
                                           "runs": {"ok": 2}})[1].ok
