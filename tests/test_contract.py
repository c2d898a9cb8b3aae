"""The contract every registered ablation keeps, checked over the whole registry (as timm tests every registered
model): its smoke tier runs, every declared metric appears in its records, every hypothesis is judged or says why
not, and where it trains runs as a group, each run gets the numbers it gets alone (in float64, so that rounding
cannot hide a difference)."""

import math

import pytest
import torch

from suite import execute, results
from suite.execute import execute_group, groups
from suite.plan import plan
from suite.present import VERDICTS
from suite.registry import discover
from suite.store import Store

ABLATIONS = discover()
NAMES = sorted(ABLATIONS)
GROUPED = sorted(n for n, a in ABLATIONS.items() if a.group_over)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Every smoke tier, run once into one store, as ``python -m suite run all --tier smoke`` would."""
    store = Store(tmp_path_factory.mktemp("contract"))
    specs = {name: plan(abl, "smoke") for name, abl in ABLATIONS.items()}
    execute.run([s for ss in specs.values() for s in ss], store, jobs=2, progress_bar=False)
    return {name: results.collect(ABLATIONS[name], ss, store) for name, ss in specs.items()}


@pytest.mark.parametrize("name", NAMES)
def test_each_claim_has_a_module_named_after_it(name):
    assert ABLATIONS[name].module == f"ablations.{name}"


@pytest.mark.parametrize("name", NAMES)
def test_the_smoke_tier_runs_and_records_every_declared_metric(smoke, name):
    result = smoke[name]
    assert len(result.records) == result.planned > 0
    assert "failed" not in {r["status"] for r in result.records}, [r.get("error") for r in result.records]
    recorded = {m for r in result.records for m in r["metrics"]}
    assert set(result.abl.metrics) <= recorded, f"declared but never recorded: {set(result.abl.metrics) - recorded}"
    assert recorded <= set(result.abl.metrics), f"recorded but not declared: {recorded - set(result.abl.metrics)}"


@pytest.mark.parametrize("name", NAMES)
def test_every_hypothesis_is_judged_or_says_why_not(smoke, name):
    h = smoke[name].judgement.hypotheses
    assert list(h["hypothesis"]) == [hyp.describe() for hyp in smoke[name].abl.hypotheses]
    for row in h.to_dict("records"):
        assert row["verdict"] in VERDICTS
        tested = row["verdict"] != "not run" and row["test"] != "none"
        assert tested or isinstance(row.get("why"), str) and row["why"], row


@pytest.mark.parametrize("name", NAMES)
def test_declared_figures_and_labels_name_what_the_runs_record(smoke, name):
    result, abl = smoke[name], smoke[name].abl
    logged = set(result.curves["metric"]) if not result.curves.empty else set()
    probed = set(result.probes["stat"]) if not result.probes.empty else set()
    for fig in abl.figures:
        if hasattr(fig, "stat"):
            assert fig.stat in probed, f"figure of probe {fig.stat!r}, which no run records"
    described = set(abl.metrics) | set(abl.labels)
    assert logged <= described, f"logged without a description: {logged - described}"
    assert probed <= described, f"probed without a description: {probed - described}"


@pytest.fixture
def float64():
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", GROUPED)
def test_a_group_gives_each_run_the_numbers_of_its_run_alone(float64, tmp_path, name):
    specs = plan(ABLATIONS[name], "smoke", seeds=3)
    grouped = groups(specs, grouped=True)
    assert any(len(g) > 1 for g in grouped)
    for group in grouped:
        execute_group(group, str(tmp_path / "grouped"))
    for spec in specs:
        execute_group([spec], str(tmp_path / "alone"))
    together = {r["key"]: r for r in Store(tmp_path / "grouped").records(name)}
    alone = {r["key"]: r for r in Store(tmp_path / "alone").records(name)}
    assert together.keys() == alone.keys() == {s.key for s in specs}
    for key, a in alone.items():
        t = together[key]
        assert (t["status"], t.get("diverged_step")) == (a["status"], a.get("diverged_step"))
        metrics = [m for m in a["metrics"] if not m.endswith("_s")]  # wall-clock times differ
        assert sorted(t["metrics"]) == sorted(a["metrics"])
        assert all(_close(t["metrics"][m], a["metrics"][m]) for m in metrics), \
            {m: (t["metrics"][m], a["metrics"][m]) for m in metrics if not _close(t["metrics"][m], a["metrics"][m])}
        for kind in ("curves", "probes"):
            assert {c: v for c, v in t[kind].items() if c != "value"} == {c: v for c, v in a[kind].items() if c != "value"}
            assert all(_close(x, y) for x, y in zip(t[kind].get("value", []), a[kind].get("value", []))), kind
