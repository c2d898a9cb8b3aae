"""Claims that never hang silently: a claim left by a process that is gone, on this host or another, is taken over
with one warning line; a live one makes the waiting process say who holds what and for how long it has waited."""

import json
import os
import select
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
    ready, _, _ = select.select([proc.stderr], [], [], 120)  # until the waiting process speaks
    assert ready, "the waiting process said nothing"
    line = proc.stderr.readline()
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


RACE = """
import sys
import time
from pathlib import Path

from suite import leases

while time.time() < float(sys.argv[2]):  # all start together
    pass
print(leases.Leases().claim(Path(sys.argv[1])), flush=True)
time.sleep(8)  # a winner that exits at once leaves a claim the next racer rightly finds stale
"""


def _stale_claim(lock):
    lock.write_text("node-b 4242")
    os.utime(lock, (0, 0))  # not renewed since 1970


def test_of_several_processes_that_find_a_claim_stale_exactly_one_takes_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(5):
        lock = tmp_path / f"k{trial}.lock"
        _stale_claim(lock)
        start = str(time.time() + 1.0)
        racers = [subprocess.Popen([sys.executable, "-c", RACE, str(lock), start], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(6)]
        won = [p.stdout.readline().strip() == "True" for p in racers]
        for p in racers:
            p.kill()
            p.communicate()
        assert sum(won) == 1, won
        assert json.loads(lock.read_text())["pid"] in {p.pid for p in racers}


def test_a_process_that_judged_a_claim_stale_before_another_took_it_over_does_not_take_it_again(tmp_path):
    """The interleaving that lets two processes win, made to happen: B reads the stale claim, A takes it over,
    then B goes on to take over what it read."""
    lock = tmp_path / "k.lock"
    _stale_claim(lock)
    seen = leases.holder(lock)
    why = leases.stale(seen)
    assert why is not None
    a = leases.Leases()
    assert a.claim(lock)
    token = leases.holder(lock).token
    assert not leases.Leases._take_over(lock, seen, why, json.dumps({"host": "b", "pid": 1, "token": "b"}))
    assert leases.holder(lock).token == token


def test_a_takeover_in_progress_is_waited_for_unless_its_taker_died(tmp_path):
    lock = tmp_path / "k.lock"
    _stale_claim(lock)
    takeover = lock.with_suffix(".takeover")
    takeover.write_text("{}")  # another process is taking it over right now
    assert not leases.Leases().claim(lock) and takeover.exists()
    os.utime(takeover, (0, 0))  # ... or died doing it
    assert not leases.Leases().claim(lock) and not takeover.exists()  # its leftover is cleared for the next poll
    assert leases.Leases().claim(lock)


def test_a_live_claim_of_another_host_is_left_alone(tmp_path):
    lock = tmp_path / "k.lock"
    lock.write_text(json.dumps({"host": "node-b", "pid": 4242, "start": "1", "token": "theirs"}))  # renewed just now
    assert not leases.Leases().claim(lock)
    assert json.loads(lock.read_text())["token"] == "theirs"


def test_a_claim_taken_over_from_a_paused_holder_is_neither_renewed_nor_released_by_it(tmp_path, monkeypatch):
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.05)
    paused = leases.Leases()
    lock = tmp_path / "k.lock"
    assert paused.claim(lock)
    theirs = json.dumps({"host": "node-b", "pid": 4242, "start": "1", "token": "theirs"})
    lock.write_text(theirs)  # what a takeover by another process leaves
    os.utime(lock, (time.time() - 100, time.time() - 100))
    time.sleep(0.3)
    assert leases.holder(lock).age_s > 50  # not renewed by the process that lost it
    paused.release(lock)
    assert lock.read_text() == theirs  # nor deleted
