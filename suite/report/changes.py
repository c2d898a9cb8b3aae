"""What changed since a previous report: each report writes its verdicts and effects to ``verdicts.json`` beside
itself, and the next one compares with it (or with ``--compare FILE``): claims and hypotheses whose verdict
changed, and effects that moved outside the earlier 95% CI.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from suite import present
from suite.errors import UsageError
from suite.results import Result

NAME = "verdicts.json"
SCHEMA = 1
CLAIM_KEYS = {"ablation", "tier", "verdict"}  # what compare reads of each record
HYPOTHESIS_KEYS = {"ablation", "tier", "device", "H", "hypothesis", "metric", "verdict", "diff", "ci_low", "ci_high"}


def snapshot(by_name: dict[str, dict[str, Result]]) -> dict:
    """Every claim's profile and every hypothesis's verdict and effect, per tier and device, as plain JSON."""
    claims, hypotheses = [], []
    for name, tiers in sorted(by_name.items()):
        for tier, result in tiers.items():
            j = result.judgement
            claims.append({"ablation": name, "tier": tier, "verdict": j.claim, "code_version": result.abl.code_version,
                           "runs": len(result.records), "seeds": result.seeds})
            number = present.numbers(result.abl)
            for r in j.hypotheses.to_dict("records") if not j.hypotheses.empty else []:
                hypotheses.append({"ablation": name, "tier": tier, "device": r["device"],
                                   "H": f"H{number.get(r['hypothesis'], '?')}", "hypothesis": r["hypothesis"],
                                   "metric": r.get("metric"), "verdict": r["verdict"],
                                   **{k: float(r[k]) if present.finite(r.get(k)) else None
                                      for k in ("diff", "ci_low", "ci_high", "p_adj")}})
    return {"schema": SCHEMA, "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "claims": claims, "hypotheses": hypotheses}


def load(path: Path, *, required: bool) -> dict | None:
    """A previous report's snapshot; None when there is none (a missing or unreadable default is no error)."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}")
        for part, keys in (("claims", CLAIM_KEYS), ("hypotheses", HYPOTHESIS_KEYS)):
            entries = data.get(part)
            if not isinstance(entries, list) or not all(isinstance(e, dict) and keys <= set(e) for e in entries):
                raise ValueError(f"its {part!r} are not a list of records with {', '.join(sorted(keys))}")
        return data
    except (OSError, ValueError, AttributeError) as exc:
        if required:
            raise UsageError(f"cannot compare with {path}: {getattr(exc, 'strerror', None) or exc}") from None
        return None


def compare(before: dict, now: dict, ablations) -> dict:
    """Changed claims, changed hypothesis verdicts, and effects now outside the earlier CI, for the hypotheses
    whose hypothesis text is unchanged. ``ablations``: name -> Ablation, for readable numbers."""
    old_claims = {(c["ablation"], c["tier"]): c for c in before.get("claims", [])}
    claims = []
    for c in now["claims"]:
        old = old_claims.get((c["ablation"], c["tier"]))
        if old is None:
            claims.append([c["ablation"], c["tier"], "-", c["verdict"], "new"])
        elif old["verdict"] != c["verdict"]:
            claims.append([c["ablation"], c["tier"], old["verdict"], c["verdict"],
                           "code changed" if old.get("code_version") != c["code_version"] else
                           f"runs {old.get('runs')} \u2192 {c['runs']}"])
    key = ("ablation", "tier", "device", "hypothesis")
    old_h = {tuple(h[k] for k in key): h for h in before.get("hypotheses", [])}
    verdicts, moved = [], []
    devices = {h["device"] for h in now["hypotheses"]}
    for h in now["hypotheses"]:
        old = old_h.get(tuple(h[k] for k in key))
        if old is None:
            continue
        abl = ablations[h["ablation"]]  # ``now`` holds only this report's ablations

        def show(d, lo=None, hi=None, abl=abl, metric=h["metric"] or ""):
            return present.difference(abl, metric, d, lo, hi)

        where = [h["ablation"], h["tier"], h["H"] + (f" ({h['device']})" if len(devices) > 1 else "")]
        if old["verdict"] != h["verdict"]:
            verdicts.append([*where, old["verdict"], h["verdict"], show(old["diff"]), show(h["diff"])])
        elif (None not in (old["ci_low"], old["ci_high"], h["diff"])
              and not old["ci_low"] <= h["diff"] <= old["ci_high"]):
            moved.append([*where, show(old["diff"], old["ci_low"], old["ci_high"]), show(h["diff"], h["ci_low"],
                                                                                        h["ci_high"])])
    return {"built": before.get("built", "?"), "claims": claims, "verdicts": verdicts, "moved": moved}
