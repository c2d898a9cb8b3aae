"""Members trained as one group get the numbers they get alone; the executor groups the runs an ablation trains
together and stores one record per run."""

import pytest
import torch

from suite.context import Config, Diverged, RunContext
from suite.execute import execute_group, groups
from suite.lab.data import dataset
from suite.lab.loop import fit
from suite.lab.nn.grouped import GroupedMLP
from suite.lab.nn.mlp import MLP
from suite.plan import plan
from suite.registry import get
from suite.store import Store

CFG = {"data": "digits"}


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _ctxs(seeds):
    return [RunContext("toy", "smoke", Config(CFG), s, torch.device("cpu")) for s in seeds]


def _model(ctx, activation="tanh", bn="none"):
    ctx.reseed()
    return MLP(64, 16, 3, 10, activation, bn=bn)


def _curve(ctx):
    return [(c["epoch"], c["metric"], c["value"]) for c in ctx.curves]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"])
def test_grouped_matches_one_at_a_time_in_float64(float64, optimizer):
    lr = {"adam": 0.003, "rmsprop": 0.003, "adadelta": 1.0}.get(optimizer, 0.05)
    data = dataset("digits")
    assert data.x_train.dtype == torch.float64
    budget = dict(epochs=2, lr=lr, batch_size=32, optimizer=optimizer)
    alone = _ctxs([0, 1, 2])
    for ctx in alone:
        fit([ctx], _model(ctx), data, **budget)
    together = _ctxs([0, 1, 2])
    fit(together, GroupedMLP([_model(ctx) for ctx in together]), data, **budget)
    for a, b in zip(alone, together):
        assert [c[:2] for c in _curve(a)] == [c[:2] for c in _curve(b)]
        assert [c[2] for c in _curve(b)] == pytest.approx([c[2] for c in _curve(a)], rel=1e-10, abs=1e-12)
        assert a.samples == b.samples


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
def test_members_at_their_own_rates_match_their_runs_alone(float64, optimizer):
    data = dataset("digits")
    rates = [0.01, 0.05, 0.2]
    alone = _ctxs([0, 1, 2])
    for ctx, lr in zip(alone, rates):
        fit([ctx], _model(ctx), data, epochs=2, lr=lr, batch_size=32, optimizer=optimizer)
    together = _ctxs([0, 1, 2])
    fit(together, GroupedMLP([_model(ctx) for ctx in together]), data, epochs=2, lr=rates, batch_size=32,
        optimizer=optimizer)
    for a, b in zip(alone, together):
        assert [c[2] for c in _curve(b)] == pytest.approx([c[2] for c in _curve(a)], rel=1e-10, abs=1e-12)
    with pytest.raises(ValueError, match="one rate per member needs sgd"):
        fit(_ctxs([0, 1]), GroupedMLP([_model(c) for c in _ctxs([0, 1])]), data, epochs=1, lr=[0.1, 0.2],
            batch_size=32, optimizer="adam")


@pytest.mark.parametrize("bn", ["before", "after"])
def test_grouped_batch_norm_matches_one_at_a_time_in_float64(float64, bn):
    data = dataset("digits")
    budget = dict(epochs=2, batch_size=4, drop_last=True)
    rates = [0.01, 0.004]  # each member at its own rate; higher rates amplify rounding chaotically
    alone = _ctxs([0, 1])
    singles = [_model(ctx, "sigmoid", bn) for ctx in alone]
    for ctx, model, lr in zip(alone, singles, rates):
        fit([ctx], model, data, lr=lr, **budget)
    together = _ctxs([0, 1])
    grouped = GroupedMLP([_model(ctx, "sigmoid", bn) for ctx in together])
    fit(together, grouped, data, lr=rates, **budget)
    for a, b in zip(alone, together):  # the curves are evaluated in eval mode: running averages included
        assert [c[2] for c in _curve(b)] == pytest.approx([c[2] for c in _curve(a)], rel=1e-8, abs=1e-10)
    for k, single in enumerate(singles):  # a member read back carries its own statistics
        for name, value in grouped.member(k).state_dict().items():
            if name.endswith("num_batches_tracked"):  # unused: the momentum is fixed
                continue
            assert value.double() == pytest.approx(single.state_dict()[name].double(), abs=1e-8), name


def test_one_member_diverging_leaves_the_others_untouched(float64):
    data = dataset("digits")
    budget = dict(epochs=1, lr=0.05, batch_size=32)
    together = _ctxs([0, 1, 2])
    models = [_model(ctx, "relu") for ctx in together]
    with torch.no_grad():
        models[1].hidden[0].weight.mul_(1e300)  # overflows float64 in the first forward pass
    outcomes = fit(together, GroupedMLP(models), data, **budget)
    assert isinstance(outcomes[1], Diverged)
    assert outcomes[1].reason == f"loss became nan at step {outcomes[1].step}"
    alone = _ctxs([0, 2])
    for ctx, k in zip(alone, (0, 2)):
        (final,) = fit([ctx], _model(ctx, "relu"), data, **budget)
        assert outcomes[k] == pytest.approx(final, rel=1e-10)
    (broken,) = _ctxs([1])
    model = _model(broken, "relu")
    with torch.no_grad():
        model.hidden[0].weight.mul_(1e300)
    assert fit([broken], model, data, **budget) == [outcomes[1]]  # one at a time: the same outcome, not an error


