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
every variant. The seed is the unit of replication: each side's runs of one seed are averaged into one value, and
since both sides ran the same trials on each seed, the comparisons pair by seed (paired t tests, which need fewer
seeds than Welch's test for the same power).

- "All trials": the variant's test accuracy against vanilla's, each seed's mean over every trial.
- "Best half": Greff's "best 10%" at this number of trials. Each variant keeps its own best half of the trials
  (rounded up), ranked by mean validation accuracy over seeds, and the test accuracies of those runs are compared
  with vanilla's best half by Welch's t test (the two halves hold different trials, so nothing pairs). The
  selection uses validation data only; the comparison is on test data.
- "Not significantly different" claims (NP, CIFG) are equivalence tests: the difference from vanilla lies
  within 0.05 test accuracy (TOST, Holm-adjusted). The margin is fixed before the runs: five points of accuracy
  is the smallest gap one would act on when choosing a cell at this scale; a non-significant difference alone
  is not evidence of no difference.

Training, after Greff's "to convergence with early stopping". Each run trains a one-layer model of ``hidden``
cells with Adam and gradient-norm clipping at ``clip`` (the fraction of clipped steps is recorded), on fresh
minibatches, for at most ``steps`` updates, and passes over the validation set every ``eval_every``; after
``patience`` passes without a new best validation accuracy it stops and goes back to its best checkpoint, on which
its test metrics are measured. The linear read-out sees the last step only. The forget-gate bias starts at
``forget_bias`` (Gers et al. 2000; Jozefowicz et al. 2015); CIFG's input-gate bias starts at its negative, which
gives the same initial forget gate. The budget comes from a pilot of vanilla (and NOAF) on a seed outside every
tier's (seed 100), at 2,100 updates on MNIST-1D: vanilla's four best rates (0.006-0.04) level off at 0.93-0.96
validation accuracy after about 800-1,300 updates, where 700 updates (the previous budget) left them at
0.65-0.88; its best rate, 0.025, is interior to the range. Rates of 1e-3 to 2e-3 are still climbing at 2,100
updates: the all-trials comparison includes slow learners, as Greff's does. NOAF tracked vanilla except at 0.037,
where it fell from 0.95 to 0.12 in its last 200 updates: early stopping keeps the checkpoint before such a fall
(a run that diverges, too), and ``collapsed`` records it. The quick tier's four rates do not include 0.037.

The search range is Adam's rate from 1e-3 to 1e-1: with an upper end of 3e-2, vanilla's accuracy still climbed at
the top of the range, so the best rate was not bracketed. High rates make some variants collapse (a NOAF run
ended at 0.38), which a mean over trials hides: ``collapsed`` counts the runs that diverged, or whose last
validation pass before stopping lay more than 10 points below their best (a threshold fixed before these runs).
Each seed's fraction of collapsed trials is its value, and NOAF's fractions are compared with vanilla's by the
exact sign test over seeds, whose smallest p is 2^(1-n) with n seeds: 4 seeds cannot decide it (a screen in the
quick tier); the full tier's 18 can.

Tasks: MNIST-1D read as a sequence of 40 values (Greydanus 2020), Hochreiter & Schmidhuber's adding problem
(definition in suite/lab/sequences.py) at a fixed length T, and continual adding: the adding problem as a stream
cut by reset markers into 2-4 segments, whose target is the last segment's marked pair, so that the cells must be
emptied at each reset. Neither MNIST-1D (each sequence starts from a zero state) nor the 1997 adding problem
(solved without a forget gate) asks the forget gate to forget; the continual task does, after the continual tasks
Gers, Schmidhuber & Cummins (2000) introduced the gate with. So the forget gate is tested on both adding tasks:
NFG should trail vanilla where the cells must be reset (core), and match it where they need not be (mechanism:
the gate matters for what it was introduced for). The adding tasks run vanilla and NFG only; the quick tier runs
on MNIST-1D only the five variants the hypotheses name, the full tier all nine (NIG, NOG, NIAF and FGR are
reported, as in Greff's figures, without a hypothesis).

Seeds and what the quick tier shows. "Hurts" is stated with the same 5-point margin as the smallest difference
that matters. The quick tier runs 4 seeds of the first four trials (rates 0.0014, 0.0042, 0.0245 and 0.073: any
prefix of the quasi-random sequence stays spread over the range) for up to 1,300 updates, where the pilot's
vanilla levels off, on MNIST-1D and continual adding; the adding problem, a mechanism check, runs in the full
tier. That takes about 7.5 minutes on two cores. Until the chapter-5 claims joined the registry the quick tier ran
six rates for up to 2,100 updates and the adding problem too, in 18 minutes, and read the same profile (mixed,
core 3 of 11). It now reads:

- Continual adding, all trials: NFG 81.8% against vanilla 92.0%, -10.2 points [-14.0, -6.3] (reproduced). Over
  the best half NFG reaches 93.7% against 99.8% (-6.1 [-13.0, +0.8], inconclusive): at the middle rates NFG
  solves continual adding too, and it fails at rates where vanilla does not. With 2-4 segments and 32 cells a
  network without a forget gate may keep the segments apart in separate cells, a route that would not scale to
  Gers et al.'s unbounded streams (not probed here); at this length the gate's cost shows as a narrower range of
  working rates.
- MNIST-1D: NP is equivalent to vanilla over all trials (-0.3 points [-1.6, +1.0]) and CIFG over the best half
  (+0.5 [-1.9, +3.0]); NP over the best half (+1.7 [-0.6, +4.0]) is inside the margin but not decided after Holm
  over 11 core hypotheses, and CIFG over all trials (-3.6 [-5.9, -1.2]) reaches past it. NFG trails by 2.1 points
  [-5.0, +0.8] over all trials and 1.7 [-3.5, +0.1] over the best half; NOAF by 5.3 [-19.2, +8.5] over all trials
  (one of its 16 runs collapsed, none of vanilla's) and 3.4 [-5.5, -1.4] over the best half (p = 0.011 alone,
  0.082 after Holm). Greff et al. found NFG and NOAF significantly worse on all three of their datasets; on
  MNIST-1D at 32 cells and this budget the gap, if any, is about 2-5 points.

On seeds 4-7, not used before (``python -m suite run lstm_gates --first-seed 4``), only continual adding's
all-trials hypothesis holds again (NFG 75.3% against vanilla 91.8%, -16.5 points [-22.2, -10.8]); the profile is
mixed, core 1 of 11. On MNIST-1D vanilla's best half reached only 83.3% there (90.6% on seeds 0-3), and NP and
CIFG sat 8-10 points above it, outside the 5-point margin: at four seeds and 1,300 updates with early stopping
the quick tier screens the MNIST-1D hypotheses rather than decides them; the full tier runs 18 seeds.

In the tier before, every variant's best rate on MNIST-1D was 0.025, interior to the trials' rates. ``python -m
suite power lstm_gates`` from this spread asks for at most 18 seeds per hypothesis at the margin (NOAF over all
trials, whose collapses spread its mean; the others 3-8): the full tier runs 18. Its groups are large (18 seeds x 20
rates = 360 models of 64 cells trained together), several GB of states per worker.

What differs from the paper. Greff trained networks with one hidden layer of 20-200 LSTM blocks on TIMIT, IAM
Online and JSB Chorales; here the models have 32 cells, train for up to 1,300 updates (quick) on CPU-sized tasks, and
search one hyperparameter over a handful of trials. Differences that need long training or large data (e.g. FGR's
extra capacity) may not show at this scale.
"""

import math

import numpy as np

from suite.declare import Binary, Curves, Greater, Less, Param, Similar, Tier
from suite.lab.names import SEQUENCE_CURVES, VARIANTS
from suite.registry import ablation

QUICK_CELLS = ("vanilla", "NFG", "NOAF", "NP", "CIFG")  # the variants the hypotheses compare
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
        "steps": Param(2100, min=1, help="training updates at most (early stopping may end a run sooner)"),
        "patience": Param(5, min=1, help="validation passes without a new best accuracy before a run stops"),
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
        "val_acc": "validation accuracy of the checkpoint early stopping kept (ranks each variant's trials for the "
                   "best half)",
        "steps_run": "updates until early stopping ended the run (the budget if it never did)",
        "lr": "the trial's learning rate",
        "n_params": "trainable parameters",
        "clipped_frac": "fraction of updates whose gradient norm was clipped",
        "grad_norm_median": "median gradient norm before clipping",
        "collapsed": Binary("1 if the run diverged, or its last validation pass before stopping was more than 0.1 "
                            "below its best, else 0"),
    },
    hypotheses=_hypotheses("mnist1d") + [
        Less("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "continual_adding"}, margin=MARGIN,
             label="continual adding, all trials: NFG, which cannot reset its cells, is less accurate than vanilla"),
        Less("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "continual_adding"}, margin=MARGIN,
             top={"trial": ("val_acc", 0.5)},
             label="continual adding, best half of the trials: NFG is less accurate than vanilla"),
        Similar("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "adding"}, margin=MARGIN,
                role="mechanism",
                label=f"adding problem (nothing to forget), all trials: NFG is within {MARGIN} test accuracy of "
                      "vanilla"),
        Similar("test_acc", a={"cell": "NFG"}, b={"cell": "vanilla"}, where={"task": "adding"}, margin=MARGIN,
                top={"trial": ("val_acc", 0.5)}, role="mechanism",
                label=f"adding problem, best half of the trials: NFG is within {MARGIN} test accuracy of vanilla"),
    ],
    # The adding tasks ask one question, of the forget gate: vanilla against NFG, with and without resets.
    exclude=[{"task": ["adding", "continual_adding"], "cell": [c for c in VARIANTS if c not in ("vanilla", "NFG")]}],
    group_over=("seed", "trial"),
    # Validation accuracy means the same on every task (the losses differ: cross-entropy, squared error), and it
    # is what early stopping and the choice of trials follow.
    figures=[Curves(metrics=("val_acc",), col="task")],
    labels=SEQUENCE_CURVES,
    tiers={
        "smoke": Tier(seeds=2, config={"steps": 10, "hidden": 8, "lag": 16, "eval_every": 5},
                      factors={"cell": list(QUICK_CELLS), "trial": [0]},
                      about="seconds: ten updates on each task"),
        # The first four trials of the quasi-random sequence (any prefix stays spread over the range) and the
        # budget where the pilot's vanilla levels off: about a third of the time the six trials of 2,100 took.
        "quick": Tier(seeds=4, config={"steps": 1300}, factors={"task": ["mnist1d", "continual_adding"],
                                                                  "cell": list(QUICK_CELLS), "trial": list(range(4))},
                      about="minutes on two cores: MNIST-1D (the five variants the hypotheses name) and continual "
                            "adding (vanilla, NFG); 4 learning rates x 4 seeds, up to 1,300 updates with early "
                            "stopping"),
        "full": Tier(seeds=18, config={"steps": 6000, "hidden": 64, "lag": 50},
                     factors={"trial": list(range(20))},
                     about="closer to the paper: all nine variants on MNIST-1D and both adding tasks at T=50 "
                           "(vanilla, NFG), 20 learning rates, 18 seeds, up to 6,000 updates with early stopping"),
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
                         optimizer=cfg.optimizer, eval_every=cfg.eval_every, patience=cfg.patience)
    keep = ("test_acc", "test_loss", "val_acc", "clipped_frac", "grad_norm_median", "steps_run")
    for ctx, out in zip(ctxs, outs):
        # Early stopping returns the best checkpoint; a collapse shows in the validation passes before the stop.
        passes = [c["value"] for c in ctx.curves if c["metric"] == "val_acc"]
        ctx.report(collapsed=float(not isinstance(out, dict) or out["diverged"] == 1
                                   or passes[-1] < max(passes) - COLLAPSE))
    return [{k: out[k] for k in keep} if isinstance(out, dict) else out for out in outs]
