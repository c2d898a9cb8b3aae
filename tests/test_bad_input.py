"""Bad input gives one line on stderr and the documented exit code (2 usage, 1 failure), never a traceback."""

import gzip
import struct

import pytest

from suite.cli import main

RUN = ["run", "vanishing_gradients", "--tier", "smoke", "--no-progress"]

BAD = [
    (["run", "nope"], 2, "unknown ablation 'nope'"),
    (["run", "vanishing_gradient"], 2, "did you mean 'vanishing_gradients'"),
    (["show", "nope"], 2, "unknown ablation"),
    (["show"], 2, "the following arguments are required: name"),
    (["run"], 2, "the following arguments are required: name"),
    (["frobnicate"], 2, "invalid choice"),
    (["list", "extra"], 2, "unrecognized arguments"),
    (["run", "vanishing_gradients", "--tier", "huge"], 2, "unknown tier 'huge'"),
    (["run", "all", "--tier", "huge"], 2, "unknown tier 'huge'"),
    ([*RUN, "foo=1"], 2, "valid keys"),
    ([*RUN, "=1"], 2, "key=value"),
    ([*RUN, "lr"], 2, "key=value"),
    ([*RUN, "depth=abc"], 2, "expected an integer"),
    ([*RUN, "depth=2.5"], 2, "expected an integer"),
    ([*RUN, "depth="], 2, "expected an integer"),
    ([*RUN, "lr=fast"], 2, "expected a finite number"),
    ([*RUN, "lr=nan"], 2, "expected a finite number"),
    ([*RUN, "lr=inf"], 2, "expected a finite number"),
    ([*RUN, "lr=-1"], 2, "must be positive"),  # a factor
    ([*RUN, "width=0"], 2, "must be >= 1"),
    ([*RUN, "epochs=-3"], 2, "must be >= 1"),
    ([*RUN, "depth=0"], 2, "must be positive"),
    ([*RUN, "depth=3,-1"], 2, "must be positive"),
    ([*RUN, "activation=swish"], 2, "must be one of"),
    ([*RUN, "activation=relu,swish"], 2, "must be one of"),
    ([*RUN, "optimizer=lbfgs"], 2, "must be one of"),
    ([*RUN, "data=cifar"], 2, "must be one of"),
    ([*RUN, "--device", "tpu"], 2, "unknown device 'tpu'"),
    ([*RUN, "--seeds", "0"], 2, "--seeds must be at least 1"),
    ([*RUN, "--seeds", "-2"], 2, "--seeds must be at least 1"),
    ([*RUN, "--seeds", "x"], 2, "invalid int value"),
    ([*RUN, "--jobs", "0"], 2, "--jobs must be at least 1"),
    ([*RUN, "--bogus-flag"], 2, "unrecognized arguments"),
    ([*RUN, "--seeds", "1", "data=mnist"], 1, "--data-dir"),
]


@pytest.mark.parametrize("args, code, fragment", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input(args, code, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SUITE_DATA_CACHE", str(tmp_path / "cache"))  # no MNIST there, and no network here
    assert main([*args, "--results", str(tmp_path / "results")]) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert "Traceback" not in out + err
    assert not (tmp_path / "results" / "vanishing_gradients").exists() or \
        not list((tmp_path / "results" / "vanishing_gradients").glob("*.json"))


def _idx(path, magic_type, dims, payload):
    path.write_bytes(struct.pack(">HBB", 0, magic_type, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
                     + payload)


@pytest.mark.parametrize("fault, fragment", [
    ("truncated", "train-images"),
    ("bad magic", "train-images"),
    ("missing", "t10k-labels"),
])
def test_malformed_mnist_in_data_dir(fault, fragment, tmp_path, capsys):
    d = tmp_path / "mnist"
    d.mkdir()
    n = 60
    images = bytes(n * 28 * 28)
    _idx(d / "train-images-idx3-ubyte", 0x08, [n, 28, 28], images[:-100] if fault == "truncated" else images)
    if fault == "bad magic":
        (d / "train-images-idx3-ubyte").write_bytes(b"\x01\x02" + (d / "train-images-idx3-ubyte").read_bytes()[2:])
    _idx(d / "train-labels-idx1-ubyte", 0x08, [n], bytes(n))
    _idx(d / "t10k-images-idx3-ubyte", 0x08, [20, 28, 28], bytes(20 * 28 * 28))
    if fault != "missing":
        with gzip.open(d / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
            fh.write(struct.pack(">HBBI", 0, 8, 1, 20) + bytes(20))
    code = main([*RUN, "--seeds", "1", "data=mnist", "--data-dir", str(d), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and fragment in err, err


def test_an_ablation_module_that_fails_to_import_is_named(tmp_path, cli):
    (tmp_path / "broken_claim.py").write_text("import numpy\nraise RuntimeError('half-written module')\n")
    out = cli("list", env={"SUITE_ABLATIONS": str(tmp_path)})
    assert out.returncode == 1 and "broken_claim.py failed to import" in out.stderr
    assert "half-written module" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_user_ablation_directory_is_discovered(tmp_path, cli):
    (tmp_path / "my_claim.py").write_text(
        "from suite.declare import Greater, Tier\nfrom suite.registry import ablation\n"
        "@ablation(name='my_claim', section='0', claim='a beats b', data=None, factors={'arm': ['a', 'b']},\n"
        "          metrics={'score': 's'}, hypotheses=[Greater('score', {'arm': 'a'}, {'arm': 'b'})],\n"
        "          tiers={t: Tier(seeds=3) for t in ('smoke', 'quick', 'full')})\n"
        "def train(ctxs):\n"
        "    return [{'score': (1.0 if c.cfg.arm == 'a' else 0.0) + 0.1 * c.seed ** 2} for c in ctxs]\n")
    env = {"SUITE_ABLATIONS": str(tmp_path)}
    out = cli("run", "my_claim", "--tier", "smoke", "--no-progress", "--jobs", "2", env=env, results=tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert "6 trained" in out.stdout and "claim my_claim" in out.stdout


def test_a_train_function_that_breaks_the_contract_fails_its_runs_with_one_line(tmp_path, cli):
    (tmp_path / "sloppy_claim.py").write_text(
        "from suite.declare import Greater, Tier\nfrom suite.registry import ablation\n"
        "@ablation(name='sloppy_claim', section='0', claim='a beats b', data=None, factors={'arm': ['a', 'b']},\n"
        "          metrics={'score': 's'}, hypotheses=[Greater('score', {'arm': 'a'}, {'arm': 'b'})],\n"
        "          tiers={t: Tier(seeds=1) for t in ('smoke', 'quick', 'full')})\n"
        "def train(ctxs):\n"
        "    return [None for c in ctxs]\n")
    out = cli("run", "sloppy_claim", "--tier", "smoke", "--no-progress", env={"SUITE_ABLATIONS": str(tmp_path)},
              results=tmp_path / "r")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "2 run(s) failed" in out.stderr and "dict of metrics (possibly empty) or a Diverged" in out.stderr
