"""The report's figures draw what the verdicts judge, from a real store of a tiny claim: tuned factors at the
settings the verdicts choose, diverged runs that never set an axis, runs that stopped early carried to the end,
intervals that fit the metric, and probe profiles only where they exist."""

import math
import textwrap

import numpy as np
import pytest

from suite import verdicts
from suite.registry import REGISTRY, discover
from suite.results import stored
from suite.store import Store
from tests.conftest import run_cli

# Each arm has its own best rate on "val" (a: 0.1, b: 1.0), and "score" tells the rates apart. At lr 10 with boom,
# arm a's seed 0 logs a loss of 1e27 and diverges; at lr 1 arm b's seeds 1 and 2 stop after epoch 2 (solved).
# The "act" probe is taken at init only, along the hidden layers (a single one at depth 1); two percentiles are
# probed every epoch.
TOY = '''
from suite.context import Diverged
from suite.declare import Binary, Curves, Greater, Less, Param, Points, Profile, Tier
from suite.registry import ablation

VAL = {"a": {0.1: 5.0, 1.0: 3.0, 10.0: 1.0}, "b": {0.1: 2.0, 1.0: 6.0, 10.0: 4.0}}


@ablation(name="toy_figures", section="0.2", claim="Arm b scores higher than arm a, each at its best rate.",
          data=None, config={"epochs": Param(4, min=1)},
          factors={"arm": ["a", "b"], "lr": [0.1, 1.0, 10.0], "boom": [False, True], "depth": [1, 3]},
          metrics={"score": "score after training (points)", "val": "validation score (points)",
                   "solved": Binary("1 if the run solved the task, else 0"), "size": "trainable parameters",
                   "width": "units per layer", "loss": "training loss after training (nats)"},
          hypotheses=[Greater("score", a={"arm": "b"}, b={"arm": "a"}, where={"boom": False}, best={"lr": "val"}),
                      Greater("solved", a={"arm": "b"}, b={"arm": "a"}, where={"boom": False},
                              best={"lr": "val"}),
                      Less("size", a={"arm": "a"}, b={"arm": "b"}, role="sanity")],
          tiers={"smoke": Tier(seeds=3), "quick": Tier(seeds=3), "full": Tier(seeds=3)},
          # Few runs: boom only at lr 10 (the divergence), one layer only at lr 0.1 (the profile it cannot have).
          exclude=[{"boom": True, "lr": [0.1, 1.0]}, {"depth": 1, "lr": [1.0, 10.0]}, {"depth": 1, "boom": True}],
          group_over=("seed", "lr"),
          figures=[Curves(metrics=("loss",), col="boom", where={"lr": 10.0, "depth": 3}),
                   Curves(metrics=("loss",), where={"boom": False, "depth": 3}),
                   Profile(stat="act"), Points(metric="width"),
                   Curves(source="probes", metrics=("p15", "p85"), overlay=True, where={"lr": 0.1, "depth": 3})],
          labels={"loss": "training loss (nats)", "act": "activation variance", "layer": "hidden layer",
                  "p15": "15th percentile of the input", "p85": "85th percentile of the input"})
def train(ctxs):
    return [_train(ctx) for ctx in ctxs]


def _train(ctx):
    arm, lr, seed = ctx.cfg.arm, ctx.cfg.lr, ctx.seed
    ctx.probe([{"layer": i, "stat": "act", "value": float(i + seed)} for i in range(1, ctx.cfg.depth + 1)],
              epoch=0, step=0)
    last = 2 if (arm == "b" and lr == 1.0 and seed > 0) else ctx.cfg.epochs
    for epoch in range(last + 1):
        ctx.probe([{"layer": 1, "stat": "p15", "value": -1.0 - epoch},
                   {"layer": 1, "stat": "p85", "value": 1.0 + epoch}], epoch=epoch, step=epoch)
        if ctx.cfg.boom and lr == 10.0 and arm == "a" and seed == 0 and epoch == 2:
            return Diverged(epoch, "loss became nan")
        huge = ctx.cfg.boom and lr == 10.0 and arm == "a" and seed == 0 and epoch == 1
        ctx.log(epoch, loss=1e27 if huge else 4.0 / (1 + epoch) + 0.1 * seed)
    return {"score": {"a": 10.0, "b": 20.0}[arm] + lr + 0.1 * seed, "val": VAL[arm][lr] + 0.01 * seed,
            "solved": float(seed < 2 if arm == "b" else seed == 0), "size": {"a": 10.0, "b": 20.0}[arm],
            "width": 3.0, "loss": 4.0 / (1 + last) + 0.1 * seed}
'''


