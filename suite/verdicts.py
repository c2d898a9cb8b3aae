"""Judge an ablation's hypotheses from its stored records (never from code that knows the answer), and grade the
claim from its core hypotheses (:class:`Profile`).

Each hypothesis is judged per device:

1. Both sides are restricted to the slice ``where`` (failed runs set aside: they are evidence of nothing).
2. Tuning, per stratum: the strata are the factors that the hypothesis neither compares nor tunes and that vary
   in the slice. In each stratum, each side keeps its own best setting (``best``) or best fraction of settings
   (``top``), ranked by its mean of the selection metric over seeds.
3. The unit of replication is the seed: a side's kept runs of one seed (its strata, its kept settings) are
   averaged into one value per seed. The sides pair on the seed unless they kept different ``top`` settings.
4. The test fits the outcome (:mod:`suite.stats`): t tests for continuous metrics, exact tests for binary ones,
   censoring-aware tests for steps to a target. Core, mechanism and secondary hypotheses are Holm-adjusted as three
   families;
   sanity checks get no p value and pass when every seed satisfies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from suite import stats, tables
from suite.declare import Hypothesis
from suite.registry import Ablation

TESTED = ("reproduced", "contradicted", "inconclusive")
DIFFERS = "differs by device"  # the claim's word when devices give different profiles


@dataclass
class Profile:
    """A claim's graded verdict on one device (:func:`suite.stats.profile_verdict`) and the counts behind it."""

    verdict: str
    core: tuple[int, int]       # (reproduced, tested)
    mechanism: tuple[int, int]  # (reproduced, tested)
    secondary: tuple[int, int]  # (reproduced, tested)
    sanity: tuple[int, int]     # (passed, checked)
    not_run: int                # hypotheses not run or failed, any role
    exceptions: list[dict] = field(default_factory=list)  # tested core hypotheses that did not reproduce

    def counts(self) -> str:
        """'core 4 of 5, mechanism 4 of 4, sanity 1 of 1 passed, 2 not run'."""
        parts = [f"core {self.core[0]} of {self.core[1]}"]
        for role in ("mechanism", "secondary"):
            done, tested = getattr(self, role)
            if tested:
                parts.append(f"{role} {done} of {tested}")
        if self.sanity[1]:
            parts.append(f"sanity {self.sanity[0]} of {self.sanity[1]} passed")
        if self.not_run:
            parts.append(f"{self.not_run} not run")
        return ", ".join(parts)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "core": {"reproduced": self.core[0], "tested": self.core[1]},
                "mechanism": {"reproduced": self.mechanism[0], "tested": self.mechanism[1]},
                "secondary": {"reproduced": self.secondary[0], "tested": self.secondary[1]},
                "sanity": {"passed": self.sanity[0], "checked": self.sanity[1]}, "not_run": self.not_run,
                "exceptions": [{k: _finite_or_none(e.get(k)) for k in ("H", "hypothesis", "verdict", "diff", "ci_low",
                                                                        "ci_high", "mean_a", "mean_b", "p_adj")}
                               for e in self.exceptions]}


def _finite_or_none(x):
    """JSON has no NaN or infinity: a missing or unbounded number is null."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def profile(rows: list[dict], number: dict[str, int]) -> Profile:
    """The profile of one device's judged hypothesis rows."""
    def count(role, good):
        mine = [r for r in rows if r["role"] == role and r["verdict"] in (*TESTED, "pass", "fail")]
        return sum(r["verdict"] == good for r in mine), len(mine)

    core = [r for r in rows if r["role"] == "core"]
    verdict = stats.profile_verdict([r["verdict"] for r in core])
    exceptions = [{"H": f"H{number.get(r['hypothesis'], '?')}", **r} for r in core
                  if r["verdict"] in ("contradicted", "inconclusive")]
    return Profile(verdict, count("core", "reproduced"), count("mechanism", "reproduced"),
                   count("secondary", "reproduced"), count("sanity", "pass"),
                   sum(r["verdict"] in ("not run", "failed") for r in rows), exceptions)


