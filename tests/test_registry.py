"""Declarations are validated at import: a bad one fails with a message naming the ablation and the field."""

from pathlib import Path

import pytest

from suite.errors import DeclarationError, UsageError
from suite.declare import Curves, Greater, Less, Param, Points, Reference, Tier
from suite.registry import ablation, discover, get, validate


def _train(ctxs):
    return [{} for _ in ctxs]


def decl(**changes):
    base = dict(
        name="toy", section="1.1", claim="A is better than B.", data="digits",
        factors={"arm": ["a", "b"], "depth": [1, 2]}, metrics={"acc": "accuracy"},
        hypotheses=[Greater("acc", a={"arm": "a"}, b={"arm": "b"}, where={"depth": 2})],
        tiers={"smoke": Tier(seeds=1), "quick": Tier(seeds=2), "full": Tier(seeds=3, factors={"depth": [1, 2, 3]})},
        config={"lr": Param(0.1, min=0.0), "epochs": 2}, train=_train,
    )
    return base | changes


def test_valid_declaration_builds_grid_and_params():
    abl = validate(**decl())
    assert abl.grid("full") == {"arm": ("a", "b"), "depth": (1, 2, 3)}
    assert abl.n_variants("smoke") == 4 and abl.n_variants("full") == 6
    assert abl.config["epochs"].default == 2 and abl.config["data"].default == "digits"
    assert abl.factor_values("depth") == [1, 2, 3]


@pytest.mark.parametrize("changes, field", [
    ({"name": "not a name"}, "name"),
    ({"claim": " "}, "claim"),
    ({"data": "imagenet"}, "data"),
    ({"factors": {}}, "factors"),
    ({"factors": {"arm": []}}, "factors.arm"),
    ({"factors": {"arm": ["a", 1]}}, "factors.arm"),
    ({"factors": {"arm": ["a", "a"]}}, "factors.arm"),
    ({"factors": {"seed": [1, 2]}}, "factors.seed"),
    ({"factors": {"lr": [0.1, 0.2]}}, "factors.lr"),
    ({"config": {"lr": [0.1]}}, "config.lr"),
    ({"config": {"opt": Param("sgd", choices=("adam",))}}, "config.opt"),
    ({"metrics": {}}, "metrics"),
    ({"tiers": {"smoke": Tier(seeds=1), "quick": Tier(seeds=1)}}, "tiers"),
    ({"tiers": {"smoke": Tier(seeds=0), "quick": Tier(seeds=1), "full": Tier(seeds=1)}}, "tiers.smoke.seeds"),
    ({"tiers": {"smoke": Tier(seeds=1, config={"nope": 1}), "quick": Tier(seeds=1), "full": Tier(seeds=1)}},
     "tiers.smoke.config.nope"),
    ({"tiers": {"smoke": Tier(seeds=1, config={"epochs": "x"}), "quick": Tier(seeds=1), "full": Tier(seeds=1)}},
     "tiers.smoke.config.epochs"),
    ({"tiers": {"smoke": Tier(seeds=1, factors={"nope": [1]}), "quick": Tier(seeds=1), "full": Tier(seeds=1)}},
     "tiers.smoke.factors.nope"),
    ({"hypotheses": [Greater("loss", a={"arm": "a"}, b={"arm": "b"})]}, "hypotheses[0].metric"),
    ({"hypotheses": [Greater("acc", a={"arm": "c"}, b={"arm": "b"})]}, "hypotheses[0].a.arm"),
    ({"hypotheses": [Less("acc", a={"arm": "a"}, b={"depth": 1})]}, "hypotheses[0]"),
    ({"hypotheses": [Less("acc", a={"arm": "a"}, b={"arm": "b"}, where={"width": 3})]}, "hypotheses[0].where.width"),
    ({"hypotheses": ["acc is higher"]}, "hypotheses[0]"),
    ({"train": lambda: None}, "train"),
    ({"group_over": ["width"]}, "group_over"),
    ({"group_over": "seed"}, "group_over"),
    ({"figures": ["a plot"]}, "figures[0]"),
    ({"figures": [Curves(hue="width")]}, "figures[0].hue"),
    ({"figures": [Points(metric="acc", where={"width": 3})]}, "figures[0].where.width"),
    ({"references": [Reference("Paper (2000)", "loss", 0.5)]}, "references[0].metric"),
    ({"exclude": [{"width": 3}]}, "exclude[0].width"),
    ({"exclude": [{"depth": 7}]}, "exclude[0].depth"),
    ({"exclude": [{}]}, "exclude[0]"),
])
def test_bad_declaration_names_ablation_and_field(changes, field):
    with pytest.raises(DeclarationError) as err:
        validate(**decl(**changes))
    message = str(err.value)
    assert "'toy'" in message or "not a name" in message
    assert f"'{field}'" in message
    assert "\n" not in message


