"""Mechanics of the MLP, its inits, the probes and the training loop."""

import math

import pytest
import torch

from suite.context import Config, Diverged, RunContext
from suite.lab.data import dataset
from suite.lab.loop import fit
from suite.lab.nn.mlp import MLP
from suite.lab.probes import layer_stats, ratio_log10


@pytest.mark.parametrize("init, std", [("naive", 0.01), ("large", 1.0), ("xavier", math.sqrt(2 / 256)),
                                       ("he", math.sqrt(2 / 128))])
def test_init_scales(init, std):
    torch.manual_seed(0)
    model = MLP(128, 128, 3, 10, "relu", init)
    w = model.hidden[1].weight
    assert abs(w.std().item() - std) / std < 0.05 and model.hidden[1].bias.abs().max() == 0


def test_usual_init_follows_the_activation():
    torch.manual_seed(0)
    relu = MLP(128, 128, 2, 10, "relu", "usual").hidden[1].weight.std().item()
    torch.manual_seed(0)
    tanh = MLP(128, 128, 2, 10, "tanh", "usual").hidden[1].weight.std().item()
    assert relu / tanh == pytest.approx(math.sqrt(2), rel=0.05)  # He vs Xavier at equal fan-in and fan-out


def test_probe_gradients_match_autograd_and_leave_no_gradient():
    torch.manual_seed(0)
    model = MLP(8, 16, 4, 3, "sigmoid")
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    rows = layer_stats(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, [layer.weight for layer in model.hidden])
    got = {r["layer"]: r["value"] for r in rows if r["stat"] == "grad_weight_norm"}
    assert [got[i] for i in range(1, 5)] == pytest.approx([g.norm().item() for g in grads], rel=1e-5)
    sat = [r["value"] for r in rows if r["stat"] == "saturated_frac"]
    assert len(sat) == 4 and all(0 <= v <= 1 for v in sat)
    ratio = ratio_log10(rows, "grad_weight_norm")
    assert ratio == pytest.approx(math.log10(got[1] / got[4]))


def test_dead_units_are_counted():
    model = MLP(4, 8, 2, 2, "relu")
    with torch.no_grad():
        model.hidden[0].bias[:3] = -1e6  # three units that never fire
    rows = layer_stats(model, torch.randn(64, 4), torch.randint(0, 2, (64,)))
    dead = {r["layer"]: r["value"] for r in rows if r["stat"] == "dead_frac"}
    assert dead[1] == pytest.approx(3 / 8)


def _ctx():
    return RunContext("toy", "smoke", Config({"data": "digits"}), 0, torch.device("cpu"))


def test_fit_logs_every_epoch_and_learns():
    ctx = _ctx()
    model = MLP(64, 32, 1, 10, "relu")
    (final,) = fit([ctx], model, dataset("digits"), epochs=3, lr=0.1, batch_size=32)
    epochs = sorted({c["epoch"] for c in ctx.curves})
    assert epochs == [0, 1, 2, 3]
    acc = {c["epoch"]: c["value"] for c in ctx.curves if c["metric"] == "test_acc"}
    assert final["test_acc"] == acc[3] and acc[3] > acc[0] + 0.3
    assert ctx.samples == 3 * len(dataset("digits").x_train)


def test_fit_returns_diverged_with_the_step():
    ctx = _ctx()
    (out,) = fit([ctx], MLP(64, 64, 10, 10, "relu", "large"), dataset("digits"), epochs=2, lr=10.0, batch_size=32)
    assert isinstance(out, Diverged) and out.step >= 1 and f"at step {out.step}" in out.reason