@dataclass
class Judgement:
    hypotheses: pd.DataFrame  # one row per (device, hypothesis) with the numbers that decided it, or ``why`` not
    profiles: dict[str, Profile]  # device -> the claim's profile
    summary: pd.DataFrame     # per (device, variant, metric): n, n_excluded, mean, std, CI
    counts: dict[str, int]    # runs by status
    runs: pd.DataFrame        # one row per run (status, factors, timings)
    first_error: str | None = None  # of the first failed run
    rule: str = "fixed"       # "fixed": the tier's seeds, decided in advance; "sequential": anytime-valid p values
    devices: pd.DataFrame = field(default_factory=pd.DataFrame)  # device equivalence per variant and metric

    @property
    def claims(self) -> dict[str, str]:
        """Device -> the profile's verdict."""
        return {d: p.verdict for d, p in self.profiles.items()}

    @property
    def claim(self) -> str:
        """One verdict over devices: theirs when they agree, else "differs by device"."""
        verdicts = set(self.claims.values())
        return verdicts.pop() if len(verdicts) == 1 else ("not run" if not verdicts else DIFFERS)

    @property
    def profile(self) -> Profile | None:
        """The profile of the first device whose verdict is the claim's (the one to show in a line)."""
        return next((p for p in self.profiles.values() if p.verdict == self.claim),
                    next(iter(self.profiles.values()), None))


def _setting_means(side: pd.DataFrame, factor: str, metric: str, tune_seeds: int | None = None) -> pd.Series:
    """Mean over seeds (the first ``tune_seeds`` of them, if given) of ``metric`` (prefix "-": negated, so larger is
    better) per value of ``factor``, best first. skipna=False: a setting at which any seed diverged (NaN) is never
    among the best."""
    if tune_seeds is not None:
        side = side[side["seed"] < tune_seeds]
    means = side[side["metric"] == metric.lstrip("-")].groupby(factor)["value"].agg(
        lambda v: v.mean(skipna=False)).dropna()
    return (-means if metric.startswith("-") else means).sort_values(ascending=False, kind="stable")


def choose(side: pd.DataFrame, factor: str, metric: str, frac: float | None = None,
           tune_seeds: int | None = None) -> list:
    """The values of ``factor`` that a side (its rows of a metrics table, one stratum) keeps: the one with the best
    mean over seeds of ``metric`` (``frac`` None, as ``best=``), or its best fraction ``frac`` of them (as ``top=``),
    best first; empty when no value has a finite mean. The report's figures draw tuned factors with it."""
    ranked = _setting_means(side, factor, metric, tune_seeds)
    return list(ranked.index[:1] if frac is None else ranked.index[:max(1, math.ceil(frac * len(ranked)))])


def selection(abl: Ablation, factor: str, metric: str | None = None) -> tuple[str, float | None]:
    """How the hypotheses tune ``factor``: (selection metric, None) for ``best=``, (metric, fraction) for ``top=``,
    from a hypothesis about ``metric`` if one tunes it, else the first core one, else the first. The figures and
    the papers' numbers show an arm at the setting this rule picks, as its verdicts compare it."""
    hyps = [h for h in abl.hypotheses if factor in h.tuned]
    h = next((h for h in hyps if h.metric == metric), None) or next((h for h in hyps if h.role == "core"), hyps[0])
    return (h.best[factor], None) if factor in h.best else tuple(h.top[factor])


