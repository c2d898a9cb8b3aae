"""The report as one self-contained HTML page (the PDF is rendered from the same page).

Everything shown is computed here from the stored results; the template only lays it out.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pandas as pd

import suite
from suite import present, references, results
from suite.present import fmt
from suite.registry import Ablation
from suite.report.glance import SYMBOLS, data_words, lede, rows as matrix_rows, takeaway
from suite.results import Result
from suite.stats import ALPHA

def badge(verdict: str):
    from markupsafe import Markup, escape

    return Markup(f'<span class="badge {verdict.replace(" ", "-")}">{SYMBOLS.get(verdict, "")} '
                  f'{escape(verdict)}</span>')


def _inline(text: str):
    """Escaped text with the docstrings' ``literal`` markup as code."""
    from markupsafe import Markup, escape

    parts = re.split(r"``(.+?)``", text)
    return Markup("").join(Markup(f"<code>{escape(p)}</code>") if i % 2 else escape(p) for i, p in enumerate(parts))


def paragraphs(text: str) -> list[dict]:
    """A docstring's paragraphs, each with the short lead-in ("Setup.") that some of them start with."""
    out = []
    body = text.split("\n", 1)[1] if "\n" in text else ""  # the first line is a title: the claim says it better
    for para in filter(str.strip, body.split("\n\n")):
        para = " ".join(para.split())
        lead = re.match(r"^([A-Z][\w ,'-]{0,40}\.)\s+(.*)$", para)
        out.append({"lead": lead.group(1), "text": _inline(lead.group(2))} if lead
                   else {"lead": "", "text": _inline(para)})
    return out


def _when(stamp: str) -> str:
    """An ISO timestamp as '2026-11-27 14:31 UTC'."""
    try:
        return dt.datetime.fromisoformat(stamp).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _span(records: list[dict]) -> str | None:
    span = results.finished_range(records)
    if span is None:
        return None
    first, last = _when(span[0]), _when(span[1])
    return first if first == last else f"{first} to {last}"


# The statistics table in the report: the verdict beside the number, so that it stays in view on a phone.
STATS_COLUMNS = ("H", "verdict", "role", "device", "A \u2212 B [95% CI]", "p Holm", "mean A", "mean B", "n A/B", "test",
                 "effect size", "p", "margin")  # the tuned settings, long text, are listed under the table


def _cell(text, number):
    """A table cell that sorts by ``number`` (finite numbers only)."""
    if present.finite(number):
        return {"text": text, "sort": repr(float(number))}
    return text


def stats_table(result: Result) -> dict:
    """The numbers behind each tested hypothesis, one row per (hypothesis, device); those not run are listed
    apart, and each tested one that did not reproduce says why."""
    columns, rows = present.hypothesis_table(result.abl, result.judgement.hypotheses)
    shown = [c for c in STATS_COLUMNS if c in columns]
    tested = [r for r in rows if r["verdict"] not in ("not run", "failed")]
    not_run = [r for r in rows if r["verdict"] in ("not run", "failed")]
    return {"columns": shown,
            "rows": [[badge(r[c]) if c == "verdict" else _cell(r[c], r["sort"].get(c)) for c in shown]
                     for r in tested],
            "why": [{"H": r["H"] + (f" ({r['device']})" if r["device"] != "-" else ""), "verdict": r["verdict"],
                     "text": r["why"]} for r in tested if r["why"] and r["verdict"] != "reproduced"],
            "not_run": [{"H": r["H"], "verdict": r["verdict"], "text": r["why"]} for r in not_run],
            "tuned": [{"H": r["H"] + (f" ({r['device']})" if r["device"] != "-" else ""), "text": r["tuned"]}
                      for r in tested if r["tuned"] != "-"]}


