"""Recurrent cells, sequence tasks and the sequence training loop: the mechanics the gate-removal claims rest on."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from suite.context import Config, Diverged, RunContext
from suite.lab.nn.recurrent import GRU, LSTM, RNN, VARIANTS, SequenceModel
from suite.lab.data import dataset
from suite.lab.probes import decay_log10, input_gradient_rows
from suite.lab.sequences import (ADDING_TOLERANCE, adding_problem, continual_adding, evaluate, fit_sequences,
                                  make_task, temporal_order)

H, N_IN, BATCH, STEPS = 6, 3, 4, 9


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def _x(dtype=torch.float64, scale=1.0):
    torch.manual_seed(1)
    return (torch.randn(BATCH, STEPS, N_IN, dtype=dtype) * scale).requires_grad_(True)


def _outputs_and_grads(model, x, **kw):
    """The output and the gradients of a fixed random projection of it, w.r.t. the input and every parameter."""
    y = model(x, **kw)
    w = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2))
    grads = torch.autograd.grad((y * w).sum(), [x, *model.parameters()])
    return [y.detach(), *grads]


@pytest.mark.parametrize("cell, variant", [("lstm", v) for v in VARIANTS] + [("gru", "vanilla"), ("rnn", "vanilla")])
def test_grouped_models_match_each_model_alone(cell, variant):
    """K models run as one (stacked weights, batched matmuls) give each model's own outputs and gradients, with
    each model reading its own input and its own last step."""
    torch.manual_seed(3)
    models = [SequenceModel(cell, N_IN, H, 2, variant).double() for _ in range(3)]
    xs = torch.randn(3, BATCH, STEPS, N_IN, dtype=torch.float64)
    last = torch.tensor([STEPS - 1, 4, 6])
    out = SequenceModel.forward_grouped(models, xs, last)
    w = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(4))
    params = [p for m in models for p in m.parameters()]
    stacked = torch.autograd.grad((out * w).sum(), params)
    for k, m in enumerate(models):
        alone = m(xs[k, :, :last[k] + 1])
        torch.testing.assert_close(out[k], alone, rtol=0, atol=1e-12)
        grads = torch.autograd.grad((alone * w[k]).sum(), list(m.parameters()))
        mine = stacked[k * len(grads):(k + 1) * len(grads)]
        for g_alone, g_stacked in zip(grads, mine):
            torch.testing.assert_close(g_stacked, g_alone, rtol=0, atol=1e-12)


def _copy_torch_lstm(ref: nn.LSTM, model: LSTM) -> None:
    """nn.LSTM keeps gates as i, f, g, o; ours as i, f, o, then the block input z (= g); one bias, not two."""
    order = [0, 1, 3, 2]
    with torch.no_grad():
        for ours, theirs in ((model.weight_in, ref.weight_ih_l0), (model.weight_rec, ref.weight_hh_l0)):
            ours.copy_(torch.cat([theirs.chunk(4)[k] for k in order]))
        model.bias.copy_(torch.cat([(ref.bias_ih_l0 + ref.bias_hh_l0).chunk(4)[k] for k in order]))


@pytest.mark.parametrize("fused", [True, False])
def test_vanilla_without_peepholes_matches_torch_lstm(fused):
    torch.manual_seed(0)
    ref, model = nn.LSTM(N_IN, H, batch_first=True).double(), LSTM(N_IN, H, "NP").double()
    _copy_torch_lstm(ref, model)
    x = _x()
    ours = _outputs_and_grads(model, x, fused=fused)
    y = ref(x)[0]
    w = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2))
    dx, dw_ih, dw_hh, db_ih, db_hh = torch.autograd.grad((y * w).sum(), [x, *ref.parameters()])
    order = [0, 1, 3, 2]
    reorder = lambda t: torch.cat([t.chunk(4)[k] for k in order])  # noqa: E731
    for got, want in zip(ours, [y.detach(), dx, reorder(dw_ih), reorder(dw_hh), reorder(db_ih)]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(reorder(db_ih), reorder(db_hh))  # one bias: both of torch's get its gradient


def test_float32_cell_matches_torch_lstm_too():
    torch.manual_seed(0)
    ref, model = nn.LSTM(N_IN, 32, batch_first=True), LSTM(N_IN, 32, "NP")
    _copy_torch_lstm(ref, model)
    x = _x(torch.float32).detach()
    torch.testing.assert_close(model(x), ref(x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_backward_matches_the_equations_under_autograd(variant):
    """The hand-written backpropagation through time against autograd on the equations, for every variant."""
    torch.manual_seed(0)
    model = LSTM(N_IN, H, variant).double()
    x = _x(scale=2.0)  # large enough that gates leave their linear range
    for fused, reference in zip(_outputs_and_grads(model, x), _outputs_and_grads(model, x, fused=False)):
        torch.testing.assert_close(fused, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ours, theirs", [(GRU, nn.GRU), (RNN, nn.RNN)])
def test_gru_and_rnn_match_torch(ours, theirs):
    torch.manual_seed(0)
    ref, model = theirs(N_IN, H, batch_first=True).double(), ours(N_IN, H).double()
    with torch.no_grad():
        model.weight_in.copy_(ref.weight_ih_l0)
        model.weight_rec.copy_(ref.weight_hh_l0)
        if ours is GRU:
            model.bias_in.copy_(ref.bias_ih_l0)
            model.bias_rec.copy_(ref.bias_hh_l0)
        else:
            model.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    x = _x().detach()
    torch.testing.assert_close(model(x), ref(x)[0], rtol=1e-10, atol=1e-12)


def _states(variant, scale=1.0, **kw):
    torch.manual_seed(0)
    model = LSTM(N_IN, H, variant, **kw).double()
    return model, model.states(_x(scale=scale).detach())


def _c_prev(s):
    return torch.cat([torch.zeros_like(s["c"][:, :1]), s["c"][:, :-1]], 1)


def test_vanilla_cell_update_and_output():
    model, s = _states("vanilla")
    torch.testing.assert_close(s["c"], s["f"] * _c_prev(s) + s["i"] * s["z"])
    torch.testing.assert_close(s["y"], s["o"] * torch.tanh(s["c"]))
    assert set(dict(model.peep.named_parameters())) == {"i", "f", "o"}


def test_nfg_has_no_forget_parameters_and_its_cell_only_accumulates():
    model, s = _states("NFG")
    assert "f" not in model.gates and "f" not in s and "f" not in model.peep
    assert model.bias.numel() == 3 * H and model.weight_rec.shape == (3 * H, H)
    torch.testing.assert_close(s["c"] - _c_prev(s), s["i"] * s["z"])  # nothing is ever forgotten


def test_cifg_ties_the_forget_gate_to_one_minus_the_input_gate():
    model, s = _states("CIFG")
    assert model.gates == ("i", "o") and "f" not in model.peep
    torch.testing.assert_close(s["c"], (1 - s["i"]) * _c_prev(s) + s["i"] * s["z"])


def test_nig_and_nog_fix_their_gate_at_one():
    _, s = _states("NIG")
    assert "i" not in s
    torch.testing.assert_close(s["c"], s["f"] * _c_prev(s) + s["z"])
    _, s = _states("NOG")
    assert "o" not in s
    torch.testing.assert_close(s["y"], torch.tanh(s["c"]))


def test_niaf_and_noaf_drop_an_activation():
    model, s = _states("NIAF", scale=5.0)
    assert s["z"].abs().max() > 1  # the block input is not squashed
    torch.testing.assert_close(s["c"], s["f"] * _c_prev(s) + s["i"] * s["z"])
    _, s = _states("NOAF", scale=5.0)
    torch.testing.assert_close(s["y"], s["o"] * s["c"])


def test_np_has_no_peepholes_and_fgr_feeds_the_gates_back():
    np_model, _ = _states("NP")
    assert len(np_model.peep) == 0
    fgr, _ = _states("FGR")
    assert fgr.weight_gates.shape == (3 * H, 3 * H)
    with torch.no_grad():  # the gate recurrence changes what the cell computes
        before = fgr(_x().detach())
        fgr.weight_gates.zero_()
        assert not torch.allclose(before, fgr(_x().detach()))


def test_peepholes_change_the_output():
    model, _ = _states("vanilla")
    x = _x().detach()
    with torch.no_grad():
        before = model(x)
        model.peep["o"].zero_()
        assert not torch.allclose(before, model(x))


@pytest.mark.parametrize("variant", ["vanilla", "CIFG"])
@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_forget_bias_sets_the_initial_forget_gate(variant, forget_bias):
    model = LSTM(N_IN, H, variant, forget_bias=forget_bias)
    with torch.no_grad():
        for p in (model.weight_in, model.weight_rec, *model.peep.values()):
            p.zero_()
    f = model.states(torch.randn(2, 3, N_IN))["f"]
    torch.testing.assert_close(f, torch.full_like(f, 1 / (1 + math.exp(-forget_bias))))


def test_sequence_model_reads_the_last_step():
    torch.manual_seed(0)
    model = SequenceModel("lstm", N_IN, H, 5)
    x = _x(torch.float32).detach()
    torch.testing.assert_close(model(x), model.out(model.rnn(x)[:, -1]))
    assert model(x).shape == (BATCH, 5)


# --- tasks -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(lag=st.integers(4, 120), seed=st.integers(0, 2**31 - 1))
def test_adding_problem_follows_its_definition(lag, seed):
    x, y = adding_problem(64, lag, torch.Generator().manual_seed(seed))
    length = x.shape[1]
    assert x.shape == (64, length, 2) and y.shape == (64, 1) and lag <= length <= lag + lag // 10
    values, markers = x[..., 0], x[..., 1]
    assert values.abs().max() <= 1
    marked = markers == 1
    assert (marked.sum(1) == 2).all()
    early = marked.float().argmax(1)
    late = length - 1 - marked.flip(1).float().argmax(1)
    # One mark among the first ten pairs (T/2 when T < 20), the other among the first T/2 - 1 unmarked ones.
    ten, half = min(10, lag // 2), lag // 2 - 1
    assert (((early < ten) & (late <= half)) | ((late < ten) & (early <= half))).all()
    unmarked = markers.clone()
    unmarked[marked] = 0
    assert (unmarked[:, 1:-1] == 0).all()
    assert ((markers[:, 0] == -1) | marked[:, 0]).all() and (markers[:, -1] == -1).all()
    assert (values[marked[:, 0], 0] == 0).all()  # a marked first pair has its value set to 0
    x_sum = (values * marked).sum(1, keepdim=True)
    torch.testing.assert_close(y, 0.5 + x_sum / 4)
    assert (y >= 0).all() and (y <= 1).all()


def test_adding_problem_marks_every_allowed_position_and_is_seeded():
    lag = 20
    g = torch.Generator().manual_seed(0)
    x, _ = adding_problem(20000, lag, g)
    positions = set((x[..., 1] == 1).nonzero()[:, 1].tolist())
    assert positions == set(range(10))  # the first ten, and T/2 - 1 = 9 positions: 0..9 in all
    a, b = (adding_problem(8, 30, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_predicting_the_mean_gets_about_fifteen_percent_right():
    """|X1 + X2| / 4 < 0.04 with X1 + X2 triangular on [-2, 2]: 2 (0.32 - 0.0128) / 4 = 0.154."""
    _, y = adding_problem(50000, 100, torch.Generator().manual_seed(0))
    assert ((y - 0.5).abs() < ADDING_TOLERANCE).float().mean().item() == pytest.approx(0.154, abs=0.01)


@pytest.mark.parametrize("lag", [16, 30])
def test_continual_adding_asks_for_the_last_segment_and_forgets_the_rest(lag):
    x, y = continual_adding(500, lag, torch.Generator().manual_seed(1))
    length = x.shape[1]
    assert x.shape == (500, length, 3) and lag <= length <= lag + lag // 10
    counts = set()
    for row in range(500):
        resets = x[row, :, 2].nonzero().flatten().tolist()
        counts.add(len(resets))
        bounds = [0, *resets, length]
        assert all(b - a >= 4 for a, b in zip(bounds, bounds[1:]))
        marked = x[row, :, 1].nonzero().flatten()
        segments = [marked[(marked >= a) & (marked < b)] for a, b in zip(bounds, bounds[1:])]
        assert all(len(s) == 2 for s in segments)  # two marked values in every segment
        assert y[row, 0] == pytest.approx(0.5 + x[row, segments[-1], 0].sum().item() / 4)
    assert counts == {1, 2, 3}
    with pytest.raises(ValueError, match="T >= 16"):
        continual_adding(2, 15, torch.Generator())


def test_temporal_order_follows_its_definition():
    lag = 100
    x, y = temporal_order(2000, lag, torch.Generator().manual_seed(0))
    symbols = x.argmax(-1)
    assert (x.sum(-1) == 1).all() and 100 <= x.shape[1] <= 110
    assert (symbols[:, 0] == 6).all() and (symbols[:, -1] == 7).all()  # B first, E last
    relevant = (symbols == 4) | (symbols == 5)  # X or Y
    assert (relevant.sum(1) == 2).all()
    pos = relevant.nonzero()[:, 1].view(-1, 2)
    assert pos[:, 0].min() == 10 and pos[:, 0].max() == 20 and pos[:, 1].min() == 50 and pos[:, 1].max() == 60
    rows = torch.arange(len(y))
    first, second = symbols[rows, pos[:, 0]] - 4, symbols[rows, pos[:, 1]] - 4
    assert torch.equal(y, first * 2 + second)
    assert set(y.tolist()) == {0, 1, 2, 3}


def test_fixed_evaluation_sets_do_not_depend_on_the_run():
    a, b = make_task("adding", lag=12, n_val=300, n_test=300), make_task("adding", lag=12, n_val=300, n_test=300)
    assert [len(x) for x, _ in a.val] == [256, 44]
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a.test, b.test))


# --- training -------------------------------------------------------------------------------


def _ctx(data="digits"):
    return RunContext("toy", "smoke", Config({"data": data}), 0, torch.device("cpu"))


def _fit_one(ctx, model, task, lr, **kw):
    (out,) = fit_sequences([ctx], [model], task, lrs=[lr], **kw)
    return out


def test_training_learns_digits_rows_and_records_clipping():
    ctx = _ctx()
    task = make_task("digits", data=dataset("digits"))
    model = SequenceModel("lstm", task.n_in, 16, task.n_out)
    out = _fit_one(ctx, model, task, steps=150, lr=0.02, batch_size=64, clip=0.5, eval_every=50)
    acc = {c["epoch"]: c["value"] for c in ctx.curves if c["metric"] == "val_acc"}
    assert sorted(acc) == [0, 50, 100, 150] and acc[150] > acc[0] + 0.3
    assert out["test_acc"] > 0.5 and 0 < out["clipped_frac"] <= 1 and out["steps_run"] == 150
    assert {"train_loss", "grad_norm", "clipped_frac"} <= {c["metric"] for c in ctx.curves}
    assert ctx.samples == 150 * 64


def test_training_stops_once_solved_and_counts_the_steps():
    ctx = _ctx()
    task = make_task("order", lag=10, n_val=256, n_test=256)
    out = _fit_one(ctx, SequenceModel("lstm", 8, 16, 4), task, steps=400, lr=0.02, batch_size=32,
                   clip=1.0, eval_every=20, solve_acc=0.0, stop_when_solved=True)
    assert out["solved"] == 1 and out["steps_to_solve"] == 20 == out["steps_run"]
    out = _fit_one(ctx, SequenceModel("rnn", 8, 4, 4), task, steps=3, lr=1e-6, batch_size=8, clip=1.0,
                   eval_every=1, solve_acc=1.01)
    assert out["solved"] == 0 and out["steps_to_solve"] == 3  # never solved: the budget, a lower bound


def test_early_stopping_ends_at_the_best_checkpoint():
    """With patience, a model stops after that many evaluations without a new best validation accuracy, and
    ends with its best evaluation's parameters: the val_acc it reports is the best logged, its test metrics are
    those parameters' own."""
    ctx = _ctx()
    task = make_task("digits", data=dataset("digits"))
    ctx.reseed()
    model = SequenceModel("lstm", task.n_in, 8, task.n_out)
    out = _fit_one(ctx, model, task, steps=3000, lr=0.05, batch_size=16, clip=1.0, eval_every=10, patience=3)
    logged = [(c["epoch"], c["value"]) for c in ctx.curves if c["metric"] == "val_acc"]
    best_step, best_acc = max(logged, key=lambda e: (e[1], -e[0]))  # the first of the best
    assert out["steps_run"] == logged[-1][0] == best_step + 3 * 10 < 3000
    assert out["val_acc"] == best_acc > logged[0][1] and logged[-1][1] < best_acc and out["diverged"] == 0
    ((_, val_acc),) = evaluate([model], task, task.val)
    ((test_loss, test_acc),) = evaluate([model], task, task.test)
    assert val_acc == best_acc and (test_loss, test_acc) == (out["test_loss"], out["test_acc"])


