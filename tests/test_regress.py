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
    base = {"ablation": "toy", "stats": {}, "verdicts": {}, "values": {"arm=a | acc": {"0": 0.5}}, "platform": platform}
    moved = base | {"values": {"arm=a | acc": {"0": 0.5000001}}}
    (_, _, bits) = regress.compare(base, moved)
    assert not bits.ok and "0 of 1 identical" in bits.detail
    (_, _, bits) = regress.compare(base | {"platform": platform | {"cpu": "another CPU"}}, moved)
    assert bits.ok and "another platform" in bits.detail
