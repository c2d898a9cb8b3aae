"""One JSON record per run, content-addressed by the run key and written atomically.

Layout: ``<root>/<ablation>/<key>.json``. A record is written to a temporary file in the same directory and
renamed into place, so a reader sees either no record or a whole one; a killed writer leaves at most a
``.tmp`` file, which loading ignores and a later run sweeps away. Records that do not parse, or are not a
whole record of this schema, are moved to ``<root>/<ablation>/corrupt/`` (never deleted) and rerun.

Processes sharing a results directory claim a run before training it with a ``<key>.lock`` file: a lease with a
heartbeat (:mod:`suite.leases`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

from suite import leases
from suite.errors import SuiteError
from suite.files import atomic_write

SCHEMA_VERSION = 2  # 2: strict JSON (non-finite floats tagged); 1: NaN and Infinity as JSON's common extension
SCHEMAS = (1, 2)
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
ENV_VAR = "SUITE_RESULTS"
STATUSES = ("ok", "diverged", "failed")
STALE_TMP_S = 600  # a temporary file this old belongs to a writer that died
log = logging.getLogger(__name__)


def _tag(value):
    """``value`` with every non-finite float as {"$float": "nan" | "inf" | "-inf"}: strict JSON, which any parser
    reads, and recoverable (:func:`_untag`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(v) for v in value]
    return value


def _untag(obj: dict):
    return _NON_FINITE[obj["$float"]] if len(obj) == 1 and obj.get("$float") in _NON_FINITE else obj


def default_root() -> Path:
    return Path(os.environ.get(ENV_VAR) or "results")


def _check(record, path: Path) -> None:
    """A whole record of this schema, or ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if record.get("schema") not in SCHEMAS:
        raise ValueError(f"unknown schema version {record.get('schema')!r}")
    if record.get("key") != path.stem:
        raise ValueError("its key does not match its file name")
    if record.get("status") not in STATUSES:
        raise ValueError(f"unknown status {record.get('status')!r}")
    for fld, kind in (("metrics", dict), ("factors", dict), ("seed", int), ("device", str)):
        if not isinstance(record.get(fld), kind):
            raise ValueError(f"field {fld!r} is missing or not a {kind.__name__}")


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self._leases = leases.Leases()
        self._skipped: set[Path] = set()  # unreadable records that could not be moved aside

    def path(self, ablation: str, key: str) -> Path:
        return self.root / ablation / f"{key}.json"

    def has(self, ablation: str, key: str) -> bool:
        return self.path(ablation, key).is_file()

    def ensure_writable(self) -> None:
        """Fail early, with one line, rather than after the first run has trained."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-", delete=True):
                pass
        except OSError as exc:
            raise SuiteError(f"results directory {self.root} is not writable: {exc.strerror or exc}") from None

    def write(self, record: dict) -> Path:
        record = {"schema": SCHEMA_VERSION, **record}
        target = self.path(record["ablation"], record["key"])
        text = json.dumps(_tag(record), separators=(",", ":"), sort_keys=True, allow_nan=False)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, text)
        except OSError as exc:  # disk full, quota, permissions: the records already written stay whole
            raise SuiteError(f"could not write record {target}: {exc.strerror or exc}") from None
        return target

    def sweep(self, ablation: str) -> None:
        """Remove temporary files left by writers that died (old enough that no live writer owns them)."""
        now = time.time()
        for tmp in (self.root / ablation).glob(".*.tmp"):
            try:
                if now - tmp.stat().st_mtime > STALE_TMP_S:
                    tmp.unlink()
            except FileNotFoundError:
                pass

    def lock(self, ablation: str, key: str) -> Path:
        return self.root / ablation / f"{key}.lock"

    def claim(self, ablation: str, key: str) -> bool:
        """Take the run for this process (a stale claim is taken over); False while another live process holds it."""
        return self._leases.claim(self.lock(ablation, key))

    def release(self, ablation: str, key: str) -> None:
        self._leases.release(self.lock(ablation, key))

    def holder(self, ablation: str, key: str) -> leases.Holder | None:
        """Who holds a live claim on the run; None when nobody does (or the claim is stale)."""
        h = leases.holder(self.lock(ablation, key))
        return h if h is not None and leases.stale(h) is None else None

    def read(self, path: Path) -> dict | None:
        """A record, or None (after moving the file aside) when it is not a whole record of a known schema."""
        try:
            text = path.read_text()
            record = json.loads(text, object_hook=_untag if '"$float"' in text else None)
            _check(record, path)
            return record
        except FileNotFoundError:
            return None  # moved aside by another process meanwhile
        except (ValueError, UnicodeDecodeError) as exc:
            self._quarantine(path, exc)
            return None

    def _quarantine(self, path: Path, exc: Exception) -> None:
        aside = path.parent / "corrupt" / f"{path.stem}.{int(time.time())}.json"
        try:
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)
            log.warning("record %s is unreadable (%s); moved to %s, and the run will be redone", path, exc, aside)
        except FileNotFoundError:
            pass  # another process moved it first
        except OSError as err:  # a read-only store (a copy, a mounted archive) is read as it is
            if path not in self._skipped:
                self._skipped.add(path)
                log.warning("record %s is unreadable (%s) and stays where it is (%s); it is left out",
                            path, exc, err.strerror or err)

    def _sequential(self, ablation: str, tier: str, plan_version: str) -> Path:
        return self.root / ablation / "sequential" / f"{tier}-{plan_version}.json"

    def write_sequential(self, ablation: str, tier: str, plan_version: str, stop: dict) -> Path:
        """Where ``run --until-decided`` stopped a tier's default plan (seeds, why, rounds), under the plan's
        version (:meth:`suite.registry.Ablation.plan_version`): the runs themselves are ordinary records; this says
        they are judged by the sequential rule at that many seeds."""
        target = self._sequential(ablation, tier, plan_version)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return atomic_write(target, json.dumps(stop, sort_keys=True))
        except OSError as exc:
            raise SuiteError(f"could not write {target}: {exc.strerror or exc}") from None

    def read_sequential(self, ablation: str, tier: str, plan_version: str) -> dict | None:
        try:
            stop = json.loads(self._sequential(ablation, tier, plan_version).read_text())
        except (OSError, ValueError):
            return None
        return stop if isinstance(stop, dict) and isinstance(stop.get("seeds"), int) else None

    def records(self, ablation: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict]:
        """Stored records of one ablation (or all), optionally only those whose keys are given."""
        dirs = [self.root / ablation] if ablation else sorted(p for p in self.root.glob("*") if p.is_dir())
        wanted = set(keys) if keys is not None else None
        for d in dirs:
            if wanted is not None:
                paths = (d / f"{k}.json" for k in sorted(wanted))
            else:
                paths = sorted(d.glob("*.json"))
            for path in paths:
                if path.is_file():
                    record = self.read(path)
                    if record is not None:
                        yield record