def test_excluded_combinations_leave_the_plan_and_the_variant_count():
    from suite.plan import plan
    abl = validate(**decl(exclude=[{"arm": "b", "depth": [2, 3]}]))
    assert abl.n_variants("smoke") == 3 and abl.n_variants("full") == 4
    variants = [(s.factors["arm"], s.factors["depth"]) for s in plan(abl, "full", seeds=1)]
    assert variants == [("a", 1), ("a", 2), ("a", 3), ("b", 1)]


def test_hypothesis_values_may_come_from_any_tier():
    hyp = [Less("acc", a={"depth": 3}, b={"depth": 1}, where={"arm": "a"})]
    assert validate(**decl(hypotheses=hyp)).hypotheses[0].a == {"depth": 3}


def test_decorator_registers_and_refuses_a_second_module_with_the_same_name():
    registry = discover()
    assert "vanishing_gradients" in registry
    with pytest.raises(DeclarationError, match="already registered"):
        ablation(**{k: v for k, v in decl(name="vanishing_gradients").items() if k != "train"})(_train)


def test_unknown_ablation_suggests_a_close_match():
    with pytest.raises(UsageError, match="did you mean 'vanishing_gradients'"):
        get("vanishing_gradient")


def test_discovering_the_ablations_does_not_import_torch():
    """`list` and `show` read declarations only: torch (most of a second to import) loads when a run needs it."""
    import subprocess
    import sys

    code = "import sys; from suite.registry import discover; discover(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_code_version_covers_the_lab_and_ablation_modules_an_ablation_imports(tmp_path, monkeypatch):
    """Editing the training procedure it borrows from another ablation module, or a lab module it imports inside
    its train function, gives an ablation a new code version, hence new run keys."""
    from suite import fingerprint, registry

    abl = get("optimizers_schedules")
    real = fingerprint.module_path
    for module in ("ablations.optimizers", "suite.lab.loop", "suite.lab.optim", "suite.context"):
        edited = tmp_path / f"{module}.py"
        edited.write_text(real(module).read_text() + "\nEDITED = 1\n")
        monkeypatch.setattr(fingerprint, "module_path", lambda n, m=module, e=edited: e if n == m else real(n))
        assert registry._code_version(abl.train) != abl.code_version, module
    monkeypatch.setattr(fingerprint, "module_path", real)
    assert registry._code_version(abl.train) == abl.code_version
    assert real("numpy") is None and real("json") is None and real("suite.registry") is None  # libraries, engine


