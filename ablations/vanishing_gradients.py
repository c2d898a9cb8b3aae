"""Vanishing gradients: sigmoid vs tanh vs ReLU-family activations in deep MLPs (book 3.3, 3.5; claim A1).

The book: in a deep sigmoid network the gradient shrinks geometrically from the output toward the input, so the
lower layers barely learn; tanh is better; ReLU and its relatives keep gradients flowing; large initial weights
make gradients explode instead.

Setup. A plain MLP (width 64) on the embedded digits data, trained with minibatch SGD for 20 epochs (680 updates).
Each activation gets the init it usually gets (Xavier for sigmoid, tanh and softplus; He for the rectifiers) and
runs at each learning rate of a grid of half-decades from 0.01 to 10, wide enough for sigmoid's rates (its best at
depth 3 lies at 1-3; one rate for every arm, as before, measured the rate rather than the activation). Two more
arms apply a naive small init N(0, 0.01^2) and a large one N(0, 1) to every layer; they are probed for their
gradients at init, which no rate changes, so they run at 0.1 only. Probes on a fixed batch of 256 training
examples, at init and after every epoch: per-layer norm of the loss gradient with respect to the pre-activations
and to the weights, activation variance, the fraction of saturated sigmoid/tanh units and of dead ReLU units.
The headline statistic is log10(first hidden layer / last hidden layer) of the pre-activation gradient norm:
0 means the gradient reaches the input layer undiminished, -3 means it arrives a thousand times smaller.

Hypotheses. The book's claim is about gradient flow and fitting, so the core hypotheses are the gradient ratio at
init and the training loss after the budget, each arm at its own rate chosen per stratum on the validation loss;
sigmoid at depth 10 is also compared with sigmoid at depth 3. Test accuracy is reported as a secondary hypothesis
(rates chosen on validation accuracy): it is about generalization, which the book does not claim.

What the quick tier shows. At depth 10, sigmoid stays at chance at every rate (training loss 2.30-2.51 nats, the
loss of a uniform guess being 2.303): its validation loss is lowest at the smallest rate, the one that moves it
least, so its chosen rate sits on the grid's edge because the surface is flat, not because a better rate lies
beyond. ReLU's and tanh's chosen rates (0.03 both; ReLU's validation loss is nearly as low at 0.1) are interior.
ReLU fits better than tanh at depth 10 (0.0019 against 0.029 nats at those rates; each one's lowest training loss
on the grid, ReLU 0.0009 at 0.1 and tanh 0.0014 at 0.3, keeps the order), while tanh's test accuracy is 3.7 points
higher than ReLU's - the contradiction the old, test-accuracy statement of the claim showed; it is a secondary
finding about generalization, not about gradient flow.

What differs from the sources. Glorot & Bengio (2010) trained 5-layer nets of width 1000 on Shapeset and MNIST
for millions of updates; He et al. (2015) used deep convolutional nets on ImageNet. Here the nets are narrower
and the budget is minutes on two CPU cores; the gradient ratio at init does not depend on the budget, the
fitting comparison does. Glorot & Bengio's sigmoid net reached 97.8% on MNIST at depth 5 with the standard init:
a net half as deep as ours, over far more updates.
"""

from suite.declare import Greater, Less, Param, Profile, Reference, Tier
from suite.lab.names import LAYER_PROBES, LOOP_CURVES
from suite.registry import ablation

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]
GLOROT_MNIST = "MNIST, 5 hidden layers of 1000 units, SGD with minibatches of 10, learning rate tuned on validation"
DEEP = {"depth": 10, "init": "usual"}
# Half-decades wide enough that each arm's best rate is interior: ReLU's lies at 0.03-0.1, sigmoid's at depth 3
# at 1-3 (a pilot of 3 seeds per arm, before the hypotheses were judged).
LRS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
TUNED = ["lr"]  # chosen per stratum on the validation counterpart: val_loss for train_loss, val_acc for test_acc


