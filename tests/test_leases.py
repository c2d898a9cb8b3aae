"""Claims that never hang silently: a claim left by a process that is gone, on this host or another, is taken over
with one warning line; a live one makes the waiting process say who holds what and for how long it has waited."""

import json
import os
import socket
import subprocess
import sys
import time

from suite import leases
from suite.plan import plan
from suite.registry import get
from suite.store import Store
from tests.conftest import ROOT

SMOKE = ["run", "vanishing_gradients", "--tier", "smoke", "--seeds", "1", "--no-progress", "--jobs", "1"]


def _lock_of_first_run(results):
    spec = plan(get("vanishing_gradients"), "smoke", seeds=1)[0]
    return Store(results).lock(spec.ablation, spec.key)


def test_a_three_day_old_claim_of_another_host_is_taken_over_with_one_warning(cli, tmp_path):
    lock = _lock_of_first_run(tmp_path)
    lock.parent.mkdir(parents=True)
    lock.write_text("node-b 4242")
    three_days_ago = time.time() - 3 * 86400
    os.utime(lock, (three_days_ago, three_days_ago))
    out = cli(*SMOKE, results=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "6 trained" in out.stdout
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "node-b" in warnings[0] and "no heartbeat for" in warnings[0]


def test_a_claim_naming_a_live_unrelated_process_of_this_host_is_taken_over(cli, tmp_path):
    lock = _lock_of_first_run(tmp_path)
    lock.parent.mkdir(parents=True)
    # PID 1 is alive, but it is not the process that made the claim: that one started at another time.
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": 1, "start": "12345678"}))
    out = cli(*SMOKE, results=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "PID 1 is another process now" in out.stderr and "6 trained" in out.stdout


def test_a_live_claim_makes_the_waiting_process_say_who_holds_what(tmp_path):
    store = Store(tmp_path)
    spec = plan(get("vanishing_gradients"), "smoke", seeds=1)[0]
    assert store.claim(spec.ablation, spec.key)  # held by this (live) test process
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "suite", *SMOKE], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # blocks until the waiting process speaks
    assert "waited" in line and f"{socket.gethostname()} pid {os.getpid()} holds" in line
    assert "1 run(s) of vanishing_gradients" in line
    store.release(spec.ablation, spec.key)  # released without a record: the waiting process trains it
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "6 runs, 6 trained" in out


def test_a_holder_renews_its_claims_while_it_holds_them(tmp_path, monkeypatch):
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.05)
    held = leases.Leases()
    lock = tmp_path / "k.lock"
    assert held.claim(lock)
    os.utime(lock, (time.time() - 1000, time.time() - 1000))
    time.sleep(0.3)
    assert leases.holder(lock).age_s < 1  # the heartbeat touched it
    held.release(lock)
    assert not lock.exists()