def _tune(side: pd.DataFrame, hyp: Hypothesis, tune_seeds: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Keep the side's runs (of one stratum) at the factor values it chooses: the best one (``best``) or the best
    fraction (``top``), ranked by the side's own mean of the selection metric (over the first ``tune_seeds``)."""
    chosen = {}
    for factor, (metric, frac) in [*((f, (m, None)) for f, m in hyp.best.items()), *hyp.top.items()]:
        keep = choose(side, factor, metric, frac, tune_seeds)
        if not keep:
            return side.iloc[:0], chosen
        chosen[factor] = keep[0] if frac is None else sorted(keep)
        side = side[side[factor].isin(keep)]
    return side, chosen


@dataclass
class _Side:
    runs: pd.DataFrame  # the kept runs' rows of the tested metric (and of the event metric, for censored ones)
    chosen: dict        # stratum (tuple of values) -> factor -> chosen value(s)


def _side(df: pd.DataFrame, hyp: Hypothesis, selector: dict, strata: list[str], metrics: list[str],
          tune_seeds: int | None = None) -> _Side:
    side = df[tables.select(df, selector)]
    kept, chosen = [], {}
    for stratum, g in (side.groupby(strata, sort=True, dropna=False) if strata else [((), side)]):
        g, c = _tune(g, hyp, tune_seeds) if hyp.tuned else (g, {})
        kept.append(g[g["metric"].isin(metrics)])
        chosen[stratum if isinstance(stratum, tuple) else (stratum,)] = c
    return _Side(pd.concat(kept) if kept else side.iloc[:0], chosen)


def _per_seed(side: _Side, metric: str) -> pd.Series:
    """One value per seed: the mean over the seed's kept runs (strata, settings); NaN when any of them is NaN."""
    rows = side.runs[side.runs["metric"] == metric]
    return rows.groupby("seed")["value"].agg(lambda v: v.mean(skipna=False)).sort_index()


def _censored_frame(side: _Side, metric: str, event: str, unit: list[str]) -> pd.DataFrame:
    """Columns ``time`` and ``event`` per run, aligned by run, indexed by ``unit`` (seed first)."""
    wide = side.runs.pivot(index=[*unit, "key"], columns="metric", values="value")
    wide = wide.reindex(columns=[metric, event]).rename(columns={metric: "time", event: "event"})
    wide.columns.name = None
    return wide.droplevel("key").sort_index()


def _fmt_choice(value) -> str:
    return "{" + ",".join(map(str, value)) + "}" if isinstance(value, list) else str(value)


def _items(selector: dict) -> str:
    return ", ".join(f"{k}={_fmt_choice(list(v) if isinstance(v, (list, tuple)) else v)}" for k, v in selector.items())


def _edge(df: pd.DataFrame, factor: str, value) -> bool:
    """A chosen numeric setting at the end of a grid of at least 3 values: the best may lie beyond it."""
    values = sorted(v for v in df[factor].dropna().unique())
    return (len(values) >= 3 and not isinstance(value, (list, str, bool))
            and value in (values[0], values[-1]))


def _tuned_text(df: pd.DataFrame, strata: list[str], chosen: dict[str, dict]) -> str:
    """'A: lr=0.1 (activation=sigmoid), lr=0.01 (activation=relu); B: ...' with grid edges marked."""
    parts = []
    for side, per_stratum in chosen.items():
        items = []
        for stratum, c in per_stratum.items():
            text = ", ".join(f"{k}={_fmt_choice(v)}" + (" (grid edge)" if _edge(df, k, v) else "")
                             for k, v in c.items()) or "-"
            where = ", ".join(f"{f}={v}" for f, v in zip(strata, stratum))
            items.append(f"{text} ({where})" if where else text)
        parts.append(f"{side}: " + "; ".join(items))
    return " | ".join(parts)


def _sanity(a: pd.Series, b: pd.Series, hyp: Hypothesis) -> dict:
    """A check true by construction: it passes when every seed's pair (or, unpaired, every value) satisfies it."""
    joined = pd.DataFrame({"a": a, "b": b}).dropna() if set(a.index) == set(b.index) else None
    if joined is not None and len(joined):
        d = (joined["a"] - joined["b"]).to_numpy()
        lo, hi = float(d.min()), float(d.max())
    else:
        fa, fb = a.dropna(), b.dropna()
        if fa.empty or fb.empty:
            return {"verdict": "not run", "why": "no finite values on a side"}
        lo, hi = float(fa.min() - fb.max()), float(fa.max() - fb.min())
    holds = {"greater": lo > 0, "less": hi < 0}.get(hyp.direction, max(abs(lo), abs(hi)) < (hyp.margin or 0))
    return {"test": "every seed", "n_a": int(a.notna().sum()), "n_b": int(b.notna().sum()),
            "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": float(a.mean() - b.mean()),
            "range_low": lo, "range_high": hi, "verdict": "pass" if holds else "fail"}


NO_ANYTIME = "no anytime-valid test"  # the start of ``why`` for a comparison the sequential rule cannot decide


def _anytime(test: str, a, b, hyp: Hypothesis) -> tuple[float, float]:
    """The sequential rule's (p, sign of the finding) from the seeds so far, in seed order; for "similar", (p of
    equivalence, p of a difference beyond the margin). A directional p is twice the smaller of the two one-sided
    anytime-valid p values (Bonferroni), and the sign is the side whose e-process crossed, not the latest mean.
    NaN when the comparison has no anytime-valid version."""
    from suite import sequential

    def two_sided(fn, *args):
        up, down = fn(*args, alternative="greater"), fn(*args, alternative="less")
        return min(1.0, 2 * min(up, down)), (1.0 if up <= down else -1.0)

    if test in ("paired t", "welch t"):
        if test == "paired t":
            joined = pd.DataFrame({"a": a, "b": b}).dropna().sort_index()
            args = ((joined["a"] - joined["b"]).to_numpy(),)
        else:
            args = (a.dropna().sort_index().to_numpy(), b.dropna().sort_index().to_numpy())
        if hyp.direction == "similar":
            return (sequential.equivalence_p(*args, margin=hyp.margin),
                    sequential.nonequivalence_p(*args, margin=hyp.margin))
        return two_sided(sequential.p_paired if test == "paired t" else sequential.p_two_sample, *args)
    # Per-seed signs - which side won each seed - in an exact sequential sign test: for binary outcomes, and for
    # censored ones when the seeds pair (the log-rank test has no anytime-valid version here).
    if test in ("McNemar exact", "sign test") or (test.startswith("log-rank") and
                                                  stats.censored_scores(a, b) is not None):
        # Signed like a - b: positive where a solved more, or (censored) took longer.
        d = (stats.censored_scores(a, b) if isinstance(a, pd.DataFrame)
             else pd.DataFrame({"a": a, "b": b}).dropna().sort_index().eval("a - b"))
        d = d.sort_index().to_numpy()
        return two_sided(sequential.p_binary_paired, (d > 0).astype(float), (d < 0).astype(float))
    return float("nan"), float("nan")


def _sides(df: pd.DataFrame, hyp: Hypothesis, abl: Ablation,
           tune_seeds: int | None = None) -> tuple[list[str], dict[str, _Side], list[tuple]]:
    """The strata of the hypothesis's slice of ``df`` (runs that did not fail), each side's kept runs in the strata
    that both sides ran - a side is never compared on a different mix of strata - and the strata left out."""
    kind = abl.kind(hyp.metric)
    strata = [f for f in abl.factors if f not in hyp.a and f not in hyp.tuned and df[f].nunique() > 1]
    metrics = [hyp.metric] + ([abl.kinds[hyp.metric].event] if kind == "censored" else [])
    sides = {"A": _side(df, hyp, hyp.a, strata, metrics, tune_seeds),
             "B": _side(df, hyp, hyp.b, strata, metrics, tune_seeds)}
    if not strata:
        return strata, sides, []

    def present(side):
        rows = side.runs[side.runs["metric"] == hyp.metric]
        return set(map(tuple, rows[strata].drop_duplicates().itertuples(index=False)))

    have = {k: present(v) for k, v in sides.items()}
    common = have["A"] & have["B"]
    dropped = sorted((have["A"] | have["B"]) - common, key=str)
    if dropped:
        for side in sides.values():
            keep = np.array([tuple(r) in common for r in side.runs[strata].itertuples(index=False)], dtype=bool)
            side.runs = side.runs.loc[keep]
    return strata, sides, dropped


def _paired(hyp: Hypothesis, sides: dict[str, _Side]) -> bool | None:
    """None (pair where the seeds allow) unless the sides kept different ``top`` settings: then never."""
    return None if not hyp.top or sides["A"].chosen == sides["B"].chosen else False


def samples(df: pd.DataFrame, hyp: Hypothesis, abl: Ablation) -> tuple[pd.Series, pd.Series, bool] | None:
    """The per-seed values of each side of ``hyp`` in one device's metrics table, as the verdict tests them, and
    whether they pair; None when a side has no runs."""
    df = df[tables.select(df, hyp.where) & (df["status"] != "failed")]
    _, sides, _ = _sides(df, hyp, abl)
    a, b = _per_seed(sides["A"], hyp.metric), _per_seed(sides["B"], hyp.metric)
    if a.empty or b.empty:
        return None
    paired = _paired(hyp, sides) is not False and set(a.index) == set(b.index)
    return a, b.reindex(a.index) if paired else b, paired


def _judge(df: pd.DataFrame, hyp: Hypothesis, abl: Ablation, errors: dict, rule: str,
           tune_seeds: int | None = None) -> dict:
    """One hypothesis judged from the metrics of one device's runs (failed runs included: they are evidence of
    nothing, and a side with nothing else is "failed"). ``errors``: run key -> error, of the failed runs."""
    df = df[tables.select(df, hyp.where)]
    failed = df[df["status"] == "failed"]
    df = df[df["status"] != "failed"]
    kind = abl.kind(hyp.metric)
    strata, sides, dropped = _sides(df, hyp, abl, tune_seeds)
    row = {"hypothesis": hyp.describe(), "metric": hyp.metric, "direction": hyp.direction, "role": hyp.role,
           "kind": kind, "strata": ", ".join(strata)}
    if dropped:
        row["strata_left_out"] = "; ".join(", ".join(f"{f}={v}" for f, v in zip(strata, d)) for d in dropped)
    if hyp.tuned and any(c for s in sides.values() for c in s.chosen.values()):
        row["tuned"] = _tuned_text(df, strata, {k: s.chosen for k, s in sides.items()})
    empty = [(name, sel) for name, sel in (("A", hyp.a), ("B", hyp.b))
             if sides[name].runs[sides[name].runs["metric"] == hyp.metric].empty]
    if empty:
        where = f" where {_items(hyp.where)}" if hyp.where else ""
        broken = [(name, sel, failed[tables.select(failed, sel)]) for name, sel in empty if tables.select(failed, sel).any()]
        if broken:
            name, sel, runs = broken[0]
            keys = runs["key"].unique()
            return row | {"verdict": "failed", "n_a": 0, "n_b": 0, "test": "none", "p": np.nan,
                          "why": f"all {len(keys)} runs of {name} ({_items(sel)}){where} failed "
                                 f"(first: {errors.get(keys[0])})"}
        missing = " and ".join(f"{name} ({_items(sel)})" for name, sel in empty)
        return row | {"verdict": "not run", "n_a": 0, "n_b": 0, "test": "none", "p": np.nan,
                      "why": f"no runs of {missing}{where} in this plan"}
    paired = _paired(hyp, sides)
    if kind == "censored":
        event = abl.kinds[hyp.metric].event
        frames = [_censored_frame(s, hyp.metric, event, ["seed", *strata]) for s in sides.values()]
        if hyp.role == "sanity":
            return row | _sanity(frames[0]["time"], frames[1]["time"], hyp)
        c = stats.compare_censored(*frames)
        a, b = frames
    else:
        a, b = _per_seed(sides["A"], hyp.metric), _per_seed(sides["B"], hyp.metric)
        if hyp.role == "sanity":
            return row | _sanity(a, b, hyp)
        c = stats.compare_binary(a, b, paired) if kind == "binary" else stats.compare(a, b, paired=paired)
    if c.test == "none":
        row["why"] = (f"fewer than 2 finite values on a side ({c.n_a}/{c.n_b} seeds): nothing to test"
                      if min(c.n_a, c.n_b) < 2 else
                      "a seed with several runs in one stratum: no seed-level test for a censored outcome")
    out = row | {"test": c.test, "n_a": c.n_a, "n_b": c.n_b, "n_excluded": c.n_excluded, "mean_a": c.mean_a,
                 "mean_b": c.mean_b, "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high,
                 "effect_size": c.effect_size, "statistic": c.statistic, "p": c.p,
                 "sign": float(np.sign(c.statistic if kind == "censored" else c.diff))}
    if c.n_censored is not None:
        out["censored"] = f"{c.n_censored[0]}/{c.n_censored[1]}"
    if hyp.direction == "similar":  # two findings are possible: within the margin, or beyond it
        out |= {"margin": hyp.margin, "p_equivalence": stats.equivalence_p(a, b, hyp.margin, paired=paired),
                "p_difference": stats.nonequivalence_p(a, b, hyp.margin, paired=paired)}
    if rule == "sequential" and c.test != "none":
        p, other = _anytime(c.test, a, b, hyp)
        if np.isnan(p):
            out |= {"p": 1.0, "why": f"{NO_ANYTIME} for a {c.test} comparison: not decided by the sequential rule"}
        elif hyp.direction == "similar":
            out |= {"p_equivalence": p, "p_difference": other}
        else:
            out |= {"p": p, "sign": other}
    if hyp.direction == "similar" and c.test != "none":
        equivalent = out["p_equivalence"] <= out["p_difference"]
        out["p"] = out["p_equivalence"] if equivalent else out["p_difference"]
        out["finding"] = "within margin" if equivalent else "beyond margin"
    return out


def _decide(rows: list[dict]) -> None:
    """Holm-adjust the p values of each family (core, mechanism, secondary) and give each tested hypothesis its verdict."""
    for role in ("core", "mechanism", "secondary"):
        family = [r for r in rows if r["role"] == role and "verdict" not in r]
        for r, p in zip(family, stats.holm([r["p"] for r in family])):
            r["p_adj"] = p
            if r["test"] == "none":
                r["verdict"] = "inconclusive"
            elif r["direction"] == "similar":
                within = r["finding"] == "within margin"
                r["verdict"] = stats.similar_verdict(p if within else 1.0, 1.0 if within else p)
            else:
                r["verdict"] = stats.verdict(r["sign"], p, r["direction"])


TIMING_SUFFIX = "_s"  # wall-clock metrics (e.g. solve_s) differ between devices by design: not compared


def device_equivalence(metrics: pd.DataFrame, factors: list[str], tolerance: float) -> pd.DataFrame:
    """Per variant and metric, whether every device gives the same result as the first (alphabetically): TOST of
    the seed-paired difference within ``tolerance`` x |mean of the first device| (at least 1e-12) - "same" - or a
    difference beyond it - "different" - each Holm-adjusted over the table. Timings are left out."""
    devices = sorted(metrics["device"].unique())
    if len(devices) < 2:
        return pd.DataFrame()
    ok = metrics[(metrics["status"] == "ok") & ~metrics["metric"].astype(str).str.endswith(TIMING_SUFFIX)]
    rows = []
    for key, g in ok.groupby([*factors, "metric"], sort=True, dropna=False):
        ref = g[g["device"] == devices[0]].set_index("seed")["value"].astype(float)
        for other in devices[1:]:
            x = g[g["device"] == other].set_index("seed")["value"].astype(float)
            if ref.dropna().size < 2 or x.dropna().size < 2:
                continue
            margin = max(tolerance * abs(float(ref.mean())), 1e-12)
            c = stats.compare(x, ref)
            rows.append({**dict(zip([*factors, "metric"], key)), "devices": f"{other} vs {devices[0]}",
                         "n": c.n_a, "mean": float(x.mean()), "reference": float(ref.mean()), "diff": c.diff,
                         "ci_low": c.ci_low, "ci_high": c.ci_high, "margin": margin,
                         "p_equivalence": stats.equivalence_p(x, ref, margin),
                         "p_difference": stats.nonequivalence_p(x, ref, margin)})
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows)
    # Many variants x metrics: each finding is Holm-adjusted over the table.
    same, differs = stats.holm(out["p_equivalence"]), stats.holm(out["p_difference"])
    out["verdict"] = np.where(same < stats.ALPHA, "same", np.where(differs < stats.ALPHA, "different",
                                                                   "inconclusive"))
    return out


