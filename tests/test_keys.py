"""A cached result is exactly what its key names: the code a run executes (its ablation and every module of code
it imports), the libraries that change numbers, and the content of its data. Real processes, real files, a real
dask scheduler and workers on 127.0.0.1."""

import dataclasses
import os
import textwrap

import pytest

from suite.execute import execute_group
from suite.plan import plan
from suite.registry import get
from suite.store import Store
from tests.conftest import ROOT
from tests.test_data import tiny_mnist

CLAIM = '''
from suite.declare import Greater, Tier
from suite.registry import ablation


@ablation(name="{name}", section="0", claim="a beats b", data=None, factors={{"arm": ["a", "b"]}},
          metrics={{"score": "score"}}, hypotheses=[Greater("score", {{"arm": "a"}}, {{"arm": "b"}})],
          tiers={{t: Tier(seeds=2) for t in ("smoke", "quick", "full")}})
def train(ctxs):
    from helper import SCALE  # a module of the user's own, found on PYTHONPATH

    return [{{"score": SCALE * (1.0 if c.cfg.arm == "a" else 0.0) + 0.1 * c.seed}} for c in ctxs]
'''


def _user_claim(tmp_path, name: str, scale: float):
    (tmp_path / "user").mkdir(exist_ok=True)
    (tmp_path / "lib").mkdir(exist_ok=True)
    (tmp_path / "user" / f"{name}.py").write_text(textwrap.dedent(CLAIM.format(name=name)))
    (tmp_path / "lib" / "helper.py").write_text(f"SCALE = {scale}\n")
    return {"SUITE_ABLATIONS": str(tmp_path / "user"), "PYTHONPATH_EXTRA": str(tmp_path / "lib")}


def _run(cli, name, env, results, *extra):
    env = dict(env)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.pop('PYTHONPATH_EXTRA')}"
    return cli("run", name, "--tier", "smoke", "--no-progress", "--jobs", "1", *extra, results=results, env=env)


def test_editing_a_helper_module_the_ablation_imports_retrains_it(cli, tmp_path):
    env = _user_claim(tmp_path, "helped_claim", 1.0)
    first = _run(cli, "helped_claim", env, tmp_path / "r")
    assert first.returncode == 0, first.stderr
    assert "4 trained" in first.stdout
    again = _run(cli, "helped_claim", env, tmp_path / "r")
    assert "0 trained, 4 from the store" in again.stdout
    (tmp_path / "lib" / "helper.py").write_text("SCALE = -1.0\n")  # the claim's verdict flips with it
    edited = _run(cli, "helped_claim", env, tmp_path / "r")
    assert edited.returncode == 0, edited.stderr
    assert "4 trained, 0 from the store" in edited.stdout
    assert "contradicted" in edited.stdout and "contradicted" not in first.stdout


def test_another_data_directory_is_other_data(cli, tmp_path):
    tiny_mnist(tmp_path / "A", seed=1)
    tiny_mnist(tmp_path / "B", seed=2)
    args = ["run", "vanishing_gradients", "--tier", "smoke", "--seeds", "1", "--no-progress", "data=mnist"]
    a = cli(*args, "--data-dir", str(tmp_path / "A"), results=tmp_path / "r")
    assert a.returncode == 0, a.stderr
    assert "6 trained" in a.stdout
    b = cli(*args, "--data-dir", str(tmp_path / "B"), results=tmp_path / "r")
    assert b.returncode == 0, b.stderr
    assert "6 runs, 6 trained, 0 from the store" in b.stdout
    assert "0 trained, 6 from the store" in cli(*args, "--data-dir", str(tmp_path / "A"), results=tmp_path / "r").stdout
    records = list(Store(tmp_path / "r").records("vanishing_gradients"))
    assert len(records) == 12 and len({r["data"] for r in records}) == 2


def test_a_run_whose_code_libraries_or_data_differ_from_its_key_stores_nothing(tmp_path):
    spec = plan(get("vanishing_gradients"), "smoke", seeds=1)[0]
    for changed, words in ((dataclasses.replace(spec, code_version="0" * 12), "is not the code planned"),
                           (dataclasses.replace(spec, versions={"torch": "0.1", "numpy": "1.0"}), "libraries here"),
                           (dataclasses.replace(spec, data="digits: scikit-learn 0.1"), "data here differ")):
        (summary,) = execute_group([changed], str(tmp_path))
        assert summary["status"] == "failed" and words in summary["error"] and summary["stored"] is False
        assert "\n" not in summary["error"]
    assert not list(Store(tmp_path).records("vanishing_gradients"))


distributed = pytest.importorskip("dask.distributed")


@pytest.fixture
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def test_a_dask_worker_that_imported_older_code_stores_nothing(cli, tmp_path, monkeypatch):
    env = _user_claim(tmp_path, "moving_claim", 1.0)
    monkeypatch.setenv("SUITE_ABLATIONS", env["SUITE_ABLATIONS"])  # the worker knows the user's ablations...
    monkeypatch.syspath_prepend(env["PYTHONPATH_EXTRA"])  # spawned workers start from this process's sys.path
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        dask = ["--backend", "dask", "--scheduler", c.scheduler_address]
        first = _run(cli, "moving_claim", env, tmp_path / "r", *dask)
        assert first.returncode == 0, first.stderr
        path = tmp_path / "user" / "moving_claim.py"
        path.write_text(path.read_text().replace("0.1 * c.seed", "0.2 * c.seed"))  # ...as they were at first
        stale = _run(cli, "moving_claim", env, tmp_path / "r", *dask)
    assert stale.returncode == 1 and "is not the code planned" in stale.stderr
    assert "nothing was stored" in stale.stderr and len(stale.stderr.strip().splitlines()) == 1
    assert len(list(Store(tmp_path / "r").records("moving_claim"))) == 4  # the first run's records only


def test_a_dask_worker_without_the_users_ablation_directories_says_so(cli, tmp_path, cluster):
    env = _user_claim(tmp_path, "far_claim", 1.0)
    out = _run(cli, "far_claim", env, tmp_path / "r", "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert out.returncode == 1 and "does not know ablation 'far_claim'" in out.stderr
    assert "SUITE_ABLATIONS" in out.stderr and len(out.stderr.strip().splitlines()) == 1
