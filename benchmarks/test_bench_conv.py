"""pytest-benchmark timings of the small CNNs: the training loop on a ConvNet (digits, MNIST-1D) and the memory
layout of a CNN step (not run by the unit tests):

    python -m pytest benchmarks/test_bench_conv.py --benchmark-only

The ratios that CI watches come from ``python -m suite bench`` / ``suite.bench``, measured side by side.
"""

import pytest

from benchmarks import conv


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.mark.parametrize("name", list(conv.CNNS))
def test_cnn_loop_overhead(benchmark, name):
    result = benchmark.pedantic(conv.bench_cnn_loop, args=(name,), kwargs={"repeats": 1}, rounds=3)
    benchmark.extra_info["ratio"] = result.ratio


@pytest.mark.parametrize("measure", [conv.bench_cnn, conv.bench_cnn_digits], ids=["28x28", "digits"])
def test_cnn_layout(benchmark, measure):
    result = benchmark.pedantic(measure, kwargs={"repeats": 1}, rounds=3)
    benchmark.extra_info["ratio"] = result.ratio
    benchmark.extra_info["detail"] = result.detail
