"""The engine end to end on the first claim, through real processes: run, cache, resume, overrides, errors."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy
import pytest
import torch

from suite.execute import cpu_count, execute_group, workers_and_threads
from suite.plan import available_devices, plan, run_key
from suite.registry import get
from suite.store import Store
from tests.conftest import ROOT

SMOKE = ["run", "vanishing_gradients", "--tier", "smoke", "--no-progress"]


def _records(results):
    return list(Store(results).records("vanishing_gradients"))


def _verdict_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("H", "claim"))]


def test_smoke_tier_end_to_end_then_a_rerun_trains_nothing(cli, tmp_path):
    first = cli(*SMOKE, "--jobs", "2", results=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "12 runs, 12 trained, 0 from the store" in first.stdout
    records = _records(tmp_path)
    assert len(records) == 12 and {r["status"] for r in records} == {"ok"}
    rec = records[0]
    assert {"python", "torch", "numpy", "device_name", "cpu", "threads", "git_commit"} <= set(rec["env"])
    assert rec["timing"]["wall_s"] > 0 and rec["timing"]["samples_per_s"] > 0
    assert set(rec["curves"]["metric"]) >= {"train_loss", "test_acc"}
    assert set(rec["probes"]["stat"]) >= {"grad_preact_norm", "grad_weight_norm"}
    assert len(rec["probes"]["layer"]) == len(rec["probes"]["value"])
    assert {"test_acc", "grad_ratio_log10_init"} <= set(rec["metrics"])
    assert sorted({r["seed"] for r in records}) == [0, 1]
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "vanishing_gradients").glob("*.json")}

    second = cli(*SMOKE, results=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 trained, 12 from the store" in second.stdout
    assert _verdict_lines(second.stdout) == _verdict_lines(first.stdout) and _verdict_lines(first.stdout)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # nothing rewritten


def test_issue_command_with_overrides_seeds_and_jobs(cli, tmp_path):
    out = cli(*SMOKE, "--seeds", "3", "--device", "cpu", "--jobs", "2", "depth=12", "lr=0.05", results=tmp_path)
    assert out.returncode == 0, out.stderr
    records = _records(tmp_path)
    assert len(records) == 9  # 3 activations x depth 12 x 3 seeds
    assert {r["config"]["depth"] for r in records} == {12} and {r["config"]["lr"] for r in records} == {0.05}
    assert "not run" in out.stdout  # hypotheses about depth 10 have no runs at depth 12


def test_run_killed_halfway_resumes_where_it_stopped(cli, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "suite", *SMOKE, "--jobs", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(list((tmp_path / "vanishing_gradients").glob("*.json"))) < 4 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(_records(tmp_path))
    assert 4 <= done < 12
    again = cli(*SMOKE, results=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"12 runs, {12 - done} trained, {done} from the store" in again.stdout
    assert len(_records(tmp_path)) == 12


def test_divergence_is_stored_with_its_step(cli, tmp_path):
    out = cli(*SMOKE, "--seeds", "1", "activation=relu", "depth=10", "init=large", results=tmp_path)
    assert out.returncode == 0, out.stderr
    (rec,) = _records(tmp_path)
    assert rec["status"] == "diverged" and rec["diverged_step"] >= 1
    assert "grad_ratio_log10_init" in rec["metrics"]  # measured at init, before the divergence
    assert "test_acc" not in rec["metrics"]


def test_same_run_twice_gives_bit_identical_metrics(tmp_path):
    spec = plan(get("vanishing_gradients"), "smoke", seeds=1)[0]
    (a,) = execute_group([spec], str(tmp_path / "a"))
    (b,) = execute_group([spec], str(tmp_path / "b"))
    assert a["status"] == b["status"] == "ok"
    (ra,), (rb,) = Store(tmp_path / "a").records(), Store(tmp_path / "b").records()
    assert ra["metrics"] == rb["metrics"] and ra["curves"] == rb["curves"]


def test_plan_is_seed_major_and_keys_are_stable():
    abl = get("vanishing_gradients")
    specs = plan(abl, "smoke", seeds=2, devices=["cpu"])
    assert [s.seed for s in specs] == [0] * 6 + [1] * 6
    assert len({s.key for s in specs}) == 12
    cfg = specs[0].config
    shuffled = dict(reversed(list(cfg.items())))
    spec = specs[0]
    assert run_key(abl.name, shuffled, 0, "cpu", "smoke", abl.code_version, spec.versions, spec.data) == spec.key
    other = run_key(abl.name, cfg | {"lr": 0.06}, 0, "cpu", "smoke", abl.code_version, spec.versions, spec.data)
    assert other != spec.key
    assert spec.versions == {"torch": torch.__version__, "numpy": numpy.__version__}
    assert spec.data.startswith("digits: scikit-learn ")


def test_workers_times_threads_never_exceed_the_cores():
    cores = cpu_count()
    for jobs in (None, 1, 2, 3, 8, 64):
        for n in (1, 2, 100):
            workers, threads = workers_and_threads(jobs, n)
            assert 1 <= workers <= n and workers * threads <= max(cores, 1)


def test_list_show_and_help(cli, tmp_path):
    listed = cli("list")
    assert listed.returncode == 0 and "vanishing_gradients" in listed.stdout and "3.3" in listed.stdout
    shown = cli("show", "vanishing_gradients", "--json", results=tmp_path)
    info = json.loads(shown.stdout)
    assert info["name"] == "vanishing_gradients" and len(info["hypotheses"]) >= 3 and info["verdicts"] == {}
    text = cli("show", "vanishing_gradients", results=tmp_path).stdout
    assert "no stored results" in text and "H1." in text
    for args in (["--help"], ["run", "--help"], ["show", "--help"], ["list", "--help"]):
        assert cli(*args).returncode == 0


def test_absent_device_is_a_clear_error(cli, tmp_path):
    present = available_devices()
    for device in ("cuda", "mps"):
        if device in present:
            continue
        out = cli(*SMOKE, "--device", device, results=tmp_path)
        assert out.returncode == 2 and "not available on this machine" in out.stderr


def test_a_run_that_finds_everything_stored_does_not_import_torch(tmp_path):
    """Planning on the CPU and reading the verdicts need no torch (about half the time of a cached run)."""
    code = ("import sys; from suite.plan import resolve_devices; from suite import results, execute; "
            "assert resolve_devices('cpu') == ['cpu']; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unwritable_results_directory_fails_before_training(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = cli(*SMOKE, "--results", str(blocker / "results"))
    assert out.returncode == 1 and "not writable" in out.stderr and len(out.stderr.strip().splitlines()) == 1