@ablation(
    name="vanishing_gradients",
    section="3.3, 3.5",
    claim="Gradients vanish toward the input of a deep sigmoid network; tanh is better, and ReLU keeps them flowing.",
    data="digits",
    config={
        "width": Param(64, min=1, help="units per hidden layer"),
        "epochs": Param(20, min=1, help="passes over the training set"),
        "batch_size": Param(32, min=1, help="minibatch size"),
        "optimizer": Param("sgd", choices=("sgd", "momentum", "nesterov"),
                           help="optimizer (the SGD family, whose members train at their own rates in one group)"),
        "probe_batch": Param(256, min=1, help="training examples the probes look at"),
    },
    factors={"activation": ACTS, "depth": [3, 10], "init": ["usual", "naive", "large"], "lr": LRS},
    metrics={
        "test_acc": "test accuracy after the budget (fraction)",
        "val_acc": "validation accuracy after the budget (fraction)",
        "train_loss": "training cross-entropy after the budget (nats)",
        "val_loss": "validation cross-entropy after the budget (nats); picks each arm's learning rate",
        "grad_ratio_log10_init": "log10 of first/last hidden layer pre-activation gradient norm, at init",
        "grad_ratio_log10_final": "the same ratio after training",
        "weight_grad_ratio_log10_init": "log10 of first/last hidden layer weight-gradient norm, at init",
        "saturated_frac_init": "fraction of sigmoid/tanh hidden units saturated, at init",
        "saturated_frac_final": "fraction of sigmoid/tanh hidden units saturated, after training",
        "dead_frac_final": "fraction of ReLU hidden units never active on the probe batch, after training",
    },
    hypotheses=[
        Less("grad_ratio_log10_init", a={"activation": "sigmoid"}, b={"activation": "relu"}, where=DEEP,
             label="depth 10: the first/last gradient ratio at init is smaller for sigmoid than for ReLU"),
        Greater("grad_ratio_log10_init", a={"activation": "tanh"}, b={"activation": "sigmoid"}, where=DEEP,
                label="depth 10: tanh keeps more of the gradient at init than sigmoid", role="mechanism"),
        Less("grad_ratio_log10_init", a={"activation": "tanh"}, b={"activation": "relu"}, where=DEEP,
             label="depth 10: tanh keeps less of the gradient at init than ReLU", role="mechanism"),
        Less("train_loss", a={"activation": "relu"}, b={"activation": "sigmoid"}, where=DEEP, best=TUNED,
             label="depth 10: ReLU fits the training set better than sigmoid, each at its best rate"),
        Less("train_loss", a={"activation": "tanh"}, b={"activation": "sigmoid"}, where=DEEP, best=TUNED,
             label="depth 10: tanh fits the training set better than sigmoid, each at its best rate"),
        Less("train_loss", a={"activation": "relu"}, b={"activation": "tanh"}, where=DEEP, best=TUNED,
             label="depth 10: ReLU fits the training set better than tanh, each at its best rate"),
        Less("grad_ratio_log10_init", a={"depth": 10}, b={"depth": 3}, where={"activation": "sigmoid", "init": "usual"},
             label="sigmoid: the gradient ratio at init shrinks as depth grows from 3 to 10"),
        Greater("train_loss", a={"depth": 10}, b={"depth": 3}, where={"activation": "sigmoid", "init": "usual"},
                best=TUNED, label="sigmoid: depth 10 fits the training set worse than depth 3, each at its best rate"),
        Greater("grad_ratio_log10_init", a={"init": "large"}, b={"init": "usual"},
                where={"activation": "relu", "depth": 10},
                label="depth 10 ReLU: N(0,1) weights make gradients grow toward the input (explode)", role="mechanism"),
        Less("grad_ratio_log10_init", a={"init": "naive"}, b={"init": "usual"},
             where={"activation": "relu", "depth": 10},
             label="depth 10 ReLU: N(0,0.01) weights make gradients vanish even for ReLU", role="mechanism"),
        Greater("test_acc", a={"activation": "relu"}, b={"activation": "sigmoid"}, where=DEEP, best=TUNED,
                label="depth 10: ReLU reaches a higher test accuracy than sigmoid", role="secondary"),
        Greater("test_acc", a={"activation": "tanh"}, b={"activation": "sigmoid"}, where=DEEP, best=TUNED,
                label="depth 10: tanh reaches a higher test accuracy than sigmoid", role="secondary"),
        Less("test_acc", a={"activation": "tanh"}, b={"activation": "relu"}, where=DEEP, best=TUNED,
             label="depth 10: tanh reaches a lower test accuracy than ReLU", role="secondary"),
    ],
    tiers={
        "smoke": Tier(seeds=2, config={"epochs": 1},
                      factors={"activation": ["sigmoid", "tanh", "relu"], "init": ["usual"], "lr": [0.1]},
                      about="seconds: three activations, one epoch, one rate, to check the machinery"),
        "quick": Tier(seeds=10, factors={"activation": ["sigmoid", "tanh", "relu"]},
                      about="minutes on two cores: sigmoid, tanh and ReLU, every init, seven rates, 20 epochs"),
        "full": Tier(seeds=10, config={"epochs": 100}, factors={"depth": [3, 5, 10, 20]},
                     about="closer to the papers: six activations, depth up to 20, 100 epochs, 10 seeds"),
    },
    # The naive and large inits are probed for their gradients at init, which no rate changes: one rate is enough.
    exclude=[{"init": ["naive", "large"], "lr": [lr for lr in LRS if lr != 0.1]}],
    group_over=("seed", "lr"),
    figures=[Profile(stat="grad_preact_norm"), Profile(stat="activation_var")],
    references=[
        Reference("Glorot & Bengio (2010), table 1", "test_acc", 0.9836, where={"activation": "tanh", **DEEP},
                  unit="fraction", setting=f"tanh, normalized (Xavier) init; {GLOROT_MNIST}",
                  differs="8x8 digits, width 64, depth 10, one fixed rate; 1.64% test error as accuracy; quoted "
                          "from two agreeing transcriptions of the table"),
        Reference("Glorot & Bengio (2010), table 1", "test_acc", 0.9779, where={"activation": "sigmoid", **DEEP},
                  unit="fraction", setting=f"sigmoid, standard U[-1/sqrt(n), 1/sqrt(n)] init; {GLOROT_MNIST}",
                  differs="their sigmoid net has the standard init, ours Xavier; 2.21% test error as accuracy; "
                          "quoted from two agreeing transcriptions of the table"),
    ],
    labels={**LOOP_CURVES, **LAYER_PROBES},
)
def train(ctxs):
    """The seeds and rates of one variant as one grouped network (a single MLP for one run), probed every epoch."""
    from suite.lab.data import dataset_for
    from suite.lab.loop import fit
    from suite.lab.nn.grouped import group, member

    data, cfg = dataset_for(ctxs[0]), ctxs[0].cfg
    model = group([_model(ctx, data) for ctx in ctxs])
    seen = [{} for _ in ctxs]

    def probe(epoch: int, step: int, alive: list[int]) -> None:
        for k in alive:
            _probe(ctxs[k], member(model, k), data, epoch, step, seen[k])

    outcomes = fit(ctxs, model, data, epochs=cfg.epochs, lr=[ctx.cfg.lr for ctx in ctxs], batch_size=cfg.batch_size,
                   optimizer=cfg.optimizer, on_epoch=probe)
    return [_final(ctx, out, s) if isinstance(out, dict) else out for ctx, out, s in zip(ctxs, outcomes, seen)]


