"""Batch-norm placement in the MLP, the training loop's small-batch handling, and the batchnorm_placement ablation."""

import pytest
import torch

from ablations.batchnorm_placement import _last_input
from suite.context import Config, RunContext
from suite.datasets import load
from suite.lab.data import dataset
from suite.lab.loop import fit
from suite.lab.nn.mlp import MLP
from suite.store import Store

X = torch.randn(256, 12) * 3 + 1  # neither centred nor scaled, so normalization shows


def _normalized(t: torch.Tensor) -> bool:
    return bool(t.mean(0).abs().max() < 1e-4 and (t.var(0, unbiased=False) - 1).abs().max() < 1e-3)


def _next_layer_input(model: MLP, x: torch.Tensor) -> torch.Tensor:
    """What the second hidden layer receives (the first layer's output after any normalization)."""
    seen = []
    handle = model.hidden[1].register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    model(x, capture=True)
    handle.remove()
    return seen[0].detach()


@pytest.mark.parametrize("bn", ["none", "before", "after"])
def test_batch_norm_sits_where_declared(bn):
    torch.manual_seed(0)
    model = MLP(12, 16, 2, 3, "relu", bn=bn).train()
    h = _next_layer_input(model, X)
    pre = model.pre[0].detach()  # the first layer's nonlinearity input
    assert _normalized(pre) == (bn == "before")
    assert _normalized(h) == (bn == "after")
    assert (model.norms is None) == (bn == "none")
    if bn == "after":  # the nonlinearity output is recorded before normalization
        assert torch.equal(model.post[0], torch.relu(pre))


def test_default_mlp_is_unchanged_by_the_batch_norm_option():
    torch.manual_seed(0)
    plain = MLP(12, 16, 3, 3, "tanh", "xavier")
    torch.manual_seed(0)
    with_bn = MLP(12, 16, 3, 3, "tanh", "xavier", bn="before")
    assert not any("norms" in k for k in plain.state_dict())
    for a, b in zip(plain.hidden, with_bn.hidden):  # BN draws no random numbers: same weights
        assert torch.equal(a.weight, b.weight)
    with pytest.raises(ValueError, match="batch-norm placement"):
        MLP(12, 16, 1, 3, bn="middle")


def test_probe_of_the_last_input_leaves_running_statistics_alone():
    torch.manual_seed(0)
    model = MLP(12, 16, 2, 3, "sigmoid", bn="before").eval()
    buffers = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    z = _last_input(model, X)
    assert z.shape == (256, 16) and _normalized(z)  # batch statistics, as in training
    assert all(torch.equal(buffers[k], model.state_dict()[k]) for k in buffers)
    assert not model.training and model.pre == []


def test_fit_drops_the_last_small_batch_when_asked():
    ctx = RunContext("toy", "smoke", Config({"data": "digits"}), 0, torch.device("cpu"))
    data = dataset("digits")
    n = len(data.x_train)
    assert n % 4 == 1  # the last batch of 4 would hold one example, which BN cannot normalize
    steps = []
    fit([ctx], MLP(64, 16, 1, 10, "relu", bn="before"), data, epochs=1, lr=0.05, batch_size=4, drop_last=True,
        on_step=lambda step, alive: steps.append(step))
    assert steps == list(range(1, n // 4 + 1)) and ctx.samples == 4 * (n // 4)


def _records(results):
    return list(Store(results).records("batchnorm_placement"))


def _budget(rec) -> int:
    """Optimizer steps in the run's budget: whole batches only."""
    return rec["config"]["epochs"] * (len(load(rec["config"]["data"]).y_train) // rec["config"]["batch_size"])


def test_smoke_tier_end_to_end(cli, tmp_path):
    out = cli("run", "batchnorm_placement", "--tier", "smoke", "--no-progress", results=tmp_path)
    assert out.returncode == 0, out.stderr
    records = _records(tmp_path)
    assert len(records) == 6 and {r["status"] for r in records} == {"ok"}
    assert {r["factors"]["bn"] for r in records} == {"none", "before", "after"}
    for rec in records:
        m = rec["metrics"]
        assert {"steps_to_target", "reached_target", "diverged", "test_acc", "input_drift"} <= set(m)
        assert m["diverged"] == 0 and 1 <= m["steps_to_target"] <= _budget(rec)
        assert {"p15", "p50", "p85", "unit0_p50"} <= set(rec["probes"]["stat"])
        assert set(rec["probes"]["epoch"]) == {0, 1}


def test_a_diverged_run_keeps_its_progress_metrics(cli, tmp_path):
    out = cli("run", "batchnorm_placement", "--tier", "smoke", "--no-progress", "--seeds", "1", "bn=none", "lr=50",
              results=tmp_path)
    assert out.returncode == 0, out.stderr
    (rec,) = _records(tmp_path)
    assert rec["status"] == "diverged" and rec["diverged_step"] >= 1
    m = rec["metrics"]
    assert m["diverged"] == 1 and m["reached_target"] == 0 and m["steps_to_target"] == _budget(rec)
    assert "test_acc" not in m
