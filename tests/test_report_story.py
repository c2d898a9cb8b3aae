"""What the report tells a reader: the front page's claim x hypothesis matrix, each claim's forest plot, numbers
that sort as numbers, and what changed since an earlier report - on a real store of a toy claim."""

import json
import re

import pytest

from suite.registry import discover
from suite.report.glance import book_order
from tests.conftest import run_cli

@pytest.fixture(scope="module")
def story(report_build):
    return {**report_build, "html": (report_build["out"] / "report.html").read_text(encoding="utf-8")}


def _rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<div class="claim-row" data-ablation="([^"]+)" data-tier="[^"]*" data-verdict="([^"]+)"', html)


def _section(html: str, name: str) -> str:
    """One claim's section: from its start to the next top-level section."""
    start = html.index(f'<section id="abl-{name}"')
    return html[start:re.compile(r'<section id="(abl-|runs)').search(html, start + 1).start()]


def test_the_front_page_matrix_lists_each_claim_in_the_books_order_with_its_hypotheses(story, monkeypatch):
    monkeypatch.setenv("SUITE_ABLATIONS", story["env"]["SUITE_ABLATIONS"])
    ablations = discover()
    html = story["html"]
    rows = _rows(html)
    names = [name for name, _ in rows]
    assert set(names) == set(ablations)  # those not run too
    assert names[:3] == ["toy_report", "toy_early", "vanishing_gradients"]  # sections 0.1, 2.1, 3.3
    assert sorted(names, key=lambda n: book_order(ablations[n])) == names
    matrix = html[html.index('<div id="matrix">'):html.index('<p class="legend')]
    for name, verdict in rows[:3]:
        row = matrix[matrix.index(f'data-ablation="{name}"'):]
        row = row[:row.find('<div class="claim-row"', 1) if '<div class="claim-row"' in row[1:] else None]
        chips = re.findall(r'<span role="listitem" class="hyp ([a-z-]+) role-(\w+)" title="([^"]+)">', row)
        assert len(chips) == len(ablations[name].hypotheses), name
        assert f'class="badge {verdict.replace(" ", "-")}"' in row
        assert re.search(r"core hypothes[ie]s? reproduced|core hypothesis reproduced", row), name
    early = matrix[matrix.index('data-ablation="toy_early"'):]
    assert "A \u2212 B" in early and "p Holm" in early  # the chip's tooltip: the effect and its adjusted p
    assert "The smoke tier checks the machinery" in html  # the tier in words
    toy = matrix[matrix.index('data-ablation="toy_report"'):matrix.index('data-ablation="toy_early"')]
    assert "not run at this tier" in toy  # the arm-c hypothesis, said in the takeaway


def test_each_claim_opens_with_its_forest_plot_and_the_command_that_reproduces_it(story):
    html = story["html"]
    for name in ("toy_report", "toy_early", "vanishing_gradients"):
        section = _section(html, name)
        forest = re.search(r'<figure id="fig-\d+" class="forest">\s*<img src="data:image/svg\+xml;base64,', section)
        assert forest, name
        assert "Every tested hypothesis at a glance" in section
        assert f"python -m suite run {name} --tier smoke" in section
    assert "Not run at this tier: H2" in _section(html, "toy_report")  # the forest's caption names what it could not draw


def test_numeric_columns_sort_by_their_numbers_not_their_text(story):
    html = story["html"]
    table = html[html.index('<table class="sortable stats">'):]
    table = table[:table.index("</table>")]
    header = re.findall(r"<th[^>]*>([^<]+)</th>", table)
    assert header[:2] == ["H", "verdict"]  # the verdict stays in view on a narrow screen
    sorts = re.findall(r'<td data-sort="([^"]+)">', table)
    assert sorts and all(float(s) == float(s) for s in sorts)
    assert "&lt; 0.001" in table  # a tiny p value, as readers expect it; its cell still sorts by the number


def test_the_next_report_says_what_changed(story, tmp_path):
    earlier = json.loads((story["out"] / "verdicts.json").read_text())
    claim = next(c for c in earlier["claims"] if c["ablation"] == "toy_early")
    claim["verdict"] = "not reproduced"
    hyp = next(h for h in earlier["hypotheses"] if h["ablation"] == "toy_early")
    hyp["verdict"], hyp["diff"] = "contradicted", -1.0
    (tmp_path / "before.json").write_text(json.dumps(earlier))
    out = tmp_path / "again"
    rep = run_cli("report", "toy_report", "toy_early", "--out", str(out), "--format", "html", "--compare",
                  str(tmp_path / "before.json"), results=story["results"], env=story["env"])
    assert rep.returncode == 0, rep.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    changes = html[html.index('id="changes"'):html.index('<nav id="contents"')]
    assert "toy_early" in changes and "not reproduced" in changes and "contradicted" in changes
    assert "toy_report" not in changes  # unchanged
    # The default comparison is the report already in --out: unchanged since, so said so.
    rep = run_cli("report", "toy_report", "toy_early", "--out", str(out), "--format", "html",
                  results=story["results"], env=story["env"])
    assert rep.returncode == 0, rep.stderr
    assert "No claim or hypothesis changed its verdict" in (out / "report.html").read_text(encoding="utf-8")
    missing = run_cli("report", "toy_early", "--out", str(out), "--compare", str(tmp_path / "nope.json"),
                      results=story["results"], env=story["env"])
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nope.json" in missing.stderr


BROKEN = '''
from suite.declare import Custom, Greater, Param, Tier
from suite.registry import ablation


def _broken(data):
    raise ZeroDivisionError("the figure divided by zero")


@ablation(name="toy_broken_figure", section="0.2", claim="Arm y scores higher than arm x.", data=None,
          config={"epochs": Param(1, min=1)}, factors={"arm": ["x", "y"]},
          metrics={"score": "score after training (points)"},
          hypotheses=[Greater("score", a={"arm": "y"}, b={"arm": "x"})],
          tiers={"smoke": Tier(seeds=2), "quick": Tier(seeds=2), "full": Tier(seeds=2)},
          figures=[Custom(draw=_broken, caption="never drawn")])
def train(ctxs):
    return [{"score": (2.0 if ctx.cfg.arm == "y" else 1.0) + 0.01 * ctx.seed} for ctx in ctxs]
'''


def test_a_figure_that_fails_is_one_line_naming_its_claim(story, tmp_path):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "toy_broken_figure.py").write_text(BROKEN)
    env = {"SUITE_ABLATIONS": str(tmp_path / "user")}
    ran = run_cli("run", "toy_broken_figure", "--tier", "smoke", "--no-progress", results=tmp_path / "r", env=env)
    assert ran.returncode == 0, ran.stderr
    # Beside another claim, so that the figures are drawn by worker processes where there are several cores.
    both = {"SUITE_ABLATIONS": f"{tmp_path / 'user'}:{story['env']['SUITE_ABLATIONS']}"}
    rep = run_cli("report", "toy_broken_figure", "toy_early", "--out", str(tmp_path / "out"), "--format", "html",
                  results=tmp_path / "r", env=both)
    assert rep.returncode == 1 and rep.stderr.count("\n") == 1, rep.stderr
    assert "toy_broken_figure (smoke tier)" in rep.stderr and "ZeroDivisionError: the figure divided" in rep.stderr
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"schema": 1, "claims": [{}], "hypotheses": []}')
    bad = run_cli("report", "toy_early", "--out", str(tmp_path / "out2"), "--compare", str(malformed),
                  results=story["results"], env=story["env"])
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "malformed.json" in bad.stderr