def setup_table(abl: Ablation, result: Result) -> list[tuple[str, str]]:
    tier = abl.tiers[result.tier]
    grid = abl.grid(result.tier)
    config = {k: p.default for k, p in abl.config.items()} | dict(tier.config)
    runs = result.judgement.runs
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(result.judgement.counts.items()))
    wall = pd.to_numeric(runs["wall_s"], errors="coerce")
    rows = [
        ("data", str(config.pop("data", "-"))),
        ("factors", "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in grid.items())),
        ("configuration", ", ".join(f"{k} = {v}" for k, v in config.items())),
        ("budget", tier.about or "-"),
        ("variants \u00d7 seeds", f"{abl.n_variants(result.tier)} \u00d7 {tier.seeds}"),
        ("runs stored", f"{len(result.records)} of {result.planned} planned ({statuses})"),
        ("devices", ", ".join(result.devices)),
        ("compute", f"{present.seconds(wall.sum())} in all, {present.seconds(wall.median())} per run (median)"),
        ("finished", _span(result.records) or "-"),
        ("code version", abl.code_version),
    ]
    return rows


def unfinished_table(result: Result) -> dict | None:
    rows = present.unfinished_rows(result.unfinished)
    if not rows:
        return None
    return {"columns": ["device", "variant", "did not finish"],
            "rows": [[r["device"], r["variant"], r["what"]] for r in rows]}


def devices_section(abl: Ablation, result: Result) -> dict | None:
    """Timing per device, and whether each hypothesis got the same verdict on every device."""
    if len(result.devices) < 2:
        return None
    runs = result.judgement.runs
    timing = []
    for device, g in runs.groupby("device"):
        wall, train = pd.to_numeric(g["wall_s"], errors="coerce"), pd.to_numeric(g["train_s"], errors="coerce")
        rate = pd.to_numeric(g["samples_per_s"], errors="coerce")
        timing.append([device, ", ".join(sorted(set(g["device_name"].dropna().astype(str)))), str(len(g)),
                       present.seconds(wall.median()), present.seconds(train.median()), fmt(rate.median()), present.seconds(wall.sum())])
    h = result.judgement.hypotheses
    index = present.numbers(abl)
    agree = []
    for hyp, g in h.groupby("hypothesis", sort=False):
        by_device = dict(zip(g["device"], g["verdict"]))
        agree.append([f"H{index.get(hyp, '?')}", *(badge(by_device.get(d, "not run")) for d in result.devices),
                      "yes" if len(set(by_device.values())) == 1 else "no"])
    claims = result.judgement.claims
    agree.append(["claim", *(badge(claims.get(d, "not run")) for d in result.devices),
                  "yes" if len(set(claims.values())) == 1 else "no"])
    eq = result.judgement.devices
    equivalence = None
    if not eq.empty:
        factors = [f for f in abl.factors if f in eq.columns and eq[f].nunique() > 1]
        equivalence = {"columns": ["devices", *factors, "metric", "n", "means", "difference [95% CI]", "margin",
                                   "p (TOST)", "verdict"],
                       "rows": [[r["devices"], *(str(r[f]) for f in factors), r["metric"], str(r["n"]),
                                 f"{fmt(r['mean'])} vs {fmt(r['reference'])}",
                                 present.ci(r["diff"], r["ci_low"], r["ci_high"]), fmt(r["margin"]),
                                 fmt(r["p_equivalence"]), r["verdict"]] for r in eq.to_dict("records")],
                       "tolerance": f"{abl.device_tolerance:.0%}"}
    return {"timing": {"columns": ["device", "name", "runs", "wall per run (median)", "training per run (median)",
                                   "samples/s (median)", "wall in all"], "rows": timing},
            "agreement": {"columns": ["H", *result.devices, "agree"], "rows": agree}, "equivalence": equivalence}


def references_table(abl: Ablation, result: Result) -> dict | None:
    """The papers' numbers beside ours (:func:`suite.references.rows`)."""
    rows = references.rows(abl, result)
    if not rows:
        return None
    return {"columns": ["source", "their setting", "metric", "our runs", "theirs", "ours: mean [95% CI]",
                        "direction", "what differs"],
            "rows": [[r["source"] + ("" if r["verified"] else " (unverified)"), r["setting"] or "-", r["metric"],
                      r["variant"], r["theirs"], r["ours"], r["direction"] or "-", r["differs"] or "-"]
                     for r in rows]}


def profile_view(result: Result) -> dict:
    """The claim's profile: the line, and each exception."""
    p = result.judgement.profile
    return {"line": present.profile_line(result),
            "exceptions": [present.exception(e, result.abl) for e in p.exceptions] if p else []}


def tier_view(abl: Ablation, result: Result, figures: list, figures_tier: str, forest) -> dict:
    j = result.judgement
    return {"tier": result.tier, "id": f"{abl.name}-{result.tier}", "verdict": j.claim, "badge": badge(j.claim),
            "by_device": present.by_device(j.claims), "setup": setup_table(abl, result), "stats": stats_table(result),
            "unfinished": unfinished_table(result), "devices": devices_section(abl, result),
            "references": references_table(abl, result), "figures": figures, "figures_tier": figures_tier,
            "profile": profile_view(result), "takeaway": takeaway(result),
            "setting": f"{data_words(abl, result.tier)}; {abl.tiers[result.tier].about or result.tier}",
            "run_cmd": f"python -m suite run {abl.name} --tier {result.tier}"
                       + (" --until-decided" if result.sequential else
                          f" --seeds {result.seeds}" if result.seeds != abl.tiers[result.tier].seeds else ""),
            "forest": forest}


def environment_table(records: list[dict]) -> dict:
    """One column per distinct environment, one row per property: a few environments, many properties."""
    env = results.environments(records)
    if env.empty:
        return {"columns": [], "rows": []}
    env["git_commit"] = env["git_commit"].str[:10]
    cols = ["device", *results.ENV_KEYS, "runs", "ablations"]
    return {"columns": ["", *(f"environment {i}" for i in range(1, len(env) + 1))],
            "rows": [[c.replace("_", " "), *env[c].astype(str)] for c in cols]}


def render(ablations: list[Ablation], by_name: dict, figures: dict, tier_filter: str | None,
           forests: dict | None = None, changes: dict | None = None) -> str:
    """The whole report page. ``by_name``: name -> tier -> Result; ``figures``: (name, tier) -> figures;
    ``forests``: (name, tier) -> the forest plot or None; ``changes``: :func:`suite.report.changes.compare`."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("suite.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    forests = forests or {}
    sections, records = [], []
    for abl in ablations:
        tiers = by_name[abl.name]
        drawn_tier = next((t for t in tiers if figures[abl.name, t]), None)
        run_cmd = f"python -m suite run {abl.name}" + (f" --tier {tier_filter}" if tier_filter else "")
        sections.append({"name": abl.name, "section": abl.section, "claim": abl.claim, "about": paragraphs(abl.about),
                         "hypotheses": [h.describe() for h in abl.hypotheses], "metrics": list(abl.metrics.items()),
                         "tiers": [tier_view(abl, r, figures[abl.name, t], drawn_tier, forests.get((abl.name, t)))
                                   for t, r in tiers.items()],
                         "run_cmd": run_cmd})
        records += [rec for r in tiers.values() for rec in r.records]
    counter = itertools.count(1)
    for s in sections:  # figures are numbered through the report, each claim's forest plot first
        for t in s["tiers"]:
            drawn = ([t["forest"]] if t["forest"] else []) + list(t["figures"])
            numbered = [{"n": next(counter), "uri": f.uri, "caption": f.caption} for f in drawn]
            t["forest"], t["figures"] = (numbered[0], numbered[1:]) if t["forest"] else (None, numbered)
    matrix = matrix_rows(ablations, by_name)
    for row in matrix:
        row["badge"] = badge(row["verdict"])
    return env.get_template("report.html.j2").render(
        version=suite.__version__, generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs_span=_span(records), n_runs=len(records), alpha=ALPHA, matrix=matrix, lede=lede(matrix),
        sections=sections, environment=environment_table(records), changes=changes,
        legend=[(v, badge(v)) for v in ("reproduced", "inconclusive", "contradicted", "not run", "pass")])
