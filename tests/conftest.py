import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, results: Path | None = None, timeout: float = 300, env: dict | None = None,
            **kw) -> subprocess.CompletedProcess:
    """Run ``python -m suite ARGS`` as a real process (``env`` adds to the environment)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if results is not None:
        env["SUITE_RESULTS"] = str(results)
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture
def cli():
    return run_cli