@pytest.fixture(scope="module")
def figures_of(tmp_path_factory):
    """The toy's smoke tier judged from a real store, and its figures by kind."""
    base = tmp_path_factory.mktemp("figures")
    (base / "user").mkdir()
    (base / "user" / "toy_figures.py").write_text(textwrap.dedent(TOY))
    env = {"SUITE_ABLATIONS": str(base / "user")}
    ran = run_cli("run", "toy_figures", "--tier", "smoke", "--no-progress", "--jobs", "1", results=base / "r",
                  env=env)
    assert ran.returncode == 0, ran.stderr
    mp = pytest.MonkeyPatch()
    mp.setenv("SUITE_ABLATIONS", env["SUITE_ABLATIONS"])
    try:
        abl = discover()["toy_figures"]
        result = stored(abl, Store(base / "r"), ["smoke"])["smoke"]
        from suite.report import figures

        drawn = figures.draw(result)
    finally:
        mp.undo()
        # The toy registered in this process: tests that discover the ablations of their own directories later
        # must not find it.
        REGISTRY.pop("toy_figures", None)
    return result, drawn


def _one(drawn, start: str):
    found = [f for f in drawn if f.caption.startswith(start)]
    assert len(found) == 1, [f.caption for f in drawn]
    return found[0]


def test_a_tuned_factor_is_drawn_at_the_setting_the_verdicts_choose(figures_of):
    result, drawn = figures_of
    fig = _one(drawn, "Score after training")
    assert "at its own best lr by highest val (as the verdicts choose)" in fig.caption
    # Each arm at its own best rate: a at 0.1 (mean over seeds 10 + 0.1 + 0.1), b at 1.0 (20 + 1 + 0.1).
    data = fig.data[(fig.data["boom"] == False) & (fig.data["depth"] == 3)].set_index("arm")  # noqa: E712
    assert data.loc["a", "mean"] == pytest.approx(10.2) and data.loc["b", "mean"] == pytest.approx(21.1)
    assert "a/False/3 0.1" in fig.caption and "b/False/3 1" in fig.caption
    # The same choice as the verdict's own.
    row = result.judgement.hypotheses.iloc[0]
    assert "lr=0.1" in row["tuned"].split("|")[1] and "lr=1.0" in row["tuned"].split("|")[0]
    side = result.metrics[(result.metrics["arm"] == "b") & (result.metrics["boom"] == False)  # noqa: E712
                          & (result.metrics["depth"] == 3)]
    assert verdicts.choose(side, "lr", "val") == [1.0]


def test_a_diverged_run_never_sets_the_y_limit(figures_of):
    _, drawn = figures_of
    fig = next(f for f in drawn if f.caption.startswith("Learning curves") and "lr = 10.0" in f.caption)
    assert fig.ylim is not None and fig.ylim[1] < 100  # the diverged run logged 1e27 before it diverged
    assert np.isfinite(fig.data["mean"]).all() and fig.data["mean"].max() < 10
    assert "1 run that diverged is left out" in fig.caption


