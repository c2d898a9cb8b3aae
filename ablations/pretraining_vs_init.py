"""Unsupervised pretraining vs initialization (book 3.5, 4.2; claim A2).

The book: greedy layer-wise unsupervised pretraining (stacked autoencoders, or RBMs trained by contrastive
divergence) made deep networks trainable when they were initialized naively; with a proper initialization (Xavier
for symmetric activations, He for ReLU) its benefit shrinks or vanishes, which is why it "is rarely used now".
Xavier keeps the variance of activations and gradients about constant across layers for tanh, He does it for ReLU,
and a naive small init makes it collapse with depth.

Setup. MLPs of width 100 with 1 to 5 hidden layers on the embedded digits data, in a few-labels regime: the first
200 training examples keep their labels, and all 1,077 training inputs serve, unlabelled, for pretraining. Arms
(factor ``init``): naive N(0, 0.01^2) weights everywhere; Xavier (Glorot & Bengio 2010); He (He et al. 2015); and
pretraining from the activation's usual init (Xavier for sigmoid and tanh, He for ReLU) by stacked denoising
autoencoders (``dae``: 25% masking noise, tied weights, squared error on real-valued inputs and cross-entropy on
sigmoid codes, Adam at 0.01 for 10 epochs per layer) or by RBMs with CD-1 (``rbm``: momentum SGD at 0.05, a tenth
of it for the Gaussian first layer, 10 epochs per layer; binary hidden units for sigmoid, the same stack mapped
exactly onto tanh units for tanh, noisy rectified units for ReLU). The output layer is never pretrained (Xavier).
Every arm is then fine-tuned with the same budget: plain minibatch SGD, batch 32, 100 epochs over the 200
labelled examples (700 steps), at the same learning rate (in the full tier each arm is compared at its best rate
of three, chosen on validation accuracy). The pretraining phase is not part of the fine-tuning budget; its
seconds are reported as ``pretrain_s``. Fine-tuning sees the labelled examples in the same order in every arm of a
seed (pretraining draws from its own generator).

Probes at init (after pretraining for the pretrained arms), on the 200 labelled examples: per hidden layer, the
variance of the activations and the mean square of the back-propagated gradient with respect to the
pre-activations (per example), besides the suite's usual gradient norms and saturation. The headline numbers are
log10(last / first hidden layer) of the activation variance (below 0: the signal shrinks on its way up) and
log10(first / last) of the gradient mean square (below 0: the gradient shrinks on its way down); both are 0 at
depth 1, which serves as the reference for "roughly constant": within a factor of 2 (0.3 in log10) across five
layers.

"Vanishes" is tested as equivalence within 2 points of test accuracy (7 of the 360 test digits): smaller than
the differences a reader would act on, and far smaller than what pretraining gains over naive init in deep
sigmoid nets. The pretraining hyperparameters were chosen by reconstruction error on the unlabelled data (Adam at
0.01 reconstructed the first layer about twice as well as at 0.001), never by accuracy.

What differs from the sources. Hinton et al. (2006) and Bengio et al. (2007) pretrained RBM and autoencoder stacks
on all of MNIST; Erhan et al. (2010) trained 1-5 layer nets of about a thousand units on MNIST's 50,000 labelled
images over many seeds, tuning the hyperparameters. Here the nets are ten times narrower, the data are
8x8 digits, the labelled set is 200 examples, pretraining lasts 10 epochs per layer and the fine-tuning budget is
700 steps: minutes on two CPU cores. The few-labels regime is where pretraining is expected to matter most, and
it leaves the comparison with 360 validation examples, more labels than training uses: they only pick the
learning rate in the full tier (Oliver et al. 2018 warn about this).
"""

import math
import time

from suite.declare import Greater, Less, Param, Profile, Similar, Tier
from suite.lab.names import LAYER_PROBES, LOOP_CURVES
from suite.registry import ablation

DEEP = [3, 4, 5]
TUNED = {"lr": "val_acc"}
# Hypotheses about the variance at init compare depth 5 with depth 1, whose ratios are 0 by construction.
VAR_MARGIN = 0.3  # log10(2)
ACC_MARGIN = 0.02


