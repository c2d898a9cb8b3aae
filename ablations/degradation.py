"""Degradation of deep plain networks, and residual and highway connections (book 5.4; claim B5).

The book: with a deeper network, quality can get worse - not by overfitting, since the training error is worse
too: deeper networks are harder to train. Residual learning (He et al. 2016) lets a block learn H(x) - x with
x added back by a shortcut; highway networks (Srivastava et al. 2015) gate the shortcut,
y = T(x) F(x) + (1 - T(x)) x, with a transform gate T and a carry gate 1 - T. He et al. showed the 34-layer plain
net with a higher training error than the 18-layer one throughout training on ImageNet (figure 4; top-1 validation
error 28.54% against 27.94%), while ResNet-34 beat ResNet-18 (25.03% against 27.88%, table 2).

Setup. On the embedded 8x8 digits (real MNIST in the full tier): a 3x3 stem from 1 to 8 channels with batch norm,
then ``depth`` blocks of two 3x3 convolutions of 8 channels with batch norm (He et al.'s basic block), then global
average pooling and a linear layer. A block is plain, residual (identity shortcut) or highway (transform gate a
sigmoid 3x3 convolution with its bias at -1, Srivastava et al.'s suggestion for ten-odd layers; the gate adds a
third convolution's weights). The shallow nets have 2 blocks (6 weighted layers), the deep ones 6 (14). SGD with
momentum 0.9 as in He et al., at 0.03, 0.1 (their rate), 0.3 and 1 (the first quick run's 0.03-0.3 put the shallow
plain and the highway nets on its upper edge), minibatches of 64, 8 epochs (136 updates, so
the quick tier compares how far each net gets early in training); each arm at its own rate, chosen per stratum on
the validation accuracy. Eight channels and 136 updates are what two CPU cores afford within the quick tier's
minutes (16 channels cost twice as much); a pilot on seed 100, outside every tier, fixed them.

Hypotheses. He et al.'s evidence is the training error, so the core hypotheses are about the training error after
the budget: classification error on the whole training set, in eval mode with batch norm's population statistics
recomputed over the training set (Ioffe & Szegedy 2015, algorithm 2). The running averages alone lag behind weights
trained for 136 updates at these rates: in a pilot on seeds 100-102 a deep plain net's eval-mode training error was
0.12-0.38 with them and 0.08-0.11 with the population statistics, and the first quick run, judged with the running
averages, decided nothing (every interval about 0.3 wide). The core hypotheses: the deep plain net ends higher than
the shallow one (degradation), and the deep residual and deep highway nets end lower than the deep plain one. The
training cross-entropy is the mechanism beside it (it still orders fits that all classify the training set
perfectly); test accuracy, and the deep residual net against the shallow one, are secondary.

What the quick tier shows (seeds 0-4). No hypothesis is decided. The deep plain net ends at a training error of
0.053 against the shallow one's 0.033 (+0.020 [-0.006, 0.046]) and at a training loss of 0.20 against 0.11 nats
(+0.094 [0.015, 0.173]; p = 0.03 alone, 0.089 after Holm over the three mechanism hypotheses): the direction of
degradation, not beyond noise at 5 seeds. On these seeds the deep residual and highway nets do not end lower than
the plain one (0.063 and 0.053 against 0.053). On seeds 5-9, not used before (``--first-seed 5``), every
direction is He et al.'s, still undecided: the deep plain net ends at 0.061 against the shallow one's 0.021
(+0.040 [-0.009, 0.089]) and the deep residual net at 0.017, 0.044 [0.002, 0.086] below the deep plain one (p =
0.043 alone, 0.13 after Holm); highway 0.054. At 14 layers and 136 updates the effects are a few points of
training error and the seeds spread as widely; the highway nets train best at 0.3, the grid's second-highest
rate, as their gates start mostly carrying.

What differs from the sources. He et al.'s CIFAR-10 nets have 20-110 layers, three stages and 64k updates with
a step schedule; Srivastava et al. search 100 settings per depth. Here 6 and 14 layers, one stage, 136 updates on
1,077 images: if degradation exists at this scale, it shows as slower fitting within the budget. The full tier
trains 2, 6 and 18 blocks (up to 38 layers) of 16 channels on MNIST for 20 epochs and tests the 18-block nets in
hypotheses of their own, not run at the quick tier.
"""

from suite.declare import Curves, Greater, Less, Param, Tier
from suite.lab.names import LOOP_CURVES
from suite.lab.recipes import CLASSIFIER_METRICS, TUNED, recipe
from suite.registry import ablation

SHALLOW, DEEP = 2, 6
DEEPEST = 18  # the full tier's deepest nets (38 layers), judged on their own hypotheses there