def judge(abl: Ablation, records: list[dict], rule: str = "fixed", tune_seeds: int | None = None) -> Judgement:
    """Judge every hypothesis on every device. ``rule="sequential"`` replaces the fixed-n p values by anytime-valid
    ones (:mod:`suite.sequential`), for seeds added in rounds until the claim is decided; ``tune_seeds`` then
    freezes tuning (``best``, ``top``) to the first round's seeds, so that later seeds do not change the settings
    whose sequence the p values follow."""
    factors = list(abl.factors)
    metrics = tables.metrics(records, declared=list(abl.metrics))
    counts = pd.Series([r.get("status") for r in records]).value_counts().to_dict() if records else {}
    errors = {r["key"]: r.get("error") for r in records if r.get("status") == "failed"}
    number = {h.describe(): i for i, h in enumerate(abl.hypotheses, 1)}
    rows, profiles = [], {}
    for device, df in (metrics.groupby("device", sort=True) if not metrics.empty else []):
        hyp_rows = [{"device": device, **_judge(df, h, abl, errors, rule, tune_seeds)} for h in abl.hypotheses]
        _decide(hyp_rows)
        profiles[device] = profile(hyp_rows, number)
        if set(df["status"]) == {"failed"}:
            profiles[device].verdict = "failed"
        rows += hyp_rows
    evidence = metrics[metrics["status"] != "failed"] if not metrics.empty else metrics
    summary = (stats.summarize(evidence, by=["device", *factors, "metric"]) if not evidence.empty
               else pd.DataFrame())
    devices = device_equivalence(metrics, factors, abl.device_tolerance) if not metrics.empty else pd.DataFrame()
    return Judgement(pd.DataFrame(rows), profiles, summary, counts, tables.runs(records),
                     next(iter(errors.values()), None), rule, devices)
