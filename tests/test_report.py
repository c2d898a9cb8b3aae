"""Reports built from a real smoke-tier store: the HTML, the PDF and the CSV tables agree with the stored verdicts."""

import base64
import csv
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pandas as pd
import pytest

from suite import verdicts
from suite.plan import plan
from suite.registry import TIERS, discover
from suite.store import Store
from tests.conftest import run_cli

class _Page(HTMLParser):
    """Ablation sections with their figures and texts, and the rows of the front page's claim matrix."""

    def __init__(self):
        super().__init__()
        self.sections, self.summary, self.h2 = {}, [], 0
        self._section, self._figure = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "ablation" in a.get("class", "").split():
            self._section = self.sections.setdefault(a["data-ablation"], {"figures": [], "text": []})
        elif "data-ablation" in a and "claim-row" in a.get("class", "").split():  # a row of the front page's matrix
            self.summary.append(a)
        elif tag == "h2" and "toc-title" not in a.get("class", ""):
            self.h2 += 1
        elif tag == "figure" and self._section is not None:
            self._figure = {"src": None, "caption": "", "forest": "forest" in a.get("class", "").split()}
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
def built(report_build):
    page = _Page()
    page.feed((report_build["out"] / "report.html").read_text(encoding="utf-8"))
    return {**report_build, "page": page}


@pytest.fixture
def user_ablations(built, monkeypatch):
    monkeypatch.setenv("SUITE_ABLATIONS", built["env"]["SUITE_ABLATIONS"])
    return discover()


def test_html_has_a_section_per_ablation_with_figures_for_those_run(built, user_ablations):
    page = built["page"]
    assert set(page.sections) == set(user_ablations)
    claims = _stored_claims(built["results"])
    assert {name for name, _ in claims} == {"vanishing_gradients", "toy_report", "toy_early"}
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
    first, declared = page.sections["toy_report"]["figures"][:2]
    assert first["forest"] and "Every tested hypothesis" in first["caption"]  # the claim's forest plot opens it
    assert "Trajectories" in declared["caption"]  # then its declared figure, before the common ones


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


def test_pdf_length_is_proportionate(built, user_ablations):
    """A generous bound that a table broken into a page per row, or a figure spread over pages, would exceed:
    front matter, a few pages per claim with results and its figures, and the few a claim not run needs for
    its description and hypotheses."""
    from pypdf import PdfReader

    pages = len(PdfReader(built["out"] / "report.pdf").pages)
    ran = {name for name, _ in _stored_claims(built["results"])}
    figures = sum(len(s["figures"]) for s in built["page"].sections.values())
    bound = 6 + 4 * len(ran) + 3 * len(set(user_ablations) - ran) + figures
    assert pages <= bound, f"{pages} pages for {len(ran)} claims with results and {figures} figures (at most {bound})"


def test_csv_tables(built):
    tables = built["out"] / "tables"
    with open(tables / "claims.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"ablation", "tier", "verdict", "core_reproduced", "core_tested", "mechanism_reproduced",
            "mechanism_tested", "sanity_passed", "sanity_checked", "not_run", "exceptions", "rule", "seeds",
            "devices"} <= set(rows[0])
    vg = next(r for r in rows if r["ablation"] == "vanishing_gradients")
    assert int(vg["core_tested"]) >= 1 and vg["rule"] == "fixed seeds"
    assert {(r["ablation"], r["tier"]) for r in rows} == {("vanishing_gradients", "smoke"), ("toy_report", "smoke"),
                                                          ("toy_early", "smoke")}
    for table, columns in {"hypotheses": {"hypothesis", "role", "verdict", "p_adj", "tier"},
                           "runs": {"key", "status", "wall_s"}}.items():  # short: plain CSV
        with open(tables / "vanishing_gradients" / f"{table}.csv", newline="") as fh:
            assert columns <= set(next(csv.reader(fh))), table
    runs = pd.read_csv(tables / "vanishing_gradients" / "runs.csv")
    for table, columns in {"metrics": {"key", "seed", "device", "activation", "depth", "metric", "value"},
                           "curves": {"key", "activation", "epoch", "metric", "value"},
                           "probes": {"key", "layer", "stat", "value"}}.items():  # long: gzip-compressed, tidy
        path = tables / "vanishing_gradients" / f"{table}.csv.gz"
        assert not path.with_suffix("").exists(), table
        raw = path.read_bytes()
        assert raw[:2] == b"\x1f\x8b" and raw[4:8] == bytes(4), table  # gzip, with a fixed timestamp
        df = pd.read_csv(path)
        assert columns <= set(df.columns) and len(df), table
        assert set(df["key"]) <= set(runs["key"]) and df["value"].notna().any(), table
    assert not list(tables.rglob("*.tmp"))  # written through temporary files, renamed into place


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
