"""Speed of the hand-written LSTM against torch.nn.LSTM, forward and backward, on the same shapes.

    python -m pytest benchmarks/test_bench_recurrent.py      # pytest-benchmark tables
    python -m benchmarks.test_bench_recurrent                # the ratios, measured side by side (benchmarks.speed)

The unit tests (tests/) do not run these. Timings use one thread, as each worker of a run does.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from suite.lab.nn.recurrent import LSTM

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


if __name__ == "__main__":
    from benchmarks.speed import bench_lstm
    from suite.process import configure

    configure(1)
    for shape in [(50, 32, 64), *SHAPES]:
        for variant in ("NP", "vanilla"):
            r = bench_lstm(*shape, variant=variant)
            print(f"{r.detail}: {r.name} {1 / r.ratio:.2f}x nn.LSTM's time (spread {r.spread:.0%})")
