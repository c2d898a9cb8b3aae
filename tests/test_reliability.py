"""Kill it, race it, corrupt it: the store and the executor lose nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.plan import plan, run_key
from suite.errors import UsageError
from suite.overrides import parse_overrides
from suite.registry import get
from suite.store import Store
from tests.conftest import ROOT

ABL = "vanishing_gradients"
PLAN = ["run", ABL, "--tier", "smoke", "--seeds", "4", "--no-progress"]  # 24 runs of ~0.2 s


def _spawn(args, results, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(results)}
    return subprocess.Popen([sys.executable, "-m", "suite", *args], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _json_files(results):
    return sorted((results / ABL).glob("*.json"))


def _planned_keys(seeds=4):
    return {s.key for s in plan(get(ABL), "smoke", seeds=seeds)}


def test_sigkill_at_random_moments_then_resume(tmp_path, cli):
    """20 seeded trials: SIGKILL the whole run at a random moment; nothing stored is ever lost or torn."""
    rng = random.Random(20261127)
    seen: set[str] = set()
    store = Store(tmp_path)
    for trial in range(20):
        proc = _spawn([*PLAN, "--jobs", str(1 + trial % 2)], tmp_path)
        time.sleep(rng.uniform(0.5, 4.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        files = _json_files(tmp_path)
        records = [store.read(p) for p in files]
        assert all(r is not None for r in records), f"trial {trial}: a record did not load"
        keys = {p.stem for p in files}
        assert seen <= keys, f"trial {trial}: records lost"
        seen = keys
    assert not (tmp_path / ABL / "corrupt").exists()
    done = len(seen)
    final = cli(*PLAN, results=tmp_path)
    assert final.returncode == 0, final.stderr
    assert f"{24 - done} trained, {done} from the store" in final.stdout
    assert {p.stem for p in _json_files(tmp_path)} == _planned_keys()
    assert not list((tmp_path / ABL).glob("*.lock"))


def test_two_runs_at_once_share_the_work_and_a_reader_is_never_hurt(tmp_path, cli):
    a = _spawn([*PLAN, "--jobs", "1"], tmp_path)
    b = _spawn([*PLAN, "--jobs", "1"], tmp_path)
    shows = []
    while a.poll() is None or b.poll() is None:
        shows.append(cli("show", ABL, "--json", results=tmp_path))
    out_a, err_a = a.communicate()
    out_b, err_b = b.communicate()
    assert a.returncode == 0 and b.returncode == 0, (err_a, err_b)
    assert shows and all(s.returncode == 0 and json.loads(s.stdout)["name"] == ABL for s in shows)
    trained = [int(o.split(" trained")[0].rsplit(" ", 1)[1]) for o in (out_a, out_b)]
    assert sum(trained) == 24, (out_a, out_b)  # no run trained twice
    assert {p.stem for p in _json_files(tmp_path)} == _planned_keys()
    claims = [line for line in out_a.splitlines() + out_b.splitlines() if line.startswith("claim")]
    assert len(claims) == 2 and claims[0] == claims[1]


def test_corrupt_records_are_reported_once_moved_aside_and_rerun(tmp_path, cli):
    plan = ["run", ABL, "--tier", "smoke", "--seeds", "1", "--no-progress"]
    assert cli(*plan, results=tmp_path).returncode == 0
    files = _json_files(tmp_path)
    files[0].write_text(files[0].read_text()[:100])                      # truncated
    files[1].write_bytes(b"\x00\xff garbage \xfe")                       # garbled
    record = json.loads(files[2].read_text())
    files[2].write_text(json.dumps({**record, "schema": 999}))           # from an unknown schema version
    again = cli(*plan, results=tmp_path)
    assert again.returncode == 0, again.stderr
    warnings = [line for line in again.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3 and all("moved to" in w for w in warnings)
    assert "3 trained, 3 from the store" in again.stdout
    assert len(list((tmp_path / ABL / "corrupt").iterdir())) == 3
    third = cli(*plan, results=tmp_path)
    assert "0 trained" in third.stdout and "warning" not in third.stderr


def test_same_run_in_two_processes_is_bit_identical(tmp_path, cli):
    args = ["run", ABL, "--tier", "smoke", "--seeds", "1", "activation=relu", "depth=3", "--no-progress"]
    for d in ("a", "b"):
        assert cli(*args, results=tmp_path / d).returncode == 0
    (ra,), (rb,) = Store(tmp_path / "a").records(ABL), Store(tmp_path / "b").records(ABL)
    assert ra["metrics"] == rb["metrics"] and ra["curves"] == rb["curves"] and ra["probes"] == rb["probes"]
    assert ra["env"]["deterministic_algorithms"] is False  # recorded either way


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(["lr", "depth", "width", "activation", "optimizer", "nope", ""]), value=st.text(max_size=12))
def test_override_parser_either_parses_or_says_why(key, value):
    abl = get(ABL)
    try:
        config, factors = parse_overrides(abl, [f"{key}={value}"])
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    parsed = {**config, **factors}
    assert set(parsed) == {key}
    if key == "lr":
        assert isinstance(parsed[key], float) and parsed[key] >= 0
    if key == "depth":
        assert all(isinstance(v, int) and v > 0 for v in parsed[key])


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.floats(allow_nan=False),
                                                                   st.text(max_size=8), st.booleans()),
                       min_size=1, max_size=8), st.randoms())
def test_run_key_ignores_dict_order(config, rnd):
    items = list(config.items())
    rnd.shuffle(items)
    assert run_key("x", config, 0, "cpu", "smoke", "v") == run_key("x", dict(items), 0, "cpu", "smoke", "v")


def test_run_keys_are_the_same_in_another_process():
    keys = sorted(_planned_keys(seeds=2))
    code = ("from suite.plan import plan; from suite.registry import get; "
            "print(sorted(s.key for s in plan(get('vanishing_gradients'), 'smoke', seeds=2)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == str(keys)
