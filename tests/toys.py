"""Toy claims that the report tests run beside vanishing_gradients: they take no time to train."""

# A claim, run beside vanishing_gradients, that exercises what a report must cope with: one arm always
# diverges, and one hypothesis needs an arm that the smoke tier leaves out ("not run").
TOY = '''
from suite.context import Diverged
from suite.declare import Greater, Param, Path, Reference, Tier
from suite.registry import ablation


@ablation(name="toy_report", section="0.1", claim="Arm b scores higher than arm a.", data=None,
          config={"epochs": Param(4, min=1)}, factors={"arm": ["a", "b", "c"], "boom": [False, True]},
          metrics={"score": "score after training (points)"},
          hypotheses=[Greater("score", a={"arm": "b"}, b={"arm": "a"}, where={"boom": False}),
                      Greater("score", a={"arm": "c"}, b={"arm": "a"}, where={"boom": False}),
                      Greater("score", a={"arm": "b"}, b={"arm": "a"}, top={"boom": ("score", 0.5)})],
          tiers={"smoke": Tier(seeds=3, factors={"arm": ["a", "b"]}), "quick": Tier(seeds=3), "full": Tier(seeds=3)},
          figures=[Path(x="x1", y="x2")],
          references=[Reference(source="Toy and Model (2001)", metric="score", value=8.0,
                                where={"arm": "b", "boom": False})])
def train(ctxs):
    return [_train(ctx) for ctx in ctxs]


def _train(ctx):
    slope = {"a": 1.0, "b": 2.0, "c": 3.0}[ctx.cfg.arm]
    for epoch in range(ctx.cfg.epochs + 1):
        if ctx.cfg.boom and epoch == 2:
            return Diverged(epoch, f"loss became nan at step {epoch}")
        ctx.log(epoch, score=slope * epoch + 0.1 * ctx.seed, x1=0.5 ** epoch, x2=(-0.5) ** epoch * slope)
        ctx.probe([{"layer": i, "stat": "weight_norm", "value": slope * i + ctx.seed} for i in (1, 2, 3)],
                  epoch=epoch, step=epoch)
    return {"score": slope * ctx.cfg.epochs + 0.1 * ctx.seed}
'''

# A second toy claim, from section 2.1: with the toy above (0.1) and vanishing_gradients (3.3), the book's order.
EARLY = '''
from suite.declare import Greater, Param, Tier
from suite.registry import ablation


@ablation(name="toy_early", section="2.1", claim="Arm y scores higher than arm x.", data=None,
          config={"epochs": Param(2, min=1)}, factors={"arm": ["x", "y"]},
          metrics={"score": "score after training (points)"},
          hypotheses=[Greater("score", a={"arm": "y"}, b={"arm": "x"})],
          tiers={"smoke": Tier(seeds=3), "quick": Tier(seeds=3), "full": Tier(seeds=3)})
def train(ctxs):
    return [{"score": (2.0 if ctx.cfg.arm == "y" else 1.0) + 0.01 * ctx.seed} for ctx in ctxs]
'''