def _fits(metric: str, role: str, deep: int = DEEP) -> list:
    what = {"train_err": "training error", "train_loss": "training loss"}[metric]
    at = {"depth": deep}
    return [
        Greater(metric, a=at, b={"depth": SHALLOW}, where={"block": "plain"}, best=TUNED, role=role,
                label=f"plain: {deep} blocks end at a higher {what} than {SHALLOW}, each at its best rate"),
        Less(metric, a={"block": "residual"}, b={"block": "plain"}, where=at, best=TUNED, role=role,
             label=f"{deep} blocks: residual ends at a lower {what} than plain, each at its best rate"),
        Less(metric, a={"block": "highway"}, b={"block": "plain"}, where=at, best=TUNED, role=role,
             label=f"{deep} blocks: highway ends at a lower {what} than plain, each at its best rate"),
    ]


@ablation(
    name="degradation",
    section="5.4",
    claim="A deeper plain network trains to a higher training error than a shallower one (degradation); residual "
          "and highway connections remove the gap.",
    data="digits",
    config={**recipe(epochs=8, optimizer="momentum"),
            "channels": Param(8, min=1, help="channels of every block"),
            "carry_bias": Param(-1.0, help="initial bias of the highway transform gate (Srivastava et al. 2015)")},
    factors={"block": ["plain", "residual", "highway"], "depth": [SHALLOW, DEEP], "lr": [0.03, 0.1, 0.3, 1.0]},
    metrics={**CLASSIFIER_METRICS,
             "gate_mean": "highway: mean transform gate T over the blocks on the test set (fraction; 1 - T carries)",
             "train_loss": "training cross-entropy after the budget, in eval mode with population statistics (nats)",
             "train_err": "training error after the budget, in eval mode with population statistics (fraction)"},
    hypotheses=[
        *_fits("train_err", "core"),
        *_fits("train_loss", "mechanism"),
        *_fits("train_err", "core", deep=DEEPEST),
        Less("train_err", a={"depth": DEEP}, b={"depth": SHALLOW}, where={"block": "residual"}, best=TUNED,
             role="secondary", label=f"residual: {DEEP} blocks end at a lower training error than {SHALLOW}"),
        Greater("test_acc", a={"block": "residual"}, b={"block": "plain"}, where={"depth": DEEP}, best=TUNED,
                role="secondary", label=f"{DEEP} blocks: residual reaches a higher test accuracy than plain"),
    ],
    tiers={
        "smoke": Tier(seeds=2, config={"epochs": 1, "channels": 4}, factors={"lr": [0.03]},
                      about="seconds: one epoch, 4 channels, one rate"),
        "quick": Tier(seeds=5, about=f"minutes on two cores: {SHALLOW} and {DEEP} blocks, plain, residual and "
                                     f"highway, four rates, 8 epochs, 5 seeds"),
        "full": Tier(seeds=10, config={"data": "mnist", "epochs": 20, "channels": 16},
                     factors={"depth": [SHALLOW, DEEP, DEEPEST]},
                     about="real MNIST (--data-dir), 2, 6 and 18 blocks of 16 channels (6 to 38 layers), 20 epochs, "
                           "10 seeds"),
    },
    figures=[Curves(metrics=("train_loss",), hue="block", col="depth", x_label="epoch",
                    about="training loss, eval mode, batch norm's running averages (nats)",
                    caption="The final values the hypotheses test are measured again with population statistics.")],
    labels=LOOP_CURVES,
)
def train(ctxs):
    """The stem, ``depth`` blocks of one kind, global pooling and a linear layer, one member at a time."""
    return [_run(ctx) for ctx in ctxs]


def _run(ctx):
    from torch import nn

    from suite.lab.data import dataset_for
    from suite.lab.nn.conv import Block, ConvNet, conv_unit
    from suite.lab.inference import final_metrics
    from suite.lab.vision import train_classifier

    cfg = ctx.cfg
    data = dataset_for(ctx)

    def build():
        c = cfg.channels
        dims = len(data.shape)
        blocks = [Block(c, c, cfg.block, dims, carry_bias=cfg.carry_bias) for _ in range(cfg.depth)]
        return ConvNet(data.shape, nn.Sequential(conv_unit(1, c, 3, dims, bn=True), *blocks), data.n_classes)

    gates = {"gates": _gate_mean(data)} if cfg.block == "highway" else {}
    return train_classifier(ctx, build, data, population=lambda model: final_metrics(model, data), **gates)


def _gate_mean(data):
    def measure(model) -> dict:
        from suite.lab.nn.conv import Block

        model(data.x_test)
        blocks = [m for m in model.modules() if isinstance(m, Block)]
        return {"gate_mean": sum(float(b.gate.mean()) for b in blocks) / len(blocks)}
    return measure
