"""Speed of the hand-written LSTM against torch.nn.LSTM, forward and backward, on the same shapes.

    python -m pytest benchmarks/test_bench_recurrent.py      # pytest-benchmark tables
    python -m benchmarks.test_bench_recurrent                # the ratio, measured side by side in one process

The unit tests (tests/) do not run these. Timings use one thread, as each worker of the runner does.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from torch import nn

from suite.nn.recurrent import LSTM

SHAPES = [(50, 64, 64), (50, 128, 64), (200, 128, 64)]  # (time, hidden, batch)
N_IN = 2


def _step(model: nn.Module, x: torch.Tensor) -> None:
    out = model(x)
    (out[0] if isinstance(out, tuple) else out).sum().backward()


def _models(hidden: int) -> dict[str, nn.Module]:
    return {"nn.LSTM": nn.LSTM(N_IN, hidden, batch_first=True), "custom": LSTM(N_IN, hidden, "NP"),
            "custom_peepholes": LSTM(N_IN, hidden, "vanilla")}


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.mark.parametrize("name", ["nn.LSTM", "custom", "custom_peepholes"])
@pytest.mark.parametrize("steps, hidden, batch", SHAPES)
def test_forward_backward(benchmark, name, steps, hidden, batch):
    torch.manual_seed(0)
    model = _models(hidden)[name]
    x = torch.randn(batch, steps, N_IN)
    benchmark.extra_info["shape"] = f"T={steps} H={hidden} B={batch}"
    benchmark(_step, model, x)


def ratio(steps: int, hidden: int, batch: int, repeats: int = 30) -> dict[str, float]:
    """Median time of the custom cell (no peepholes, and vanilla with them) over nn.LSTM's, timed in
    interleaved repeats so that a noisy machine slows all alike."""
    torch.manual_seed(0)
    models = _models(hidden)
    x = torch.randn(batch, steps, N_IN)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(3):
        for m in models.values():
            _step(m, x)
    for _ in range(repeats):
        for k, m in models.items():
            t0 = time.perf_counter()
            _step(m, x)
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times["nn.LSTM"])
    return {"nn.LSTM_ms": base * 1e3, **{f"{k}/nn.LSTM": statistics.median(v) / base
                                         for k, v in times.items() if k != "nn.LSTM"}}


if __name__ == "__main__":
    torch.set_num_threads(1)
    for shape in [(50, 32, 64), *SHAPES]:
        r = ratio(*shape)
        print("T={} H={} B={}: ".format(*shape) + ", ".join(f"{k} {v:.2f}" for k, v in r.items()))
