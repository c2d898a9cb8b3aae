"""Seeds trained together give each seed the numbers it gets alone."""

import dataclasses

import pytest
import torch

from suite import runner
from suite.batched import fit_batched
from suite.context import Config, RunContext
from suite.data import load
from suite.nn import MLP
from suite.nn.batched import BatchedMLP
from suite.registry import get
from suite.store import Store
from suite.train import Diverged, fit

CFG = {"data": "digits"}


def _ctxs(seeds):
    data = load("digits")
    as64 = dataclasses.replace(data, **{f: getattr(data, f).double() for f in ("x_train", "x_val", "x_test")})
    ctxs = [RunContext("toy", "smoke", Config(CFG), s, torch.device("cpu")) for s in seeds]
    for ctx in ctxs:
        ctx._data = as64
    return ctxs


def _model(ctx, activation="tanh"):
    ctx.reseed()
    return MLP(64, 16, 3, 10, activation).double()


def _curve(ctx):
    return [(c["epoch"], c["metric"], c["value"]) for c in ctx.curves]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"])
def test_batched_matches_sequential_in_float64(optimizer):
    lr = {"adam": 0.003, "rmsprop": 0.003, "adadelta": 1.0}.get(optimizer, 0.05)
    budget = dict(epochs=2, lr=lr, batch_size=32, optimizer=optimizer)
    alone = _ctxs([0, 1, 2])
    for ctx in alone:
        fit(ctx, _model(ctx), **budget)
    together = _ctxs([0, 1, 2])
    fit_batched(together, BatchedMLP([_model(ctx) for ctx in together]), **budget)
    for a, b in zip(alone, together):
        assert [c[:2] for c in _curve(a)] == [c[:2] for c in _curve(b)]
        assert [c[2] for c in _curve(b)] == pytest.approx([c[2] for c in _curve(a)], rel=1e-10, abs=1e-12)
        assert a.samples == b.samples


def test_one_seed_diverging_leaves_the_others_untouched():
    budget = dict(epochs=1, lr=0.05, batch_size=32)
    together = _ctxs([0, 1, 2])
    models = [_model(ctx, "relu") for ctx in together]
    with torch.no_grad():
        models[1].hidden[0].weight.mul_(1e300)  # overflows float64 in the first forward pass
    finals = fit_batched(together, BatchedMLP(models), **budget)
    assert finals[1] is None and together[1].diverged is not None
    alone = _ctxs([0, 2])
    for ctx, k in zip(alone, (0, 2)):
        final = fit(ctx, _model(ctx, "relu"), **budget)
        assert finals[k] == pytest.approx(final, rel=1e-10)
        assert together[k].diverged is None
    broken = _ctxs([1])[0]
    model = _model(broken, "relu")
    with torch.no_grad():
        model.hidden[0].weight.mul_(1e300)
    with pytest.raises(Diverged) as err:
        fit(broken, model, **budget)
    assert together[1].diverged[0] == err.value.step


def test_runner_stores_one_record_per_seed_from_a_batched_job(tmp_path):
    specs = runner.plan(get("vanishing_gradients"), "smoke", seeds=3, config={}, factors={"activation": ("relu",),
                                                                                      "depth": (3,)})
    (group,) = runner.groups(specs, batched=True)
    assert len(group) == 3 and len(runner.groups(specs, batched=False)) == 3
    summaries = runner.execute(group, str(tmp_path))
    assert [s["status"] for s in summaries] == ["ok"] * 3
    records = {r["seed"]: r for r in Store(tmp_path).records("vanishing_gradients")}
    assert sorted(records) == [0, 1, 2] and all(r["timing"]["batched_seeds"] == 3 for r in records.values())
    (alone,) = runner.execute([specs[1]], str(tmp_path / "alone"))
    (single,) = Store(tmp_path / "alone").records("vanishing_gradients")
    for metric, value in single["metrics"].items():
        assert records[1]["metrics"][metric] == pytest.approx(value, rel=1e-4, abs=1e-6)  # float32 rounding


def test_trials_of_one_variant_form_one_job_and_keep_their_own_learning_rates(tmp_path):
    """lstm_gates batches over its random-search trials: one job per cell variant, one record per (trial, seed)."""
    abl = get("lstm_gates")
    specs = runner.plan(abl, "smoke", seeds=2, config={}, factors={"cell": ("vanilla", "NFG"), "trial": (0, 1)})
    jobs = runner.groups(specs, batched=True)
    assert sorted(len(j) for j in jobs) == [4, 4]
    assert all(len({s.config["cell"] for s in j}) == 1 for j in jobs)
    vanilla = next(j for j in jobs if j[0].config["cell"] == "vanilla")
    runner.execute(vanilla, str(tmp_path))
    records = {(r["factors"]["trial"], r["seed"]): r for r in Store(tmp_path).records("lstm_gates")}
    assert len(records) == 4 and all(r["timing"]["batched_seeds"] == 4 for r in records.values())
    lr = {t: records[t, 0]["metrics"]["lr"] for t in (0, 1)}
    assert lr[0] != lr[1] and records[1, 1]["metrics"]["lr"] == lr[1]
    one = next(s for s in vanilla if s.config["trial"] == 1 and s.seed == 1)
    runner.execute([one], str(tmp_path / "alone"))
    (single,) = Store(tmp_path / "alone").records("lstm_gates")
    for metric in ("test_loss", "val_acc", "grad_norm_median", "lr"):
        assert records[1, 1]["metrics"][metric] == pytest.approx(single["metrics"][metric], rel=1e-4)  # float32


def test_optimizers_seeds_trained_together_match_their_runs_alone(tmp_path):
    """The optimizers ablation's batched path, effective-step probe included, against each seed run alone."""
    specs = runner.plan(get("optimizers"), "smoke", seeds=2, config={}, factors={"optimizer": ("adagrad",),
                                                                                  "lr": (0.01,)})
    (group,) = runner.groups(specs, batched=True)
    runner.execute(group, str(tmp_path / "together"))
    for spec in group:
        runner.execute([spec], str(tmp_path / "alone"))
    together = {r["seed"]: r for r in Store(tmp_path / "together").records("optimizers")}
    alone = {r["seed"]: r for r in Store(tmp_path / "alone").records("optimizers")}
    assert sorted(together) == [0, 1] and together[0]["timing"]["batched_seeds"] == 2
    for seed, record in alone.items():
        assert together[seed]["status"] == record["status"] == "ok"
        for metric, value in record["metrics"].items():
            assert together[seed]["metrics"][metric] == pytest.approx(value, rel=1e-4, abs=1e-6), metric  # float32
        assert together[seed]["curves"]["value"] == pytest.approx(record["curves"]["value"], rel=1e-4, abs=1e-6)