def test_early_stopping_tests_a_run_that_diverged_at_its_best_checkpoint():
    ctx = _ctx()
    task = make_task("adding", lag=8, n_val=64, n_test=64)
    ctx.reseed()
    model = SequenceModel("lstm", 2, 4, 1)
    before = [p.detach().clone() for p in model.parameters()]
    out = _fit_one(ctx, model, task, steps=5, lr=float("inf"), batch_size=8, clip=1.0, eval_every=1, patience=3)
    assert out["diverged"] == 1 and out["steps_run"] == 2  # an infinite step: NaN at the second update
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))  # back to the first checkpoint
    ((test_loss, test_acc),) = evaluate([model], task, task.test)
    assert (test_loss, test_acc) == (out["test_loss"], out["test_acc"]) and math.isfinite(test_loss)
    model = SequenceModel("gru", 2, 4, 1)
    with torch.no_grad():
        model.out.bias.fill_(float("nan"))  # NaN at the first update, before any gradient norm
    out = _fit_one(ctx, model, task, steps=5, lr=0.01, batch_size=8, clip=1.0, eval_every=1, patience=3)
    assert out["diverged"] == 1 and out["steps_run"] == 1 and math.isnan(out["grad_norm_median"])
    with pytest.raises(ValueError, match="patience must be at least 1"):
        _fit_one(ctx, model, task, steps=5, lr=0.01, batch_size=8, clip=1.0, patience=0)