def test_runs_that_stopped_early_keep_their_last_value(figures_of):
    _, drawn = figures_of
    fig = next(f for f in drawn if f.caption.startswith("Learning curves") and "boom = False" in f.caption)
    b = fig.data[fig.data["arm"] == "b"].set_index("epoch")
    # Seed 0 ran to epoch 4; seeds 1 and 2 stopped after epoch 2 and are carried at their last loss.
    assert b.loc[4, "n"] == 3
    assert b.loc[4, "mean"] == pytest.approx((4 / 5 + 4 / 3 + 0.1 + 4 / 3 + 0.2) / 3)
    assert "2 runs that stopped before the end" in fig.caption
    assert (fig.data["ci_low"].dropna() >= 0).all()  # a loss cannot be negative: its band stops at 0


def test_a_binary_outcome_gets_a_wilson_interval_inside_0_100(figures_of):
    _, drawn = figures_of
    fig = _one(drawn, "1 if the run solved the task")
    assert "Wilson" in fig.caption
    data = fig.data.dropna(subset=["ci_low"])
    assert len(data) and (data["ci_low"] >= 0).all() and (data["ci_high"] <= 100).all()
    # Two of three seeds solved: a t interval would reach past 100%; Wilson's stays inside, around the mean.
    two_of_three = data[np.isclose(data["mean"], 200 / 3)]
    assert len(two_of_three) and (two_of_three["ci_high"] < 100).all() and (two_of_three["ci_low"] > 0).all()


def test_deterministic_quantities_get_no_interval(figures_of):
    _, drawn = figures_of
    sanity = _one(drawn, "Trainable parameters")
    assert "no interval (fixed by construction)" in sanity.caption
    assert sanity.data["ci_low"].isna().all() and sanity.data["ci_high"].isna().all()
    constant = _one(drawn, "Units per layer")
    assert "no interval (identical across seeds)" in constant.caption
    assert constant.data["ci_low"].isna().all()


def test_a_profile_probed_once_has_no_after_training_panel_nor_one_layer_panels(figures_of):
    _, drawn = figures_of
    fig = _one(drawn, "Probe act")
    assert "after training" not in fig.caption and "at init" in fig.caption
    assert "when" not in fig.data or set(fig.data["when"]) == {"init"}
    assert set(fig.data["depth"]) == {3}  # depth 1 has one layer: no profile to draw


def test_axis_labels_come_from_descriptions():
    from suite.report.quantities import short_label

    assert short_label("log10(iters / sqrt(kappa)): flat in kappa when iters grow like sqrt(kappa)") == \
        "log10(iters / sqrt(kappa))"
    assert short_label("iterations to the tolerance (max_iters if not reached)") == "iterations to the tolerance"
    assert short_label("validation accuracy after the budget (fraction); picks each arm's learning rate") == \
        "validation accuracy after the budget (fraction)"
    assert short_label("1 if the run solved the task, else 0") == "the run solved the task"


def test_limits_come_from_the_data_not_a_wide_interval():
    from suite.report.quantities import limits

    low, high = limits(values=[0.1, 0.2, 9.0], means=[3.1], lows=[-1500.0], highs=[1500.0])
    assert low > -1 and high < 10
    assert limits([], [math.nan], [math.nan], [math.nan]) is None


def test_probe_statistics_over_training_share_a_panel(figures_of):
    _, drawn = figures_of
    fig = _one(drawn, "Probe statistics over training")
    assert set(fig.data["stat"]) == {"p15", "p85"}
    p85 = fig.data[(fig.data["stat"] == "p85") & (fig.data["arm"] == "a") & (fig.data["boom"] == False)]  # noqa: E712
    assert list(p85.sort_values("epoch")["mean"]) == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])


def test_the_same_results_draw_the_same_bytes(figures_of):
    """A report rebuilt from an unchanged store has the same figures: no build date inside the SVGs."""
    from suite.report import figures

    result, drawn = figures_of
    assert [f.uri for f in figures.draw(result)] == [f.uri for f in drawn]
