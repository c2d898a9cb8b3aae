"""Unsupervised pretraining vs initialization (book 3.5, 4.2; claim A2).

The book: greedy layer-wise unsupervised pretraining (stacked autoencoders, or RBMs trained by contrastive
divergence) made deep networks trainable when they were initialized naively; with a proper initialization its
benefit shrinks or vanishes, which is why it "is rarely used now". A proper init keeps the variance of activations
and gradients about constant across layers, and a naive small init makes it collapse with depth.

Setup. MLPs of width 100 with 1 to 5 hidden layers on the embedded digits data. Arms (factor ``init``): naive
N(0, 0.01^2) weights everywhere; plain Xavier (Glorot & Bengio 2010); the init *matched* to the activation, the
one that gives it unit gain in its linear regime - Xavier x4 for the sigmoid (its slope at 0 is 1/4), Xavier x5/3
for tanh (tanh's gain), He for ReLU; and pretraining from the activation's usual init (Xavier for sigmoid and tanh,
He for ReLU) by stacked denoising autoencoders (``dae``: 25% masking noise, tied weights, squared error on
real-valued inputs and cross-entropy on sigmoid codes, Adam at 0.01 for 10 epochs per layer) or by RBMs with CD-1
(``rbm``: momentum SGD at 0.05, a tenth of it for the Gaussian first layer, 10 epochs per layer; binary hidden
units for sigmoid, the same stack mapped exactly onto tanh units for tanh, noisy rectified units for ReLU). All
1,077 training inputs serve, unlabelled, for pretraining. The output layer is never pretrained (Xavier).

Fine-tuning: plain minibatch SGD, batch 32, 700 updates (whole epochs), in two label regimes (factor ``labels``):
``few`` keeps the labels of the first 200 training examples (100 epochs), ``all`` uses all 1,077 (21 epochs).
Each arm runs at its own learning rate of seven (0.01 to 10 in half-decades), chosen per stratum on validation
accuracy; the seeds and rates of a variant fine-tune as one grouped network. The pretraining phase is not part of the
budget; its seconds are reported as ``pretrain_s``.

Hypotheses, one per depth (pooling depths hid that at depth 3 Xavier beats naive by 0.80 while at depth 5 both sat
at chance): with few labels, pretraining and the matched init each rescue a naive sigmoid net; with all labels,
pretraining and the matched init are within 2 points (7 of the 360 test digits) for each activation - the claim
that the benefit vanishes. With few labels, Erhan et al. (2010) expect pretraining to keep helping as a regularizer:
that is a secondary hypothesis, not the book's claim. Plain Xavier for the sigmoid, a pairing Glorot & Bengio never
proposed, is kept as an arm to show why the gain matters.

Probes at init (after pretraining for the pretrained arms), on the 200 first training examples: per hidden layer,
the variance of the activations and the mean square of the back-propagated gradient with respect to the
pre-activations (per example), besides the suite's usual gradient norms and saturation. The headline numbers are
log10(last / first hidden layer) of the activation variance (below 0: the signal shrinks on its way up) and
log10(first / last) of the gradient mean square (below 0: the gradient shrinks on its way down); both are 0 at
depth 1, which serves as the reference for "roughly constant": within a factor of 2 (0.3 in log10) across five
layers. The pretraining hyperparameters were chosen by reconstruction error on the unlabelled data (Adam at 0.01
reconstructed the first layer about twice as well as at 0.001), never by accuracy.

What the quick tier shows (5 seeds). With 200 labels, DAE pretraining rescues the naive sigmoid net (depth 3:
0.936 against 0.402; depth 5: 0.936 against chance, 0.100) and so does the matched init (0.916 and 0.902); plain
Xavier leaves the depth-5 sigmoid net at chance at every rate (its gradient mean square falls 10^5 over the five
layers, against 10^1.7 with Xavier x4). With all labels, pretraining and the matched init are within 2 points for
tanh and ReLU at depth 3 and tanh at depth 5, and for sigmoid at depth 3; not shown: sigmoid at depth 5 (pretraining
+1.4 points [0.2, 2.6]) and ReLU at depth 5 (+0.9 [-0.4, 2.2]), whose intervals reach past the margin - the benefit
shrinks to about a point but is not shown to vanish at 5 seeds. With 200 labels pretraining beats the matched
init at depth 5 for every activation (+2.8 to +3.3 points): the regularization Erhan et al. describe. The
variance probes: ReLU + He keeps the activation variance within 2x across five layers, and tanh with gain 5/3
too (-0.06 in log10), while tanh's gradient mean square grows 10^0.26 from layer 5 to layer 1 with that gain
(inconclusive against the 2x margin). Tuned rates are interior, except where an arm stays at chance at every
rate (naive and plain-Xavier sigmoid at depth 5), whose flat validation accuracy picks the grid's lowest rate.

What differs from the sources. Hinton et al. (2006) and Bengio et al. (2007) pretrained RBM and autoencoder stacks
on all of MNIST; Erhan et al. (2010) trained 1-5 layer nets of about a thousand units on MNIST's 50,000 labelled
images over many seeds, tuning the hyperparameters. Here the nets are ten times narrower, the data are
8x8 digits, pretraining lasts 10 epochs per layer and fine-tuning 700 updates: minutes on two CPU cores. The
few-labels regime leaves 360 validation examples, more labels than training uses, to pick the learning rate
(Oliver et al. 2018 warn about this).
"""

