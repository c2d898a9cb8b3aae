"""LSTM gate removal: Greff et al.'s eight variants against the vanilla LSTM (book 6.3; claim A4).

The book, after Greff et al. (2017), "LSTM: A Search Space Odyssey": the vanilla LSTM (input, forget and output
gates, peepholes, tanh input and output activations) is a strong default; removing the forget gate (NFG) or the
output activation (NOAF) hurts; removing the peepholes (NP) or coupling the input and forget gates (CIFG) barely
matters. The variants are NIG, NFG, NOG, NIAF, NOAF, NP, CIFG and FGR (full gate recurrence); their equations are
in suite/lab/nn/recurrent.py.

Protocol, after Greff et al.: every variant gets the same random search over hyperparameters, and the
distribution of its results is compared with vanilla's. Greff drew 200 trials per variant and dataset (learning
rate log-uniform in [1e-6, 1e-2], plus hidden size, momentum and input noise), trained with SGD and momentum,
reported test-set performance over all trials and over the best 10% of them, and marked variants that differ
significantly from vanilla (Welch's t test, p < 0.05). Here only the learning rate is searched: trial i uses
lr_i = lr_min (lr_max / lr_min)^u_i, with u_i = frac(s + i / golden ratio) for a fixed random shift s: log-uniform
draws that stay evenly spread for any number of trials (randomized quasi-random search). The same lr_i serves
every variant, so runs pair by (trial, seed) and the comparisons are paired t tests, which need fewer runs than
Welch's test for the same power.

- "All trials": the variant's test accuracy against vanilla's over every (trial, seed) pair.
- "Best half": Greff's "best 10%" at this number of trials. Each variant keeps its own best half of the trials
  (rounded up), ranked by mean validation accuracy over seeds, and the test accuracies of those runs are compared
  with vanilla's best half by Welch's t test (the two halves hold different trials, so nothing pairs). The
  selection uses validation data only; the comparison is on test data.
- "Not significantly different" claims (NP, CIFG) are equivalence tests: the difference from vanilla lies
  within 0.05 test accuracy (TOST, Holm-adjusted). The margin is fixed before the runs: five points of accuracy
  is the smallest gap one would act on when choosing a cell at this scale; a non-significant difference alone
  is not evidence of no difference.

The search range is Adam's rate from 1e-3 to 1e-1: with an upper end of 3e-2, vanilla's accuracy still climbed at
the top of the range, so the best rate was not bracketed. High rates make some variants collapse (a NOAF run
ended at 0.38), which a mean over trials hides: ``collapsed`` counts the runs that diverged or ended more than 10
points below the best validation accuracy they had reached (a threshold fixed before these runs). Each seed's
fraction of collapsed trials is its value (the seed is the unit of replication), and NOAF's fractions are
compared with vanilla's by the exact sign test over seeds, whose smallest p is 2^(1-n) with n seeds: 3 seeds
cannot decide it (a screen in the quick tier), the full tier's 5 cannot after Holm either; the counts are the
finding there.

Tasks: MNIST-1D read as a sequence of 40 values (Greydanus 2020), Hochreiter & Schmidhuber's adding problem
(definition in suite/lab/sequences.py) at a fixed length T, and continual adding: the adding problem as a stream
cut by reset markers into 2-4 segments, whose target is the last segment's marked pair, so that the cells must be
emptied at each reset. Neither MNIST-1D (each sequence starts from a zero state) nor the 1997 adding problem
(solved without a forget gate) asks the forget gate to forget; the continual task does, after the continual tasks
Gers, Schmidhuber & Cummins (2000) introduced the gate with. It runs vanilla and NFG only.

Each run trains one-layer models of ``hidden`` cells with Adam and gradient-norm clipping at ``clip`` (the fraction
of clipped steps is recorded), from fresh minibatches, for a fixed number of updates; the linear read-out sees the last step only. The forget-gate bias
starts at ``forget_bias`` (Gers et al. 2000; Jozefowicz et al. 2015); CIFG's input-gate bias starts at its
negative, which gives the same initial forget gate.

Seeds and what the quick tier can show. "Hurts" is stated with the same 5-point margin as the smallest
difference that matters; ``python -m suite power lstm_gates`` (from the quick tier's spread) asks for 7 to 37
seeds per hypothesis at that margin (17 and 25 for NFG on continual adding), where the quick tier runs 3 and takes
about 11 minutes on two cores: every core hypothesis there is inconclusive, which is what 3 seeds can say. The
directions it shows: on continual adding NFG trails vanilla by 18 points over all trials [-29, -7] and by 12 over
the best half [-27, +3]; on MNIST-1D, every variant is within a few points of vanilla. A quick-tier budget of 2,100
updates (Greff trained to convergence) and these seed counts wait on a faster recurrent stack.

What differs from the paper. Greff trained networks with one hidden layer of 20-200 LSTM blocks on TIMIT, IAM
Online and JSB Chorales, to convergence with early stopping; here the models have 32 cells, train for a few
hundred updates on CPU-sized tasks, and search one hyperparameter over a handful of trials. Differences
that need long training or large data (e.g. FGR's extra capacity) may not show at this scale.
"""

