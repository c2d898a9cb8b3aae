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


@pytest.fixture(scope="session")
def report_build(tmp_path_factory):
    """One real smoke-tier store (vanishing_gradients and two toy claims) and the report built from it (HTML, PDF,
    CSV), shared by the report tests: {"results", "out", "env"}."""
    import textwrap

    from tests.toys import EARLY, TOY

    base = tmp_path_factory.mktemp("report")
    (base / "user").mkdir()
    (base / "user" / "toy_report.py").write_text(textwrap.dedent(TOY))
    (base / "user" / "toy_early.py").write_text(textwrap.dedent(EARLY))
    env = {"SUITE_ABLATIONS": str(base / "user")}
    results, out = base / "results", base / "out"
    for name, jobs in (("vanishing_gradients", "2"), ("toy_report", "1"), ("toy_early", "1")):
        ran = run_cli("run", name, "--tier", "smoke", "--no-progress", "--jobs", jobs, results=results, env=env)
        assert ran.returncode == 0, ran.stderr
    rep = run_cli("report", "--out", str(out), "--format", "html,pdf,csv", results=results, env=env)
    assert rep.returncode == 0, rep.stderr
    return {"results": results, "out": out, "env": env, "stdout": rep.stdout}