import math
import time
from functools import lru_cache

from suite.declare import Curves, Greater, Less, Param, Profile, Similar, Tier
from suite.lab.names import LAYER_PROBES, LOOP_CURVES
from suite.registry import ablation

DEPTHS = [3, 4, 5]
# 0.03-3 put five choices on an edge (sigmoid wants 3 or more with few labels, ReLU 0.03 or less with all labels).
LRS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
# Hypotheses about the variance at init compare depth 5 with depth 1, whose ratios are 0 by construction.
VAR_MARGIN = 0.3  # log10(2)
ACC_MARGIN = 0.02
SIGMOID_FEW = {"activation": "sigmoid", "labels": "few"}


def _per_depth(make):
    return [make(d) for d in DEPTHS]


@ablation(
    name="pretraining_vs_init",
    section="3.5, 4.2",
    claim="Greedy unsupervised pretraining rescues deep naively initialized nets; with an init matched to the "
          "activation the gain vanishes, because such inits keep activation and gradient variance constant across "
          "layers.",
    data="digits",
    config={
        "width": Param(100, min=1, help="units per hidden layer"),
        "n_labelled": Param(200, min=1, help="labelled training examples of the few-labels arm (the first ones)"),
        "steps": Param(700, min=1, help="fine-tuning budget in updates (whole epochs, at least this many)"),
        "batch_size": Param(32, min=1, help="minibatch size, pretraining and fine-tuning"),
        "pretrain_epochs": Param(10, min=1, help="pretraining passes over the unlabelled inputs, per layer"),
        "dae_lr": Param(0.01, min=0.0, help="Adam step of the denoising autoencoders"),
        "rbm_lr": Param(0.05, min=0.0, help="momentum-SGD step of CD-1 (a tenth of it for Gaussian visible units)"),
        "noise": Param(0.25, min=0.0, max=1.0, help="fraction of a DAE's inputs masked to 0"),
    },
    factors={"init": ["naive", "xavier", "matched", "dae", "rbm"], "activation": ["sigmoid", "tanh", "relu"],
             "depth": [1, 2, 3, 4, 5], "labels": ["few", "all"], "lr": LRS},
    metrics={
        "test_acc": "test accuracy after fine-tuning (fraction)",
        "val_acc": "validation accuracy after fine-tuning (fraction); picks each arm's learning rate",
        "train_loss": "cross-entropy on the labelled examples after fine-tuning (nats)",
        "act_var_log10_ratio_init": "log10 of last/first hidden layer activation variance at init (0 = constant)",
        "grad_msq_log10_ratio_init": "log10 of first/last hidden layer mean square gradient at init (0 = constant)",
        "recon_gain_log10": "pretrained arms: mean over layers of log10(reconstruction error before/after)",
        "pretrain_s": "pretrained arms: seconds of unsupervised pretraining (outside the fine-tuning budget)",
    },
    hypotheses=[
        *_per_depth(lambda d: Greater(
            "test_acc", a={"init": "dae"}, b={"init": "naive"}, where={**SIGMOID_FEW, "depth": d}, best=["lr"],
            label=f"sigmoid, depth {d}, 200 labels: DAE pretraining rescues a naively initialized net")),
        *_per_depth(lambda d: Greater(
            "test_acc", a={"init": "rbm"}, b={"init": "naive"}, where={**SIGMOID_FEW, "depth": d}, best=["lr"],
            label=f"sigmoid, depth {d}, 200 labels: RBM pretraining rescues a naively initialized net")),
        *_per_depth(lambda d: Greater(
            "test_acc", a={"init": "matched"}, b={"init": "naive"}, where={**SIGMOID_FEW, "depth": d}, best=["lr"],
            label=f"sigmoid, depth {d}, 200 labels: the matched init (Xavier x4) rescues it too")),
        *[Similar("test_acc", a={"init": "dae"}, b={"init": "matched"}, margin=ACC_MARGIN,
                  where={"activation": act, "depth": d, "labels": "all"}, best=["lr"],
                  label=f"{act}, depth {d}, all labels: DAE pretraining and the matched init within 2 points")
          for act in ("sigmoid", "tanh", "relu") for d in DEPTHS],
        *[Greater("test_acc", a={"init": "dae"}, b={"init": "matched"},
                  where={"activation": act, "depth": 5, "labels": "few"}, best=["lr"], role="secondary",
                  label=f"{act}, depth 5, 200 labels: DAE pretraining still beats the matched init (a regularizer, "
                        "Erhan et al. 2010)")
          for act in ("sigmoid", "tanh", "relu")],
        Less("test_acc", a={"init": "xavier"}, b={"init": "matched"}, where={**SIGMOID_FEW, "depth": 5},
             best=["lr"], role="mechanism",
             label="sigmoid, depth 5, 200 labels: plain Xavier (unit gain for tanh, not sigmoid) trails Xavier x4"),
        Less("grad_msq_log10_ratio_init", a={"init": "xavier"}, b={"init": "matched"},
             where={"activation": "sigmoid", "depth": 5, "labels": "few"}, role="mechanism",
             label="sigmoid, depth 5: with plain Xavier the gradient mean square shrinks more on its way down"),
        Similar("act_var_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "matched", "activation": "tanh", "labels": "few"},
                label="tanh + matched init (gain 5/3): activation variance of layer 5 within 2x of layer 1",
                role="mechanism"),
        Less("act_var_log10_ratio_init", a={"init": "naive"}, b={"init": "xavier"},
             where={"activation": "tanh", "depth": 5, "labels": "few"},
             label="tanh, depth 5: naive init makes the activation variance collapse, Xavier does not",
             role="mechanism"),
        Similar("act_var_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "matched", "activation": "relu", "labels": "few"},
                label="ReLU + He: activation variance of layer 5 within 2x of layer 1", role="mechanism"),
        Less("act_var_log10_ratio_init", a={"init": "naive"}, b={"init": "matched"},
             where={"activation": "relu", "depth": 5, "labels": "few"},
             label="ReLU, depth 5: naive init makes the activation variance collapse, He does not", role="mechanism"),
        Similar("grad_msq_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "matched", "activation": "tanh", "labels": "few"},
                label="tanh + matched init: gradient mean square at layer 1 within 2x of layer 5", role="mechanism"),
        Similar("grad_msq_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "matched", "activation": "relu", "labels": "few"},
                label="ReLU + He: gradient mean square at layer 1 within 2x of layer 5", role="mechanism"),
    ],
    tiers={
        "smoke": Tier(seeds=2, config={"steps": 14, "pretrain_epochs": 1},
                      factors={"init": ["naive", "dae", "rbm"], "activation": ["sigmoid"], "depth": [3],
                               "labels": ["few"], "lr": [0.3]},
                      about="seconds: one small net, three arms, to check the machinery"),
        "quick": Tier(seeds=5, factors={"init": ["naive", "xavier", "matched", "dae"], "depth": [1, 3, 5]},
                      about="minutes: DAE pretraining only, depths 1, 3 and 5, seven learning rates"),
        "full": Tier(seeds=10, config={"steps": 2100, "pretrain_epochs": 20},
                     about="both pretraining methods, every depth, 2,100 updates, 10 seeds"),
    },
    # Depth 1 is the reference of the variance probes at init, which neither labels nor rates change; with all
    # labels only pretraining and the matched init are compared; plain Xavier is the sigmoid's and tanh's arm.
    exclude=[{"depth": 1, "labels": "all"}, {"depth": 1, "lr": [lr for lr in LRS if lr != 0.3]},
             {"labels": "all", "init": ["naive", "xavier"]}, {"init": "xavier", "activation": "relu"}],
    group_over=("seed", "lr"),
    # Fine-tuning evaluates every few epochs: the curves' x is epochs, with gaps.
    figures=[Profile(stat="grad_preact_norm"), Profile(stat="activation_var"), Curves(x_label="epoch")],
    labels={**LOOP_CURVES, **LAYER_PROBES, "grad_preact_msq": "pre-activation gradient mean square, per example",
            "recon_error_before": "reconstruction error before pretraining",
            "recon_error_after": "reconstruction error after pretraining"},
)
def train(ctxs):
    """Each run's network prepared (pretrained for the dae and rbm arms) and probed, then the seeds and rates of one
    variant fine-tuned as one grouped network (a single MLP for one run)."""
    from suite.lab.data import dataset_for
    from suite.lab.loop import fit
    from suite.lab.nn.grouped import group

    cfg, data = ctxs[0].cfg, dataset_for(ctxs[0])
    models = [_prepare(ctx, data) for ctx in ctxs]
    labelled = data.subset_train(cfg.n_labelled) if cfg.labels == "few" else data
    epochs = math.ceil(cfg.steps / math.ceil(len(labelled.y_train) / cfg.batch_size))
    # About ten evaluations of the three splits: every epoch would cost more than training on 200 examples.
    outcomes = fit(ctxs, group(models), labelled, epochs=epochs, lr=[ctx.cfg.lr for ctx in ctxs],
                   batch_size=cfg.batch_size, eval_every=math.ceil(epochs / 10))
    return [{k: out[k] for k in ("test_acc", "val_acc", "train_loss")} if isinstance(out, dict) else out
            for out in outcomes]