def test_updates_to_a_loss_target_are_read_at_epoch_ends_and_censored_at_the_budget():
    data = dataset("digits")
    steps = -(-len(data.x_train) // 32)  # updates per epoch
    ctxs = _ctxs([0, 1, 2])
    models = [_model(ctx, "relu") for ctx in ctxs]
    with torch.no_grad():
        models[2].hidden[0].weight.mul_(1e30)  # diverges at once
    fit(ctxs, GroupedMLP(models), data, epochs=4, lr=0.1, batch_size=32, loss_target=0.5)
    first = min(c["epoch"] for c in ctxs[0].curves if c["metric"] == "train_loss" and 0 < c["epoch"]
                and c["value"] <= 0.5)
    assert ctxs[0].metrics["reached_loss"] == 1.0 and ctxs[0].metrics["updates_to_loss"] == first * steps
    # A target below what four epochs reach is censored at the budget, and so is a diverged member.
    again = _ctxs([1])
    fit(again, _model(again[0], "relu"), data, epochs=2, lr=0.1, batch_size=32, loss_target=1e-9)
    assert again[0].metrics == {"updates_to_loss": 2 * steps, "reached_loss": 0.0}
    assert ctxs[2].metrics == {"updates_to_loss": 4 * steps, "reached_loss": 0.0}


def test_evaluating_every_few_epochs_logs_those_and_the_last():
    data = dataset("digits")
    (ctx,) = _ctxs([0])
    seen = []
    (final,) = fit([ctx], _model(ctx), data, epochs=4, lr=0.1, batch_size=32, eval_every=3,
                   on_epoch=lambda epoch, step, alive: seen.append(epoch))
    assert seen == [0, 3, 4] == sorted({c["epoch"] for c in ctx.curves})
    (again,) = _ctxs([0])
    assert fit([again], _model(again), data, epochs=4, lr=0.1, batch_size=32) == [final]


def test_a_loop_given_the_wrong_number_of_contexts_says_so():
    ctxs = _ctxs([0, 1])
    with pytest.raises(ValueError, match="2 run contexts for a model of 3 member"):
        fit(ctxs, GroupedMLP([_model(c) for c in _ctxs([0, 1, 2])]), dataset("digits"), epochs=1, lr=0.1,
            batch_size=32)


def test_the_executor_stores_one_record_per_run_of_a_group(tmp_path):
    specs = plan(get("vanishing_gradients"), "smoke", seeds=3, config={}, factors={"activation": ("relu",),
                                                                                 "depth": (3,)})
    (group,) = groups(specs, grouped=True)
    assert len(group) == 3 and len(groups(specs, grouped=False)) == 3
    summaries = execute_group(group, str(tmp_path))
    assert [s["status"] for s in summaries] == ["ok"] * 3
    records = {r["seed"]: r for r in Store(tmp_path).records("vanishing_gradients")}
    assert sorted(records) == [0, 1, 2] and all(r["timing"]["group_size"] == 3 for r in records.values())


def test_ablations_that_group_over_nothing_run_one_at_a_time():
    specs = plan(get("optimizers_newton"), "smoke", seeds=2)
    assert get("optimizers_newton").group_over == ()
    assert all(len(g) == 1 for g in groups(specs, grouped=True))


def test_trials_of_one_variant_form_one_group_and_keep_their_own_learning_rates(tmp_path):
    """lstm_gates groups over seeds and random-search trials: one group per cell variant, one record per
    (trial, seed)."""
    abl = get("lstm_gates")
    specs = plan(abl, "smoke", seeds=2, config={},
                 factors={"task": ("adding",), "cell": ("vanilla", "NFG"), "trial": (0, 1)})
    jobs = groups(specs, grouped=True)
    assert sorted(len(j) for j in jobs) == [4, 4]
    assert all(len({s.config["cell"] for s in j}) == 1 for j in jobs)
    vanilla = next(j for j in jobs if j[0].config["cell"] == "vanilla")
    execute_group(vanilla, str(tmp_path))
    records = {(r["factors"]["trial"], r["seed"]): r for r in Store(tmp_path).records("lstm_gates")}
    assert len(records) == 4 and all(r["timing"]["group_size"] == 4 for r in records.values())
    lr = {t: records[t, 0]["metrics"]["lr"] for t in (0, 1)}
    assert lr[0] != lr[1] and records[1, 1]["metrics"]["lr"] == lr[1]
