"""Optimizers, schedules, the convex problems and their methods, and the optimizers ablations end to end."""

import math

import numpy as np
import pytest
import torch

from suite.context import Config, RunContext
from suite.lab import problems
from suite.lab.data import dataset
from suite.lab.loop import fit
from suite.lab.nn.mlp import MLP
from suite.store import Store
from suite.lab.optim import OPTIMIZERS, SCHEDULES, make_optimizer

G = torch.tensor([0.5, -2.0, 1e-3])


def _first_step(name: str, lr: float = 0.1) -> torch.Tensor:
    """The update of one step from 0 on the loss g . w, whose gradient is G."""
    w = torch.zeros(3, requires_grad=True)
    opt = make_optimizer(name, [w], lr)
    (w * G).sum().backward()
    opt.step()
    return w.detach()


# The first step of each optimizer from zero state, by its defining formula.
FIRST_STEPS = {
    "sgd": -0.1 * G,
    "momentum": -0.1 * G,  # the buffer starts as the gradient
    "nesterov": -0.1 * (G + 0.9 * G),  # look-ahead: gradient plus momentum times the new buffer
    "adagrad": -0.1 * G / (G.abs() + 1e-10),  # accumulated squares = g^2
    "adadelta": -0.1 * G * math.sqrt(1e-6) / torch.sqrt(0.1 * G ** 2 + 1e-6),  # rho 0.9, eps 1e-6, empty deltas
    "rmsprop": -0.1 * G / (torch.sqrt(0.01 * G ** 2) + 1e-8),  # alpha 0.99
    "adam": -0.1 * G / (G.abs() + 1e-8),  # bias-corrected moments: m = g, v = g^2
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_is_the_one_named(name):
    assert torch.allclose(_first_step(name), FIRST_STEPS[name], rtol=1e-4, atol=1e-7)


def test_an_unknown_optimizer_or_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("lbfgs", [torch.zeros(1, requires_grad=True)], 0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        fit([_ctx()], MLP(64, 8, 1, 10), dataset("digits"), epochs=1, lr=0.1, batch_size=64, schedule="cosine")


def _ctx():
    return RunContext("toy", "smoke", Config({"data": "digits"}), 0, torch.device("cpu"))


def _lrs(schedule: str, epochs: int = 8) -> list[float]:
    ctx = _ctx()
    fit([ctx], MLP(64, 8, 1, 10), dataset("digits"), epochs=epochs, lr=0.1, batch_size=256, optimizer="momentum",
        schedule=schedule)
    return [c["value"] for c in ctx.curves if c["metric"] == "lr"]


def test_schedules_follow_their_definitions():
    assert _lrs("linear") == pytest.approx(np.linspace(0.1, 0.001, 8))
    assert _lrs("exponential") == pytest.approx(np.geomspace(0.1, 0.001, 8))
    assert _lrs("step") == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)
    plateau = _lrs("plateau", epochs=30)
    assert plateau[0] == 0.1 and all(b in (a, a * 0.1) for a, b in zip(plateau, plateau[1:]))
    assert set(SCHEDULES) == {"constant", "linear", "exponential", "step", "plateau"}


def test_constant_schedule_logs_no_rate_and_matches_the_default():
    a, b = _ctx(), _ctx()
    torch.manual_seed(0)
    fa = fit([a], MLP(64, 8, 1, 10), dataset("digits"), epochs=2, lr=0.1, batch_size=64)
    torch.manual_seed(0)
    fb = fit([b], MLP(64, 8, 1, 10), dataset("digits"), epochs=2, lr=0.1, batch_size=64, schedule="constant")
    assert fa == fb and not any(c["metric"] == "lr" for c in b.curves)


# --- convex problems --------------------------------------------------------------------------------------------


def test_newton_on_a_quadratic_converges_in_one_step():
    q = problems.Quadratic.ravine(1e4, dim=5)
    x0 = np.random.default_rng(0).normal(size=5)
    result = problems.newton(q, x0, error=q.distance, tol=1e-12, keep_path=True)
    assert result.iters == 1 and result.reached and np.abs(result.path[-1]).max() < 1e-12


def test_gradient_descent_on_the_quadratic_follows_the_closed_form():
    q = problems.Quadratic.ravine(100, dim=3)
    x0 = np.ones(3)
    _, path = problems.descend(q, x0, 0.5, error=q.distance, tol=0.0, max_iters=20, keep_path=True)
    k = np.arange(21)[:, None]
    assert np.allclose(path[:, 0], (1 - 0.5 * q.eig) ** k * x0)


def _torch_path(q, x0, lr, beta, nesterov, steps):
    x = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=beta, nesterov=nesterov)
    out = [x.detach().clone().numpy()]
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (x * x * torch.tensor(q.eig)).sum()).backward()
        opt.step()
        out.append(x.detach().clone().numpy())
    return np.stack(out)