def _prepare(ctx, data):
    """The run's network at the start of fine-tuning (pretrained for the dae and rbm arms), its probes reported."""
    import torch

    from suite.lab.nn.mlp import MLP
    from suite.lab.probes import layer_stats, ratio_log10

    ctx.reseed()  # the run's own initial weights, however many runs one call gets
    cfg = ctx.cfg
    pretrained = cfg.init in ("dae", "rbm")
    model = MLP(data.n_features, cfg.width, cfg.depth, data.n_classes, cfg.activation,
                "usual" if pretrained else cfg.init).to(ctx.device)
    if pretrained:
        state, rows, seconds = _pretrained(ctx.torch_seed, cfg.data, ctx.data_dir, str(ctx.device),
                                           str(torch.get_default_dtype()), cfg.init, cfg.activation,
                                           cfg.depth, cfg.width, cfg.pretrain_epochs,
                                           cfg.dae_lr if cfg.init == "dae" else cfg.rbm_lr, cfg.batch_size, cfg.noise)
        model.load_state_dict(state)
        ctx.report(pretrain_s=seconds,
                   recon_gain_log10=sum(math.log10(r["before"] / r["after"]) for r in rows) / len(rows))
        ctx.probe([{"layer": r["layer"], "stat": f"recon_error_{when}", "value": r[when]}
                   for r in rows for when in ("before", "after")], epoch=0, step=0)

    n = cfg.n_labelled  # the probes look at the same examples in both label arms
    rows = layer_stats(model, data.x_train[:n], data.y_train[:n])
    # Per-example mean square of the pre-activation gradient: the norm probe squared over the layer's width.
    rows += [{"layer": r["layer"], "stat": "grad_preact_msq", "value": r["value"] ** 2 / cfg.width}
             for r in rows if r["stat"] == "grad_preact_norm"]
    ctx.probe(rows, epoch=0, step=0)
    # Hidden layers share one width, so the ratio of mean squares is the squared ratio of norms.
    ctx.report(act_var_log10_ratio_init=-ratio_log10(rows, "activation_var"),
               grad_msq_log10_ratio_init=2 * ratio_log10(rows, "grad_preact_norm"))
    return model


@lru_cache(maxsize=None)  # a few hundred kB per seed and arm; a bounded cache thrashed at 10 seeds
def _pretrained(torch_seed, data_name, data_dir, device, dtype, method, activation, depth, width, epochs, lr, batch_size, noise):
    """(state dict, per-layer reconstruction rows, seconds) of one seed's pretrained network, in the default
    ``dtype`` (part of the key). Pretraining does not depend on the fine-tuning rate or labels, so a worker that
    runs several of those variants pretrains once."""
    import torch

    from suite.lab.data import dataset
    from suite.lab.nn.autoencoders import pretrain
    from suite.lab.nn.mlp import MLP

    data = dataset(data_name, data_dir, device)
    torch.manual_seed(torch_seed)  # the weights ctx.reseed() gives, as in _prepare
    model = MLP(data.n_features, width, depth, data.n_classes, activation, "usual").to(device)
    t0 = time.perf_counter()
    rows = pretrain(model, data.x_train, method, epochs=epochs, lr=lr, batch_size=batch_size,
                    generator=torch.Generator().manual_seed(torch_seed + 1), noise=noise)
    return {k: v.clone() for k, v in model.state_dict().items()}, rows, time.perf_counter() - t0