def _model(ctx, data):
    from suite.lab.nn.mlp import MLP

    ctx.reseed()  # every seed starts from the weights it gets when it runs alone
    cfg = ctx.cfg
    return MLP(data.n_features, cfg.width, cfg.depth, data.n_classes, cfg.activation, cfg.init).to(ctx.device)


def _probe(ctx, model, data, epoch: int, step: int, seen: dict) -> None:
    """Per-layer statistics on a fixed probe batch; the init's gradient ratios are reported at once, so they
    survive a later divergence."""
    from suite.lab.probes import layer_stats, mean_stat, ratio_log10

    cfg = ctx.cfg
    rows = layer_stats(model, data.x_train[: cfg.probe_batch], data.y_train[: cfg.probe_batch])
    ctx.probe(rows, epoch=epoch, step=step)
    seen[epoch] = rows
    if epoch == 0:
        ctx.report(grad_ratio_log10_init=ratio_log10(rows, "grad_preact_norm"),
                   weight_grad_ratio_log10_init=ratio_log10(rows, "grad_weight_norm"))
        if cfg.activation in ("sigmoid", "tanh"):
            ctx.report(saturated_frac_init=mean_stat(rows, "saturated_frac"))


def _final(ctx, final: dict, seen: dict) -> dict:
    from suite.lab.probes import mean_stat, ratio_log10

    last = seen[max(seen)]
    out = {"test_acc": final["test_acc"], "val_acc": final["val_acc"], "val_loss": final["val_loss"],
           "train_loss": final["train_loss"],
           "grad_ratio_log10_final": ratio_log10(last, "grad_preact_norm")}
    if ctx.cfg.activation in ("sigmoid", "tanh"):
        out["saturated_frac_final"] = mean_stat(last, "saturated_frac")
    if ctx.cfg.activation == "relu":
        out["dead_frac_final"] = mean_stat(last, "dead_frac")
    return out