import math

import numpy as np

from suite.declare import Binary, Greater, Less, Param, Similar, Tier
from suite.lab.names import SEQUENCE_CURVES, VARIANTS
from suite.registry import ablation

MARGIN = 0.05       # equivalence margin on test accuracy, fixed before the runs (see above)
COLLAPSE = 0.1      # a run that ends this far below its own best validation accuracy fell apart
_SHIFT = float(np.random.default_rng(20150313).random())  # the arXiv date of Greff et al., as a fixed seed


def trial_lr(trial: int, lr_min: float, lr_max: float) -> float:
    """The learning rate of trial ``trial``: log-uniform in [lr_min, lr_max], the same for every variant."""
    u = (_SHIFT + trial * (math.sqrt(5) - 1) / 2) % 1.0
    return lr_min * (lr_max / lr_min) ** u


def _hypotheses(task: str) -> list:
    where = {"task": task}
    top = {"trial": ("val_acc", 0.5)}
    hyps = []
    for name, worse in (("NFG", "no forget gate"), ("NOAF", "no output activation")):
        hyps += [
            Less("test_acc", a={"cell": name}, b={"cell": "vanilla"}, where=where, margin=MARGIN,
                 label=f"{task}, all trials: {name} ({worse}) has a lower test accuracy than vanilla"),
            Less("test_acc", a={"cell": name}, b={"cell": "vanilla"}, where=where, top=top, margin=MARGIN,
                 label=f"{task}, best half of the trials: {name} has a lower test accuracy than vanilla"),
        ]
    hyps.append(Greater("collapsed", a={"cell": "NOAF"}, b={"cell": "vanilla"}, where=where,
                        label=f"{task}: NOAF collapses (diverges, or ends 10 points below its best) more often "
                              "than vanilla"))
    for name, what in (("NP", "no peepholes"), ("CIFG", "coupled input and forget gates")):
        hyps += [
            Similar("test_acc", a={"cell": name}, b={"cell": "vanilla"}, margin=MARGIN, where=where,
                    label=f"{task}, all trials: {name} ({what}) is within {MARGIN} test accuracy of vanilla"),
            Similar("test_acc", a={"cell": name}, b={"cell": "vanilla"}, margin=MARGIN, where=where, top=top,
                    label=f"{task}, best half of the trials: {name} is within {MARGIN} test accuracy of vanilla"),
        ]
    return hyps