@ablation(
    name="pretraining_vs_init",
    section="3.5, 4.2",
    claim="Greedy unsupervised pretraining rescues deep naively initialized nets; with Xavier/He init the gain "
          "shrinks or vanishes, because those inits keep activation and gradient variance constant across layers.",
    data="digits",
    config={
        "width": Param(100, min=1, help="units per hidden layer"),
        "n_labelled": Param(200, min=1, help="labelled training examples (the first of the training split)"),
        "epochs": Param(100, min=1, help="fine-tuning passes over the labelled examples"),
        "batch_size": Param(32, min=1, help="minibatch size, pretraining and fine-tuning"),
        "pretrain_epochs": Param(10, min=1, help="pretraining passes over the unlabelled inputs, per layer"),
        "dae_lr": Param(0.01, min=0.0, help="Adam step of the denoising autoencoders"),
        "rbm_lr": Param(0.05, min=0.0, help="momentum-SGD step of CD-1 (a tenth of it for Gaussian visible units)"),
        "noise": Param(0.25, min=0.0, max=1.0, help="fraction of a DAE's inputs masked to 0"),
    },
    factors={"init": ["naive", "xavier", "he", "dae", "rbm"], "activation": ["sigmoid", "tanh", "relu"],
             "depth": [1, 2, 3, 4, 5], "lr": [0.3]},
    metrics={
        "test_acc": "test accuracy after fine-tuning (fraction)",
        "val_acc": "validation accuracy after fine-tuning (fraction)",
        "train_loss": "cross-entropy on the labelled examples after fine-tuning (nats)",
        "act_var_log10_ratio_init": "log10 of last/first hidden layer activation variance at init (0 = constant)",
        "grad_msq_log10_ratio_init": "log10 of first/last hidden layer mean square gradient at init (0 = constant)",
        "recon_gain_log10": "pretrained arms: mean over layers of log10(reconstruction error before/after)",
        "pretrain_s": "pretrained arms: seconds of unsupervised pretraining (outside the fine-tuning budget)",
    },
    hypotheses=[
        Greater("test_acc", a={"init": "dae"}, b={"init": "naive"}, where={"activation": "sigmoid", "depth": DEEP},
                best=TUNED, label="sigmoid, depth 3-5: DAE pretraining beats naive init"),
        Greater("test_acc", a={"init": "rbm"}, b={"init": "naive"}, where={"activation": "sigmoid", "depth": DEEP},
                best=TUNED, label="sigmoid, depth 3-5: RBM pretraining beats naive init"),
        Greater("test_acc", a={"init": "xavier"}, b={"init": "naive"},
                where={"activation": "sigmoid", "depth": DEEP}, best=TUNED,
                label="sigmoid, depth 3-5: the gain shrinks with Xavier, i.e. Xavier beats naive init"),
        Similar("test_acc", a={"init": "dae"}, b={"init": "xavier"}, margin=ACC_MARGIN,
                where={"activation": "sigmoid", "depth": DEEP}, best=TUNED,
                label="sigmoid, depth 3-5: DAE pretraining and Xavier init within 2 points"),
        Similar("test_acc", a={"init": "dae"}, b={"init": "xavier"}, margin=ACC_MARGIN,
                where={"activation": "tanh", "depth": DEEP}, best=TUNED,
                label="tanh, depth 3-5: DAE pretraining and Xavier init within 2 points"),
        Similar("test_acc", a={"init": "dae"}, b={"init": "he"}, margin=ACC_MARGIN,
                where={"activation": "relu", "depth": DEEP}, best=TUNED,
                label="ReLU, depth 3-5: DAE pretraining and He init within 2 points"),
        Similar("act_var_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "xavier", "activation": "tanh"}, best=TUNED,
                label="tanh + Xavier: activation variance of layer 5 within 2x of layer 1", role="mechanism"),
        Less("act_var_log10_ratio_init", a={"init": "naive"}, b={"init": "xavier"},
             where={"activation": "tanh", "depth": 5}, best=TUNED,
             label="tanh, depth 5: naive init makes the activation variance collapse, Xavier does not",
             role="mechanism"),
        Similar("act_var_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "he", "activation": "relu"}, best=TUNED,
                label="ReLU + He: activation variance of layer 5 within 2x of layer 1", role="mechanism"),
        Less("act_var_log10_ratio_init", a={"init": "naive"}, b={"init": "he"},
             where={"activation": "relu", "depth": 5}, best=TUNED,
             label="ReLU, depth 5: naive init makes the activation variance collapse, He does not", role="mechanism"),
        Similar("grad_msq_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "xavier", "activation": "tanh"}, best=TUNED,
                label="tanh + Xavier: gradient mean square at layer 1 within 2x of layer 5", role="mechanism"),
        Similar("grad_msq_log10_ratio_init", a={"depth": 5}, b={"depth": 1}, margin=VAR_MARGIN,
                where={"init": "he", "activation": "relu"}, best=TUNED,
                label="ReLU + He: gradient mean square at layer 1 within 2x of layer 5", role="mechanism"),
    ],
    tiers={
        "smoke": Tier(seeds=2, config={"epochs": 2, "pretrain_epochs": 1},
                      factors={"init": ["naive", "dae", "rbm"], "activation": ["sigmoid"], "depth": [3]},
                      about="seconds: one small net, three arms, to check the machinery"),
        "quick": Tier(seeds=5, factors={"init": ["naive", "xavier", "he", "dae"], "depth": [1, 3, 5]},
                      about="minutes: DAE pretraining only, depths 1, 3 and 5, one learning rate"),
        "full": Tier(seeds=10, config={"epochs": 300, "pretrain_epochs": 20}, factors={"lr": [0.1, 0.3, 1.0]},
                     about="both pretraining methods, every depth, 300 epochs, three learning rates"),
    },
    figures=[Profile(stat="grad_preact_norm"), Profile(stat="activation_var")],
    labels={**LOOP_CURVES, **LAYER_PROBES, "grad_preact_msq": "pre-activation gradient mean square, per example",
            "recon_error_before": "reconstruction error before pretraining",
            "recon_error_after": "reconstruction error after pretraining"},
)
def train(ctxs):
    return [_train(ctx) for ctx in ctxs]