def test_editing_what_only_judges_runs_keeps_the_code_version(tmp_path, monkeypatch):
    """Hypotheses, margins, metric descriptions, labels and docstrings judge or describe runs, tiers and exclusions
    choose them: editing them re-judges or re-plans stored runs instead of re-running them. What the training reads - a config value, the train function,
    a constant that another ablation module imports - still changes the version."""
    from suite import fingerprint

    source = Path("ablations/forget_bias.py").read_text()
    base = fingerprint.code_version(source, "ablations")
    judging_edits = [
        source.replace('"""', '"""Edited. ', 1),
        source.replace("Less(\"steps_to_solve\"", "Greater(\"steps_to_solve\"", 1),
        source.replace("label=\"both lengths: bias 1", "label=\"edited: bias 1", 1),
        source.replace("figures=[", "figures=[Profile(stat='x'), ", 1),
        source + "\n# a comment\n",
        # Tiers and exclusions choose runs; each run's key holds its resolved config, seed and tier.
        source.replace('"quick": Tier(seeds=', '"quick": Tier(seeds=1 + ', 1),
        source.replace("tiers={", "exclude=[{\"lag\": 9999}], tiers={", 1),
    ]
    for edited in judging_edits:
        assert edited != source
        assert fingerprint.code_version(edited, "ablations") == base
    assert fingerprint.code_version(source.replace("def train(ctxs):", "def train(ctxs):\n    x = 1", 1),
                                    "ablations") != base
    # recurrent_lag's METRICS and CONFIG: forget_bias borrows the descriptions (an edit re-judges) and the config
    # its runs read (an edit re-runs).
    lag = Path("ablations/recurrent_lag.py").read_text()
    lag_base = fingerprint.code_version(lag, "ablations")
    assert fingerprint.code_version(lag.replace('"test accuracy (adding', '"edited (adding', 1), "ablations") == lag_base
    real = fingerprint.module_path
    edited = tmp_path / "recurrent_lag.py"
    monkeypatch.setattr(fingerprint, "module_path", lambda n: edited if n == "ablations.recurrent_lag" else real(n))
    edited.write_text(lag.replace("METRICS = {", "METRICS = {\"new\": \"x\", ", 1))
    assert fingerprint.code_version(source, "ablations") == base
    edited.write_text(lag.replace("CONFIG = {", "CONFIG = {\"new\": 1, ", 1))
    assert fingerprint.code_version(source, "ablations") != base


def test_editing_a_tier_re_plans_stored_runs():
    """A tier's seed count chooses runs: the runs both plans hold keep their keys. A tier's config value is in each
    run's key. The plan version, under which --until-decided files where it stopped, changes with either."""
    from dataclasses import replace

    from suite.plan import plan

    abl = get("forget_bias")
    smoke = abl.tiers["smoke"]
    more = replace(abl, tiers={**abl.tiers, "smoke": replace(smoke, seeds=smoke.seeds + 1)})
    longer = replace(abl, tiers={**abl.tiers, "smoke": replace(smoke, config={**smoke.config, "steps": 6})})
    keys = {name: {s.key for s in plan(a, "smoke", devices=["cpu"])}
            for name, a in (("abl", abl), ("more", more), ("longer", longer))}
    assert keys["abl"] < keys["more"] and not keys["abl"] & keys["longer"]
    versions = {a.plan_version("smoke") for a in (abl, more, longer)} | {abl.plan_version("quick")}
    assert len(versions) == 4 and abl.plan_version("smoke") == get("forget_bias").plan_version("smoke")
    assert replace(abl, exclude=({"lag": (20,)},)).plan_version("smoke") != abl.plan_version("smoke")


def test_the_code_version_always_covers_the_engine_modules_that_decide_numbers(tmp_path, monkeypatch):
    """optimizers_ravine imports nothing of the lab, but its runs are seeded by suite.context all the same."""
    from suite import fingerprint, registry

    abl = get("optimizers_ravine")
    real = fingerprint.module_path
    edited = tmp_path / "context.py"
    edited.write_text(real("suite.context").read_text().replace("def derive_seed", "def derive_seed_"))
    monkeypatch.setattr(fingerprint, "module_path", lambda n: edited if n == "suite.context" else real(n))
    assert registry._code_version(abl.train) != abl.code_version


def test_the_code_version_follows_relative_imports_of_a_users_package(tmp_path, monkeypatch):
    from suite import fingerprint

    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("from .core import SCALE\n")
    (tmp_path / "mypkg" / "core.py").write_text("SCALE = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = "def train(ctxs):\n    from mypkg import SCALE\n"
    before = fingerprint.code_version(source)
    (tmp_path / "mypkg" / "core.py").write_text("SCALE = 2.0\n")
    fingerprint.module_path.cache_clear()
    assert fingerprint.code_version(source) != before