def test_heavy_ball_and_nesterov_are_pytorchs_momentum_methods():
    q = problems.Quadratic.ravine(50, dim=4)
    x0 = np.random.default_rng(1).normal(size=4)
    for nesterov in (False, True):
        _, path = problems.descend(q, x0, 0.3, 0.9, error=q.distance, tol=0.0, max_iters=30, nesterov=nesterov,
                                   keep_path=True)
        x = path[:, 0]
        # PyTorch's Nesterov iterate is Sutskever's look-ahead point x + beta v.
        mine = x + 0.9 * np.diff(x, axis=0, prepend=x[:1]) if nesterov else x
        assert np.allclose(mine, _torch_path(q, x0, 0.3, 0.9, nesterov, 30), atol=1e-10)


def test_logistic_regression_gradient_and_hessian_match_autograd():
    rng = np.random.default_rng(0)
    p = problems.LogisticRegression(rng.normal(size=(40, 3)), rng.integers(0, 2, 40), l2=0.1)
    w = rng.normal(size=4)
    wt = torch.tensor(w, requires_grad=True)
    X, y = torch.tensor(p.X), torch.tensor(p.y)

    def f(v):
        z = X @ v
        return (torch.nn.functional.softplus(z) - y * z).mean() + 0.05 * (v * v).sum()

    assert float(p.f(w)) == pytest.approx(f(wt).item())
    assert np.allclose(p.grad(w), torch.autograd.grad(f(wt), wt)[0].numpy())
    assert np.allclose(p.hess(w), torch.autograd.functional.hessian(f, wt).numpy())
    assert p.smoothness >= np.linalg.eigvalsh(p.hess(w)).max()


def test_tuning_returns_the_fastest_pair_and_reports_non_convergence():
    q = problems.Quadratic.ravine(10)
    x0 = np.array([0.6, 0.8])
    best = problems.tune(q, x0, [0.5, 1.0, 1.9], [0.0], error=q.distance, tol=1e-6, max_iters=10_000)
    each = [problems.descend(q, x0, lr, error=q.distance, tol=1e-6, max_iters=10_000)[0][0] for lr in (0.5, 1.0, 1.9)]
    assert best.reached and best.iters == min(each) and best.lr == [0.5, 1.0, 1.9][int(np.argmin(each))]
    stuck = problems.tune(q, x0, [2.5], [0.0], error=q.distance, tol=1e-6, max_iters=100)  # diverges
    assert not stuck.reached and stuck.iters == 100


# --- the ablations end to end -------------------------------------------------------------------------------------


def _smoke(cli, tmp_path, name, n):
    out = cli("run", name, "--tier", "smoke", "--no-progress", results=tmp_path)
    assert out.returncode == 0, out.stderr
    records = list(Store(tmp_path).records(name))
    assert len(records) == n and {r["status"] for r in records} == {"ok"}
    return records


def test_optimizers_smoke_tier_end_to_end(cli, tmp_path):
    records = _smoke(cli, tmp_path, "optimizers", 6)
    for rec in records:
        assert {"train_loss", "test_acc", "eff_step_first", "eff_step_change_log10"} <= set(rec["metrics"])
        if rec["factors"]["optimizer"] == "sgd":  # SGD's update is exactly lr times the gradient
            assert rec["metrics"]["eff_step_first"] == pytest.approx(rec["factors"]["lr"], rel=1e-3)
    assert "eff_step" in set(records[0]["curves"]["metric"])


def test_optimizers_schedules_smoke_tier_end_to_end(cli, tmp_path):
    records = _smoke(cli, tmp_path, "optimizers_schedules", 6)
    step = next(r for r in records if r["factors"]["schedule"] == "step")
    lrs = [v for m, v in zip(step["curves"]["metric"], step["curves"]["value"]) if m == "lr"]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_optimizers_ravine_smoke_tier_end_to_end(cli, tmp_path):
    records = _smoke(cli, tmp_path, "optimizers_ravine", 16)
    for rec in records:
        m = rec["metrics"]
        assert m["reached"] == 1 and {"iters", "log10_iters_per_sqrt_kappa"} <= set(m)
        assert {"x1", "x2", "err"} <= set(rec["probes"]["stat"])
        if rec["factors"]["method"] == "newton":
            assert m["iters"] == 1
        else:
            assert "lr_L" in m and "beta" in m


def test_optimizers_newton_smoke_tier_end_to_end(cli, tmp_path):
    records = _smoke(cli, tmp_path, "optimizers_newton", 8)
    assert all({"iters", "reached", "kappa", "solve_s"} <= set(r["metrics"]) for r in records)
