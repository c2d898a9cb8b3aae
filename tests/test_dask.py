"""The dask backend with a real scheduler and workers started here, on loopback only."""

import socket

import pytest

distributed = pytest.importorskip("dask.distributed")

from suite import execute  # noqa: E402
from suite.plan import plan  # noqa: E402
from suite.registry import get  # noqa: E402
from suite.store import Store  # noqa: E402


def _listening_hosts(cluster) -> set[str]:
    addresses = [cluster.scheduler_address, *(w.address for w in cluster.workers.values())]
    return {a.split("://")[1].rsplit(":", 1)[0] for a in addresses}


def test_local_cluster_is_loopback_only_and_results_land_in_the_store(tmp_path):
    specs = plan(get("vanishing_gradients"), "smoke", seeds=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert _listening_hosts(cluster) == {"127.0.0.1"}
        summaries = execute.run(specs, Store(tmp_path), backend="dask", scheduler=cluster.scheduler_address,
                               progress_bar=False)
    assert sorted(s["key"] for s in summaries) == sorted(s.key for s in specs)
    assert {r["status"] for r in Store(tmp_path).records("vanishing_gradients")} == {"ok"}


def test_cli_dask_without_scheduler_starts_its_own_loopback_cluster(cli, tmp_path):
    out = cli("run", "vanishing_gradients", "--tier", "smoke", "--seeds", "1", "--backend", "dask", "--no-progress",
              results=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "6 trained" in out.stdout


def test_unreachable_scheduler_is_one_line(cli, tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = cli("run", "vanishing_gradients", "--tier", "smoke", "--seeds", "1", "--backend", "dask",
              "--scheduler", f"tcp://127.0.0.1:{port}", "--no-progress", results=tmp_path, timeout=120)
    assert out.returncode == 2 and "cannot reach the dask scheduler" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
