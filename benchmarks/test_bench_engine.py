"""pytest-benchmark timings of the training loop, grouped seeds and the store (not run by the unit tests):

    python -m pytest benchmarks/test_bench_engine.py --benchmark-only

The ratios that CI watches come from ``python -m suite bench`` / ``suite.bench``, measured side by side.
"""

import pytest
import torch

from benchmarks import speed
from suite import bench


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.mark.parametrize("k", [1, 4, 16])
def test_grouped_vs_one_at_a_time(benchmark, k):
    result = benchmark.pedantic(speed.bench_grouped, args=(k,), kwargs={"repeats": 1}, rounds=3)
    benchmark.extra_info["ratio"] = result.ratio


def test_loop_overhead(benchmark):
    result = benchmark.pedantic(speed.bench_loop_overhead, kwargs={"repeats": 1}, rounds=3)
    benchmark.extra_info["ratio"] = result.ratio


def test_store_aggregation(benchmark):
    result = benchmark.pedantic(bench.bench_store, kwargs={"n_records": 1000, "repeats": 1}, rounds=1)
    benchmark.extra_info["detail"] = result.detail