def _train(ctx):
    """Pretrain (the dae and rbm arms), probe the network at the start of fine-tuning, fine-tune."""
    import torch

    from suite.lab.data import dataset_for
    from suite.lab.loop import fit
    from suite.lab.nn.autoencoders import pretrain
    from suite.lab.nn.mlp import MLP
    from suite.lab.probes import layer_stats, ratio_log10

    ctx.reseed()  # the run's own initial weights, however many runs one call gets
    cfg, data = ctx.cfg, dataset_for(ctx)
    pretrained = cfg.init in ("dae", "rbm")
    model = MLP(data.n_features, cfg.width, cfg.depth, data.n_classes, cfg.activation,
                "usual" if pretrained else cfg.init).to(ctx.device)
    if pretrained:
        t0 = time.perf_counter()
        rows = pretrain(model, data.x_train, cfg.init, epochs=cfg.pretrain_epochs,
                        lr=cfg.dae_lr if cfg.init == "dae" else cfg.rbm_lr, batch_size=cfg.batch_size,
                        generator=torch.Generator().manual_seed(ctx.torch_seed + 1), noise=cfg.noise)
        ctx.report(pretrain_s=time.perf_counter() - t0,
                   recon_gain_log10=sum(math.log10(r["before"] / r["after"]) for r in rows) / len(rows))
        ctx.probe([{"layer": r["layer"], "stat": f"recon_error_{when}", "value": r[when]}
                   for r in rows for when in ("before", "after")], epoch=0, step=0)

    rows = layer_stats(model, data.x_train[: cfg.n_labelled], data.y_train[: cfg.n_labelled])
    # Per-example mean square of the pre-activation gradient: the norm probe squared over the layer's width.
    rows += [{"layer": r["layer"], "stat": "grad_preact_msq", "value": r["value"] ** 2 / cfg.width}
             for r in rows if r["stat"] == "grad_preact_norm"]
    ctx.probe(rows, epoch=0, step=0)
    # Hidden layers share one width, so the ratio of mean squares is the squared ratio of norms.
    ctx.report(act_var_log10_ratio_init=-ratio_log10(rows, "activation_var"),
               grad_msq_log10_ratio_init=2 * ratio_log10(rows, "grad_preact_norm"))

    (final,) = fit([ctx], model, data.subset_train(cfg.n_labelled), epochs=cfg.epochs, lr=cfg.lr,
                   batch_size=cfg.batch_size)
    if not isinstance(final, dict):
        return final
    return {"test_acc": final["test_acc"], "val_acc": final["val_acc"], "train_loss": final["train_loss"]}