def test_non_finite_loss_returns_diverged():
    ctx = _ctx()
    task = make_task("adding", lag=8, n_val=16, n_test=16)
    model = SequenceModel("gru", 2, 4, 1)
    with torch.no_grad():
        model.out.bias.fill_(float("nan"))
    out = _fit_one(ctx, model, task, steps=5, lr=0.01, batch_size=8, clip=1.0)
    assert out == Diverged(1, "loss became nan at step 1")


@pytest.mark.parametrize("task_name, cell, solve_acc", [("adding", "lstm", 0.15), ("order", "gru", 0.5)])
def test_models_trained_together_follow_their_own_runs(task_name, cell, solve_acc):
    """K models trained as one stack give each model the numbers of its own run: its own batches (padded where
    its sequences are shorter), learning rate, clipping, early stop and divergence."""
    torch.set_default_dtype(torch.float64)  # so that rounding does not grow over the steps
    try:
        task = make_task(task_name, lag=12, n_val=128, n_test=128)
        lrs = [0.02, 0.05, 0.01, float("inf")]  # the last one diverges at its second step
        # solve_acc is reached at different steps by the members (or never): they stop apart.
        kw = dict(steps=40, batch_size=16, clip=0.5, eval_every=10, solve_acc=solve_acc, stop_when_solved=True,
                  patience=1)

        def runs():
            ctxs = [RunContext("toy", "smoke", Config({}), s, torch.device("cpu")) for s in range(len(lrs))]
            models = []
            for ctx in ctxs:
                ctx.reseed()
                models.append(SequenceModel(cell, task.n_in, 8, task.n_out))
            return ctxs, models

        ctxs, models = runs()
        together = fit_sequences(ctxs, models, task, lrs=lrs, **kw)
        alone_ctxs, alone_models = runs()
        for k, (ctx, model) in enumerate(zip(alone_ctxs, alone_models)):
            alone = _fit_one(ctx, model, task, lr=lrs[k], **kw)
            if isinstance(alone, Diverged):
                assert together[k] == alone and alone.step == 2
                continue
            assert together[k] == pytest.approx(alone, rel=1e-9, abs=1e-12)
            assert [c["epoch"] for c in ctxs[k].curves] == [c["epoch"] for c in ctx.curves]
            assert [c["value"] for c in ctxs[k].curves] == pytest.approx([c["value"] for c in ctx.curves], rel=1e-9)
            assert ctxs[k].samples == ctx.samples
        assert len({o["steps_run"] for o in together[:3]}) > 1
        # The infinite rate diverges at its second step and goes back to its checkpoint; a solved member keeps the
        # pass that solved it; the others stop on patience before the budget.
        assert together[3]["diverged"] == 1 and together[3]["steps_run"] == 2
        assert all(o["val_acc"] >= solve_acc for o in together[:3] if o["solved"])
        assert any(not o["solved"] and o["steps_run"] < 40 for o in together[:3])
    finally:
        torch.set_default_dtype(torch.float32)


def test_training_batches_follow_the_run_seed():
    task = make_task("adding", lag=10, n_val=16, n_test=16)
    a, b, c = (task.batch(4, RunContext("toy", "smoke", Config({}), s, torch.device("cpu")).generator)
               for s in (0, 0, 1))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])


def test_input_gradient_probe_matches_autograd():
    torch.manual_seed(0)
    task = make_task("adding", lag=40, n_val=64, n_test=64)
    x, y = task.test[0]
    x, y = x[:32], y[:32]
    model = SequenceModel("rnn", 2, 16, 1)
    rows = input_gradient_rows(model, task, x, y)
    xg = x.double().requires_grad_(True)
    probe = SequenceModel("rnn", 2, 16, 1).double()
    probe.load_state_dict(model.state_dict())
    (g,) = torch.autograd.grad(task.loss(probe(xg), y.double()), xg)
    last = {r["t"]: r["value"] for r in rows}
    assert last[0] == pytest.approx(g[:, -1].norm(dim=1).mean().item() * len(x), rel=1e-9)
    assert len(rows) == x.shape[1] and all(p.grad is None for p in model.parameters())
    assert decay_log10(rows) == pytest.approx(math.log10(last[max(last)] / last[0]))
