"""The store: round trip, atomic writes under SIGKILL, unreadable records moved aside, tidy frames."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from suite import tables
from suite.store import SCHEMA_VERSION, Store
from tests.conftest import ROOT


def record(key="k1", seed=0, status="ok", **extra):
    return {"key": key, "ablation": "toy", "tier": "smoke", "seed": seed, "device": "cpu", "status": status,
            "code_version": "v", "config": {"arm": "a"}, "factors": {"arm": "a"},
            "metrics": {"acc": 0.5, "ratio": -math.inf}, "curves": {"epoch": [0], "metric": ["acc"], "value": [math.nan]},
            "probes": {"step": [0], "layer": [1], "stat": ["g"], "value": [1.0]}, "timing": {"wall_s": 1.0}, **extra}


def test_round_trip_keeps_non_finite_values(tmp_path):
    store = Store(tmp_path)
    path = store.write(record())
    assert path == tmp_path / "toy" / "k1.json" and store.has("toy", "k1")
    (back,) = store.records("toy")
    assert back["schema"] == SCHEMA_VERSION
    assert back["metrics"]["ratio"] == -math.inf and math.isnan(back["curves"]["value"][0])
    strict = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not strict JSON"))
    assert strict["metrics"]["ratio"] == {"$float": "-inf"} and strict["curves"]["value"] == [{"$float": "nan"}]
    # A record written before (NaN and Infinity as JSON's common extension) still loads.
    old = json.dumps(record("k0") | {"schema": 1})
    assert "-Infinity" in old and "NaN" in old
    (tmp_path / "toy" / "k0.json").write_text(old)
    (back,) = store.records("toy", keys=["k0"])
    assert back["metrics"]["ratio"] == -math.inf and math.isnan(back["curves"]["value"][0])
    assert [r["key"] for r in store.records("toy", keys=["k1", "absent"])] == ["k1"]


def test_unreadable_or_unknown_schema_records_are_moved_aside_not_deleted(tmp_path, caplog):
    store = Store(tmp_path)
    store.write(record("good"))
    (tmp_path / "toy" / "torn.json").write_text('{"key": "torn", "sche')
    (tmp_path / "toy" / "future.json").write_text(json.dumps({"schema": 99, "key": "future"}))
    keys = [r["key"] for r in store.records("toy")]
    (tmp_path / "toy" / "renamed.json").write_text((tmp_path / "toy" / "good.json").read_text())
    (tmp_path / "toy" / "partial.json").write_text(json.dumps({"schema": SCHEMA_VERSION, "key": "partial"}))
    keys = [r["key"] for r in store.records("toy")]
    assert keys == ["good"]
    moved = sorted(p.name.split(".")[0] for p in (tmp_path / "toy" / "corrupt").iterdir())
    assert moved == ["future", "partial", "renamed", "torn"]
    assert sum("moved to" in m for m in caplog.messages) == 4
    assert list(store.records("toy")) and sum("moved to" in m for m in caplog.messages) == 4  # reported once


def test_unwritable_results_directory_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from suite.errors import SuiteError

    with pytest.raises(SuiteError, match="not writable"):
        Store(blocker / "results").ensure_writable()


WRITER = """
import sys
from suite.store import Store
store = Store(sys.argv[1])
curve = [{"epoch": i, "metric": "m", "value": i * 0.5} for i in range(20000)]
i = 0
while True:
    store.write({"key": f"r{i % 7}", "ablation": "toy", "status": "ok", "seed": 0, "device": "cpu",
                 "factors": {}, "metrics": {}, "curves": curve, "n": i})
    i += 1
"""


def test_killed_writer_never_leaves_a_partial_record(tmp_path):
    """SIGKILL a process that rewrites large records in a loop: every record on disk parses whole."""
    for trial in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.time() + 20
        while not list((tmp_path / "toy").glob("*.json")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.05 * (trial + 1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        paths = list((tmp_path / "toy").glob("*.json"))
        assert paths
        for path in paths:
            assert len(json.loads(path.read_text())["curves"]) == 20000
    records = list(Store(tmp_path).records("toy"))
    assert len(records) == len(list((tmp_path / "toy").glob("*.json")))
    assert not (tmp_path / "toy" / "corrupt").exists()


def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path):
    store = Store(tmp_path)
    assert store.claim("toy", "k") and not store.claim("toy", "k") and store.holder("toy", "k").pid == os.getpid()
    store.release("toy", "k")
    assert store.holder("toy", "k") is None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (tmp_path / "toy" / "k.lock").write_text(f"{socket.gethostname()} {dead.stdout.strip()}")  # an earlier format
    assert store.holder("toy", "k") is None and store.claim("toy", "k")


def test_disk_full_is_one_error_and_leaves_no_partial_file(tmp_path):
    """A file-size limit makes the write fail for real (Python ignores SIGXFSZ, so write raises EFBIG)."""
    script = (
        "import resource, sys\n"
        "from suite.store import Store\n"
        "from suite.errors import SuiteError\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "rec = {'key': 'big', 'ablation': 'toy', 'status': 'ok', 'seed': 0, 'device': 'cpu', 'factors': {},\n"
        "       'metrics': {}, 'pad': 'x' * 100000}\n"
        "try:\n    Store(sys.argv[1]).write(rec)\nexcept SuiteError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "could not write record" in out.stdout and "File too large" in out.stdout, out.stderr
    assert list((tmp_path / "toy").iterdir()) == []


def test_tidy_frames(tmp_path):
    recs = [record("a", seed=0), record("b", seed=1, status="diverged", metrics={})]
    m = tables.metrics(recs, declared=["acc", "ratio"])
    assert set(m.columns) >= {"key", "seed", "device", "arm", "metric", "value"}
    assert len(m) == 4  # two metrics per run; the diverged run's are NaN, not dropped
    assert m[m.key == "b"]["value"].isna().all()
    c = tables.curves(recs)
    assert list(c.columns[-3:]) == ["epoch", "metric", "value"] and len(c) == 2 and set(c["key"]) == {"a", "b"}
    assert set(tables.probes(recs)["stat"]) == {"g"}
    assert list(tables.runs(recs)["status"]) == ["ok", "diverged"]


def test_run_keys_keep_their_formula_and_records_of_the_previous_layout_count_as_done(tmp_path):
    """A key computed the way every earlier version computed it (this value was computed before the stages were
    split into modules), so a run whose code did not change keeps its key; a record of the previous layout (its
    timing says batched_seeds) loads and counts as done."""
    from suite.execute import pending
    from suite.plan import plan, run_key
    from suite.registry import get

    config = {"lr": 0.05, "depth": 10, "activation": "relu", "data": "digits"}
    assert run_key("vanishing_gradients", config, 3, "cpu", "quick", "0123456789ab") == "5457d042f7793315bcbc"
    spec = plan(get("vanishing_gradients"), "smoke", seeds=1)[0]
    old = record(spec.key, timing={"wall_s": 1.0, "train_s": 0.5, "samples_per_s": 9.0, "batched_seeds": 2})
    Store(tmp_path).write(old | {"ablation": spec.ablation})
    assert pending([spec], Store(tmp_path)) == []
