"""Files and output: readers work on read-only stores, every file appears whole or not at all with the umask's
permissions, and output degrades rather than crashes. Real processes, real files, a real read-only mount."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

from suite.store import Store
from tests.conftest import ROOT

SMOKE = ["run", "vanishing_gradients", "--tier", "smoke", "--seeds", "1", "--no-progress"]
GREEK = """
from suite.declare import Greater, Tier
from suite.registry import ablation


@ablation(name="greek_claim", section="0", claim="\\u03b1 \\u2192 \\u03b2: ReLU beats \\u03c3 (\\u00b12%)", data=None,
          factors={"arm": ["\\u03b1", "\\u03b2"]}, metrics={"score": "score"},
          hypotheses=[Greater("score", {"arm": "\\u03b1"}, {"arm": "\\u03b2"})],
          tiers={t: Tier(seeds=2) for t in ("smoke", "quick", "full")})
def train(ctxs):
    return [{"score": (1.0 if c.cfg.arm == "\\u03b1" else 0.0) + 0.1 * c.seed} for c in ctxs]
"""


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    results = tmp_path_factory.mktemp("store")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(results)}
    subprocess.run([sys.executable, "-m", "suite", *SMOKE], cwd=ROOT, env=env, check=True, capture_output=True)
    return results


def _read_only(results, *args):
    """``python -m suite ARGS`` with ``results`` mounted read-only (a private mount namespace)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare to mount a directory read-only")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(results)}
    out = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script, "sh", str(results), sys.executable, "-m",
                          "suite", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if "mount" in out.stderr and out.returncode != 0 and "suite" not in out.stderr:
        pytest.skip(f"cannot mount read-only here: {out.stderr.strip()}")
    return out


def test_show_and_report_work_on_a_read_only_store_with_a_truncated_record(smoke_store, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(smoke_store, results)
    victim = next((results / "vanishing_gradients").glob("*.json"))
    victim.write_text(victim.read_text()[:100])
    shown = _read_only(results, "show", "vanishing_gradients")
    assert shown.returncode == 0, shown.stderr
    assert "smoke tier: 5 of 12 runs stored" in shown.stdout and "runs: 5 ok" in shown.stdout
    (warning,) = [line for line in shown.stderr.splitlines() if line.startswith("warning:")]
    assert "stays where it is" in warning and "Read-only file system" in warning
    report = _read_only(results, "report", "vanishing_gradients", "--format", "html,csv", "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    assert victim.is_file() and not (results / "vanishing_gradients" / "corrupt").exists()


def test_a_report_that_cannot_be_written_whole_leaves_the_previous_one(smoke_store, tmp_path, cli):
    out = tmp_path / "reports"
    assert cli("report", "vanishing_gradients", "--format", "html,csv", "--out", str(out),
               results=smoke_store).returncode == 0
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))  # smaller than the report\n"
              "from suite.cli import main\n"
              f"sys.exit(main(['report', 'vanishing_gradients', '--format', 'html,csv', '--out', {str(out)!r}]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(smoke_store)}
    limited = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert limited.returncode == 1 and "could not write the report" in limited.stderr
    assert len(limited.stderr.strip().splitlines()) == 1
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # every file whole: the old one, untouched, and no temporary file left


def test_files_get_the_permissions_the_umask_asks_for(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUITE_RESULTS": str(tmp_path / "r")}
    cmd = ["sh", "-c", 'umask 002 && exec "$@"', "sh", sys.executable, "-m", "suite"]
    subprocess.run([*cmd, *SMOKE], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*cmd, "report", "vanishing_gradients", "--format", "html", "--out", str(tmp_path / "rep")],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    files = [*(tmp_path / "r" / "vanishing_gradients").glob("*.json"), tmp_path / "rep" / "report.html"]
    assert len(files) == 7
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o664}  # group-readable on a shared store


def test_output_degrades_under_a_narrow_encoding_and_never_crashes(tmp_path, cli):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "greek_claim.py").write_text(GREEK)
    out = cli("run", "greek_claim", "--tier", "smoke", "--no-progress", results=tmp_path / "r",
              env={"SUITE_ABLATIONS": str(tmp_path / "user"), "PYTHONIOENCODING": "cp1252"})
    assert out.returncode == 0, out.stderr
    assert "claim greek_claim, smoke (" in out.stdout and "): reproduced - core" in out.stdout and "arm=? > arm=?" in out.stdout


def test_an_absurd_value_fails_its_runs_with_one_line(tmp_path, cli):
    out = cli(*SMOKE, "width=100000000000000000000", results=tmp_path)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "run(s) failed" in out.stderr and "Overflow" in out.stderr
    assert {r["status"] for r in Store(tmp_path).records("vanishing_gradients")} == {"failed"}