@ablation(
    name="lstm_gates",
    section="6.3",
    claim="Removing the LSTM's forget gate or output activation hurts; removing peepholes or coupling the input "
          "and forget gates does not.",
    data="mnist1d",
    config={
        "hidden": Param(32, min=1, help="LSTM cells"),
        "steps": Param(700, min=1, help="training updates"),
        "batch_size": Param(64, min=1, help="sequences per update"),
        "lr_min": Param(1e-3, min=0.0, help="lower end of the learning-rate search (log-uniform)"),
        "lr_max": Param(1e-1, min=0.0, help="upper end of the learning-rate search"),
        "clip": Param(1.0, min=0.0, help="gradient-norm clipping threshold"),
        "forget_bias": Param(1.0, help="initial forget-gate bias"),
        "lag": Param(30, min=16, help="adding problems: sequence length T"),
        "eval_every": Param(100, min=1, help="updates between validation passes"),
        "optimizer": Param("adam", choices=("sgd", "momentum", "nesterov", "adam"), help="optimizer"),
    },
    factors={"task": ["mnist1d", "adding", "continual_adding"], "cell": list(VARIANTS), "trial": list(range(8))},
    metrics={
        "test_acc": "test accuracy (adding: fraction of sequences with absolute error < 0.04)",
        "test_loss": "test loss (cross-entropy; adding: squared error)",
        "val_acc": "validation accuracy at the end (ranks each variant's trials for the best half)",
        "lr": "the trial's learning rate",
        "n_params": "trainable parameters",
        "clipped_frac": "fraction of updates whose gradient norm was clipped",
        "grad_norm_median": "median gradient norm before clipping",
        "collapsed": Binary("1 if the run diverged or ended more than 0.1 below the best validation accuracy it "
                            "reached during training, else 0"),
    },
    hypotheses=_hypotheses("mnist1d") + _hypotheses("adding") + [
        Less("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "continual_adding"}, margin=MARGIN,
             label="continual adding, all trials: NFG, which cannot reset its cells, is less accurate than vanilla"),
        Less("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "continual_adding"}, margin=MARGIN,
             top={"trial": ("val_acc", 0.5)},
             label="continual adding, best half of the trials: NFG is less accurate than vanilla"),
    ],
    # The continual task asks one question, of the forget gate: vanilla against NFG.
    exclude=[{"task": "continual_adding", "cell": [c for c in VARIANTS if c not in ("vanilla", "NFG")]}],
    group_over=("seed", "trial"),
    labels=SEQUENCE_CURVES,
    tiers={
        "smoke": Tier(seeds=2, config={"steps": 10, "hidden": 8, "lag": 16, "eval_every": 5},
                      factors={"task": ["adding", "continual_adding"], "trial": [0]},
                      about="seconds: ten updates on both adding problems"),
        "quick": Tier(seeds=3, factors={"task": ["mnist1d", "continual_adding"], "trial": list(range(8))},
                      about="minutes on two cores: MNIST-1D (9 variants) and continual adding (vanilla, NFG), 8 "
                            "learning rates x 3 seeds, 700 updates"),
        "full": Tier(seeds=5, config={"steps": 3000, "hidden": 64, "lag": 50},
                     factors={"trial": list(range(20))},
                     about="closer to the paper: all three tasks, 20 learning rates, 5 seeds, 3000 updates"),
    },
)
def train(ctxs):
    """The runs of one cell variant, every trial and seed, trained as one group, each at its trial's rate."""
    from suite.lab.data import dataset_for
    from suite.lab.nn.recurrent import SequenceModel, n_params
    from suite.lab.sequences import fit_sequences, make_task

    cfg = ctxs[0].cfg
    task = make_task(cfg.task, lag=cfg.lag, device=ctxs[0].device,
                     data=dataset_for(ctxs[0]) if cfg.task == "mnist1d" else None)
    models, lrs = [], []
    for ctx in ctxs:
        ctx.reseed()
        models.append(SequenceModel("lstm", task.n_in, cfg.hidden, task.n_out, cfg.cell, cfg.forget_bias))
        lrs.append(trial_lr(ctx.cfg.trial, cfg.lr_min, cfg.lr_max))
        ctx.report(lr=lrs[-1], n_params=n_params(models[-1]))
    outs = fit_sequences(ctxs, models, task, steps=cfg.steps, lrs=lrs, batch_size=cfg.batch_size, clip=cfg.clip,
                         optimizer=cfg.optimizer, eval_every=cfg.eval_every)
    keep = ("test_acc", "test_loss", "val_acc", "clipped_frac", "grad_norm_median")
    for ctx, out in zip(ctxs, outs):
        best = max((c["value"] for c in ctx.curves if c["metric"] == "val_acc"), default=float("nan"))
        ctx.report(collapsed=float(not isinstance(out, dict) or out["val_acc"] < best - COLLAPSE))
    return [{k: out[k] for k in keep} if isinstance(out, dict) else out for out in outs]
