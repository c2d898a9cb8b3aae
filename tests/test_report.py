"""Reports built from a real smoke-tier store: the HTML, the PDF and the CSV tables agree with the stored verdicts."""

import base64
import csv
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from suite import verdicts
from suite.plan import plan
from suite.registry import TIERS, discover
from suite.store import Store
from tests.conftest import run_cli

# A second claim, run beside vanishing_gradients, that exercises what a report must cope with: one arm always
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


class _Page(HTMLParser):
    """Ablation sections with their figures and texts, and the summary table's rows."""

    def __init__(self):
        super().__init__()
        self.sections, self.summary, self.h2 = {}, [], 0
        self._section, self._figure = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "ablation" in a.get("class", "").split():
            self._section = self.sections.setdefault(a["data-ablation"], {"figures": [], "text": []})
        elif tag == "tr" and "data-ablation" in a:
            self.summary.append(a)
        elif tag == "h2" and "toc-title" not in a.get("class", ""):
            self.h2 += 1
        elif tag == "figure" and self._section is not None:
            self._figure = {"src": None, "caption": ""}
            self._section["figures"].append(self._figure)
        elif tag == "img" and self._figure is not None:
            self._figure["src"] = a.get("src")

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._figure is not None:
            self._figure["caption"] += data
        elif self._section is not None:
            self._section["text"].append(data)


def _stored_claims(results) -> dict:
    """(ablation, tier) -> claim verdict, judged here straight from the store."""
    out = {}
    for name, abl in discover().items():
        for tier in TIERS:
            keys = [s.key for s in plan(abl, tier, devices=["cpu"])]
            records = list(Store(results).records(name, keys=keys))
            if records:
                out[name, tier] = verdicts.judge(abl, records).claim
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    (base / "user").mkdir()
    (base / "user" / "toy_report.py").write_text(textwrap.dedent(TOY))
    env = {"SUITE_ABLATIONS": str(base / "user")}
    results, out = base / "results", base / "out"
    for name, jobs in (("vanishing_gradients", "2"), ("toy_report", "1")):  # the toy's runs take no time
        ran = run_cli("run", name, "--tier", "smoke", "--no-progress", "--jobs", jobs, results=results, env=env)
        assert ran.returncode == 0, ran.stderr
    rep = run_cli("report", "--out", str(out), "--format", "html,pdf,csv", results=results, env=env)
    assert rep.returncode == 0, rep.stderr
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    return {"results": results, "out": out, "env": env, "page": page, "stdout": rep.stdout}


@pytest.fixture
def user_ablations(built, monkeypatch):
    monkeypatch.setenv("SUITE_ABLATIONS", built["env"]["SUITE_ABLATIONS"])
    return discover()


def test_html_has_a_section_per_ablation_with_figures_for_those_run(built, user_ablations):
    page = built["page"]
    assert set(page.sections) == set(user_ablations)
    claims = _stored_claims(built["results"])
    assert {name for name, _ in claims} == {"vanishing_gradients", "toy_report"}
    for name, section in page.sections.items():
        text = " ".join(" ".join(section["text"]).split())
        if any(n == name for n, _ in claims):
            assert section["figures"], name
            for fig in section["figures"]:
                assert fig["caption"].strip()
                svg = base64.b64decode(fig["src"].removeprefix("data:image/svg+xml;base64,"))
                assert ET.fromstring(svg).tag.endswith("svg")
        else:  # registered but never run: a short pointer, not an error
            assert not section["figures"]
            assert f"not run: python -m suite run {name}" in text
    toy = " ".join(" ".join(page.sections["toy_report"]["text"]).split())
    assert "3 of 3 seeds diverged" in toy and "arm = a, boom = True" in toy
    assert "not run" in toy  # the hypothesis about arm c
    assert "A: boom={False} | B: boom={False}" in toy  # each side's best half of boom: the arm that never diverged
    assert " nan " not in f" {toy} "
    assert "Toy and Model (2001)" in toy  # its declared reference number, beside ours
    assert "Trajectories" in page.sections["toy_report"]["figures"][0]["caption"]  # its declared figure comes first


def test_summary_table_matches_the_stored_verdicts(built, user_ablations):
    claims = _stored_claims(built["results"])
    shown = {(r["data-ablation"], r["data-tier"]): r["data-verdict"] for r in built["page"].summary}
    assert {k: v for k, v in shown.items() if k[1] != "-"} == claims
    assert {name for name, tier in shown if tier == "-"} == set(user_ablations) - {n for n, _ in claims}
    assert all(v == "not run" for (_, tier), v in shown.items() if tier == "-")


def test_pdf_has_a_bookmark_per_section_and_each_claims_verdict(built, user_ablations):
    from pypdf import PdfReader

    reader = PdfReader(built["out"] / "report.pdf")
    assert len(reader.pages) > 0
    title, sections = reader.outline[0], reader.outline[1]
    assert title.title.startswith("Deep-learning claims")
    assert len([s for s in sections if not isinstance(s, list)]) == built["page"].h2
    claims = _stored_claims(built["results"])
    starts = {s.title.split()[0]: reader.get_destination_page_number(s) for s in sections if not isinstance(s, list)}
    order = sorted(starts.values()) + [len(reader.pages)]
    for name in user_ablations:
        first = starts[name]
        last = next(p for p in order if p > first)
        text = " ".join(" ".join(reader.pages[i].extract_text() for i in range(first, last)).split())
        expected = [v for (n, _), v in claims.items() if n == name] or ["not run"]
        assert name in text and all(v in text for v in expected), name


def test_csv_tables(built):
    tables = built["out"] / "tables"
    with open(tables / "claims.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"ablation", "tier", "verdict", "core_reproduced", "core_tested", "mechanism_reproduced",
            "mechanism_tested", "sanity_passed", "sanity_checked", "not_run", "exceptions", "rule", "seeds",
            "devices"} <= set(rows[0])
    vg = next(r for r in rows if r["ablation"] == "vanishing_gradients")
    assert int(vg["core_tested"]) >= 1 and vg["rule"] == "fixed seeds"
    assert {(r["ablation"], r["tier"]) for r in rows} == {("vanishing_gradients", "smoke"), ("toy_report", "smoke")}
    for table, columns in {"metrics": {"key", "seed", "device", "activation", "depth", "metric", "value"},
                           "curves": {"key", "activation", "epoch", "metric", "value"},
                           "probes": {"key", "layer", "stat", "value"},
                           "hypotheses": {"hypothesis", "role", "verdict", "p_adj", "tier"},
                           "runs": {"key", "status", "wall_s"}}.items():
        with open(tables / "vanishing_gradients" / f"{table}.csv", newline="") as fh:
            assert columns <= set(next(csv.reader(fh))), table


def test_bad_format_and_unknown_ablation_are_one_line_errors(cli, tmp_path):
    bad = cli("report", "--format", "html,docx", "--out", str(tmp_path), results=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "docx" in bad.stderr
    unknown = cli("report", "vanishing_gradient", "--out", str(tmp_path), results=tmp_path)
    assert unknown.returncode == 2 and "did you mean 'vanishing_gradients'" in unknown.stderr


def test_a_tier_without_results_reports_not_run(built, cli, tmp_path):
    out = cli("report", "vanishing_gradients", "--tier", "quick", "--format", "html", "--out", str(tmp_path),
              results=built["results"])
    assert out.returncode == 0, out.stderr
    page = _Page()
    page.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    text = " ".join(" ".join(page.sections["vanishing_gradients"]["text"]).split())
    assert "not run: python -m suite run vanishing_gradients --tier quick" in text
    assert [r["data-verdict"] for r in page.summary] == ["not run"]
