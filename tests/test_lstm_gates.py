"""The recurrent claims end to end through real processes (smoke tiers), and the learning-rate search."""

import math

import pytest

from ablations.lstm_gates import QUICK_CELLS, trial_lr
from suite.registry import get
from suite.store import Store


def _smoke(cli, name, tmp_path):
    out = cli("run", name, "--tier", "smoke", "--no-progress", results=tmp_path)
    assert out.returncode == 0, out.stderr
    return out, list(Store(tmp_path).records(name))


def test_lstm_gates_smoke_end_to_end(cli, tmp_path):
    out, records = _smoke(cli, "lstm_gates", tmp_path)
    n = 2 * len(QUICK_CELLS) + 2 * 2 * 2  # two seeds of five variants on MNIST-1D, of vanilla and NFG on each adding
    assert f"{n} runs, {n} trained" in out.stdout and "claim lstm_gates" in out.stdout
    assert {r["status"] for r in records} == {"ok"} and {r["factors"]["cell"] for r in records} == set(QUICK_CELLS)
    for task in ("adding", "continual_adding"):
        assert {r["factors"]["cell"] for r in records if r["factors"]["task"] == task} == {"vanilla", "NFG"}
    for r in records:
        m = r["metrics"]
        assert {"test_acc", "test_loss", "val_acc", "lr", "n_params", "clipped_frac", "collapsed", "steps_run"} <= set(m)
        assert 0 <= m["test_acc"] <= 1 and 0 <= m["clipped_frac"] <= 1 and m["steps_run"] <= r["config"]["steps"]
        assert m["lr"] == pytest.approx(trial_lr(r["factors"]["trial"], r["config"]["lr_min"], r["config"]["lr_max"]))
        assert {"val_acc", "train_loss", "grad_norm", "clipped_frac"} <= set(r["curves"]["metric"])
    params = {r["factors"]["cell"]: r["metrics"]["n_params"] for r in records if r["factors"]["task"] == "mnist1d"}
    assert params["NFG"] == params["CIFG"] < params["NP"] < params["vanilla"] == params["NOAF"]


@pytest.mark.parametrize("name, cells", [("recurrent_lag", {"lstm", "gru", "rnn"}), ("forget_bias", None)])
def test_lag_ablations_smoke_end_to_end_with_gradient_probes(cli, tmp_path, name, cells):
    _, records = _smoke(cli, name, tmp_path)
    assert records and {r["status"] for r in records} == {"ok"}
    if cells:
        assert {r["factors"]["cell"] for r in records} == cells
    for r in records:
        assert {"test_acc", "steps_to_solve", "solved", "grad_decay_init", "grad_decay_final"} <= set(r["metrics"])
        probes = r["probes"]
        assert set(probes["stat"]) == {"grad_input_norm"} and set(probes["step"]) == {0, r["metrics"]["steps_run"]}
        assert min(probes["t"]) == 0 and all(v > 0 for v in probes["value"])


def test_every_variant_meets_the_same_learning_rates():
    lrs = [trial_lr(i, 1e-3, 1e-1) for i in range(8)]
    assert all(1e-3 <= lr <= 1e-1 for lr in lrs) and len(set(lrs)) == 8
    # Log-uniform and evenly spread: every prefix of k trials leaves no gap wider than about 2/k of the range.
    for k in (3, 5, 8):
        u = sorted(math.log(lr / 1e-3) / math.log(100) for lr in lrs[:k])
        assert max(b - a for a, b in zip([0.0, *u], [*u, 1.0])) < 2.2 / k


def test_declared_hypotheses_name_the_claimed_variants():
    abl = get("lstm_gates")
    compared = {(h.direction, h.a["cell"]) for h in abl.hypotheses}
    assert compared == {("less", "NFG"), ("less", "NOAF"), ("greater", "NOAF"), ("similar", "NP"), ("similar", "CIFG"),
                        ("similar", "NFG")}  # NFG where nothing must be forgotten: the adding problem
    assert {h.where["task"] for h in abl.hypotheses if h.a["cell"] == "NFG" and h.direction == "similar"} == {"adding"}
    assert all(h.b == {"cell": "vanilla"} for h in abl.hypotheses)
    assert {h.where["task"] for h in abl.hypotheses} == {"mnist1d", "adding", "continual_adding"}
