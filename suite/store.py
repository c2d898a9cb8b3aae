"""One JSON record per run, content-addressed by the run key and written atomically.

Layout: ``<root>/<ablation>/<key>.json``. A record is written to a temporary file in the same directory and
renamed into place, so a reader sees either no record or a whole one; a killed writer leaves at most a
``.tmp`` file, which loading ignores. Records that do not parse are moved to ``<root>/<ablation>/corrupt/``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from suite.errors import SuiteError

SCHEMA_VERSION = 1
ENV_VAR = "SUITE_RESULTS"
log = logging.getLogger(__name__)


def default_root() -> Path:
    return Path(os.environ.get(ENV_VAR) or "results")


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

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
        target.parent.mkdir(parents=True, exist_ok=True)
        # NaN and infinities are written as JSON's common extension (NaN, Infinity), which json and pandas read.
        text = json.dumps(record, separators=(",", ":"), sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{record['key']}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def read(self, path: Path) -> dict | None:
        """A record, or None (after moving the file aside) when it is not a whole record of a known schema."""
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or record.get("schema") != SCHEMA_VERSION or "key" not in record:
                raise ValueError(f"unknown schema {record.get('schema') if isinstance(record, dict) else '?'}")
            return record
        except (ValueError, UnicodeDecodeError) as exc:
            self._quarantine(path, exc)
            return None

    def _quarantine(self, path: Path, exc: Exception) -> None:
        aside = path.parent / "corrupt" / path.name
        try:
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)
            log.warning("record %s is unreadable (%s); moved to %s and will be rerun", path, exc, aside)
        except FileNotFoundError:
            pass  # another process moved it first

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
