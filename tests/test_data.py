"""Tests for suite.datasets and suite.lab.data on real data and real files (digits, MNIST-1D, tiny IDX files)."""

import gzip
from collections import Counter
import random
import struct

import numpy as np
import pytest
import torch

from suite import datasets
from suite.datasets import DATASETS, Splits, default_cache_dir, load, read_idx
from suite.lab.data import batch_indices, dataset
from suite.errors import DataError

MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, written independently of the parser under test."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_idx(path, array, *, gz=False) -> None:
    payload = idx_bytes(array)
    path.write_bytes(gzip.compress(payload) if gz else payload)


def tiny_mnist(directory, n_train=50, n_test=20, gz=False, seed=1):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for stem, array in arrays.items():
        write_idx(directory / (stem + (".gz" if gz else "")), array, gz=gz)
    return arrays


def assert_one_line_error(excinfo, *words):
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def assert_well_formed(ds: Splits, name, features, shape):
    assert ds.name == name and ds.shape == shape and ds.n_classes == 10
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.ndim == 2 and x.shape[1] == features and len(x) == len(y)
        assert np.isfinite(x).all()
        assert int(y.min()) >= 0 and int(y.max()) < 10


# --- digits ---------------------------------------------------------------------------


def test_digits_shapes_and_splits():
    ds = load("digits")
    assert_well_formed(ds, "digits", 64, (8, 8))
    sizes = (len(ds.y_train), len(ds.y_val), len(ds.y_test))
    assert sum(sizes) == 1797
    assert sizes[0] > sizes[1] > 0 and sizes[2] > 0
    assert set(ds.y_train.tolist()) == set(range(10)) == set(ds.y_test.tolist())


def _digits_raw():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target


def _undo_standardization(ds):
    """Per feature, the one increasing affine map (raw = z * s + m) that sends the sorted
    standardized values of all three splits onto the sorted raw pixels. It exists only if
    every split was transformed with the same statistics."""
    raw, _ = _digits_raw()
    z_all = np.concatenate([ds.x_train, ds.x_val, ds.x_test]).astype(np.float64)
    s, m = np.ones(64), np.zeros(64)
    for j in range(64):
        zs, rs = np.sort(z_all[:, j]), np.sort(raw[:, j])
        if rs[0] == rs[-1]:  # pixel constant everywhere: standardized to a constant
            m[j] = rs[0] - zs[0]
            continue
        s[j], m[j] = np.polyfit(zs, rs, 1)
        np.testing.assert_allclose(zs * s[j] + m[j], rs, atol=1e-5, err_msg=f"feature {j}")
    return s, m


def test_digits_splits_disjoint_and_fixed():
    ds = load("digits")
    datasets._load_cached.cache_clear()  # force a genuine second load, not the in-process cache
    again = load("digits")
    assert again is not ds
    for name in Splits.ARRAYS:
        assert np.array_equal(getattr(ds, name), getattr(again, name))

    # The three splits, mapped back to raw pixels, are exactly the 1797 examples, each once.
    raw, target = _digits_raw()
    s, m = _undo_standardization(ds)

    def examples(x, y):
        return [(tuple(np.round(r, 4)), int(c)) for r, c in zip(x.astype(np.float64) * s + m, y.tolist())]

    splits = [examples(ds.x_train, ds.y_train), examples(ds.x_val, ds.y_val), examples(ds.x_test, ds.y_test)]
    assert sum(map(Counter, splits), Counter()) == Counter(examples((raw - m) / s, target))


def test_digits_standardized_with_train_statistics():
    ds = load("digits")
    x = ds.x_train.astype(np.float64)
    varying = x.std(0) > 1e-6  # constant pixels (e.g. corners) stay at 0
    assert np.abs(x.mean(0)).max() < 1e-5
    np.testing.assert_allclose(x.std(0)[varying], 1.0, atol=1e-4)
    # One shared affine map per feature undoes all three splits (checked inside), and it
    # is the training split's own mean and std: val and test used train statistics.
    s, m = _undo_standardization(ds)
    train_raw = x * s + m
    np.testing.assert_allclose(train_raw.mean(0)[varying], m[varying], atol=1e-6)
    np.testing.assert_allclose(train_raw.std(0)[varying], s[varying], atol=1e-6)
    # ...and not their own: their means are visibly off zero.
    for split in (ds.x_val, ds.x_test):
        assert np.abs(split.astype(np.float64).mean(0)).max() > 0.05


# --- MNIST-1D -------------------------------------------------------------------------


def test_mnist1d_generates_caches_and_reuses(tmp_path):
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)

    ds = load("mnist1d", cache_dir=tmp_path)
    assert (np.random.random(), random.random()) == before  # global RNGs left untouched
    assert_well_formed(ds, "mnist1d", 40, (40,))
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (3200, 800, 1000)

    (cache_file,) = (tmp_path / "mnist1d").glob("mnist1d-*.npz")  # named after the generator's version
    assert cache_file.is_file()
    assert not [p for p in cache_file.parent.iterdir() if p.suffix == ".tmp"]
    stamp = cache_file.stat().st_mtime_ns

    datasets._load_cached.cache_clear()
    again = load("mnist1d", cache_dir=tmp_path)
    assert cache_file.stat().st_mtime_ns == stamp  # read back, not regenerated
    for name in Splits.ARRAYS:
        assert np.array_equal(getattr(ds, name), getattr(again, name))


# --- IDX parsing ----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(path, array, gz=gz)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 7  # an ordinary writable array


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc", ["not an IDX file", "magic"]),
        (struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 1) + b"abcd", ["type 0x0d", "0x08"]),
        (idx_bytes(np.zeros((4, 28, 28)))[:-5], ["truncated", "4x28x28"]),
        (idx_bytes(np.zeros((4, 28, 28))) + b"\0\0\0", ["3 extra bytes"]),
        (struct.pack(">HBB", 0, 8, 3) + struct.pack(">I", 4), ["truncated", "header"]),
        (b"\0\0", ["too short"]),
    ],
    ids=["magic", "type", "truncated", "extra", "short-header", "tiny"],
)
def test_read_idx_rejects_malformed(tmp_path, payload, words):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert_one_line_error(excinfo, str(path), *words)


def test_read_idx_rejects_corrupt_gzip_and_missing_file(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(10)))[:-8])
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert_one_line_error(excinfo, "cannot read", str(path))
    with pytest.raises(DataError) as excinfo:
        read_idx(tmp_path / "nope")
    assert_one_line_error(excinfo, "does not exist")


# --- MNIST from a directory -----------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_data_dir(tmp_path, gz):
    arrays = tiny_mnist(tmp_path / "m", gz=gz)
    ds = load("mnist", data_dir=tmp_path / "m")
    assert_well_formed(ds, "mnist", 784, (28, 28))
    # 50 training images: validation = 50 // 6 = 8, the last ones; test = the official 20.
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (42, 8, 20)
    labels = arrays["train-labels-idx1-ubyte"]
    assert ds.y_train.tolist() == labels[:42].tolist() and ds.y_val.tolist() == labels[42:].tolist()
    assert ds.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert load("mnist", data_dir=str(tmp_path / "m")) is ds  # cached in-process


def test_load_mnist_from_cache_dir_without_download(tmp_path):
    tiny_mnist(tmp_path / "mnist", gz=True)
    ds = load("mnist", cache_dir=tmp_path, download=False)
    assert len(ds.y_test) == 20


def _break(directory, stem, array):
    write_idx(directory / stem, array)


@pytest.mark.parametrize(
    "stem, array, words",
    [
        ("train-images-idx3-ubyte", np.zeros((50, 27, 28)), ["27x28", "28x28"]),
        ("train-labels-idx1-ubyte", np.zeros(49), ["50 images", "49 labels"]),
        ("t10k-labels-idx1-ubyte", np.full(20, 10), ["label 10"]),
        ("t10k-images-idx3-ubyte", np.zeros(20), ["0x00000801", "3-d", "swapped"]),
    ],
    ids=["27x28", "count-mismatch", "label-range", "labels-as-images"],
)
def test_load_mnist_rejects_bad_files(tmp_path, stem, array, words):
    tiny_mnist(tmp_path)
    _break(tmp_path, stem, array)
    with pytest.raises(DataError) as excinfo:
        load("mnist", data_dir=tmp_path)
    assert_one_line_error(excinfo, *words)


def test_load_mnist_missing_file(tmp_path):
    tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as excinfo:
        load("mnist", data_dir=tmp_path)
    assert_one_line_error(excinfo, "t10k-labels-idx1-ubyte", "not found", str(tmp_path))
    with pytest.raises(DataError) as excinfo:
        load("mnist", data_dir=tmp_path / "absent")
    assert_one_line_error(excinfo, "does not exist", "--data-dir")


def test_mnist_absent_offline_names_both_ways_out(tmp_path):
    # This machine has no route to the mirrors, so the download really fails (quickly).
    with pytest.raises(DataError) as excinfo:
        load("mnist", cache_dir=tmp_path, download=True)
    assert_one_line_error(excinfo, "--data-dir", "download failed", "network", str(tmp_path / "mnist"))
    assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())


def test_mnist_absent_download_disabled(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load("mnist", cache_dir=tmp_path, download=False)
    assert_one_line_error(excinfo, "--data-dir", "download is disabled")


# --- load, Dataset, helpers -----------------------------------------------------------


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError) as excinfo:
        load("cifar")
    assert_one_line_error(excinfo, "cifar", *DATASETS)


def test_load_is_cached_in_process():
    assert load("digits") is load("digits", cache_dir="/nonexistent")


def test_dataset_tensors_and_subset_train():
    ds = dataset("digits")
    assert dataset("digits", device=torch.device("cpu")) is ds  # one copy per process and device
    assert ds.x_train.dtype == torch.float32 and ds.n_features == 64
    assert np.array_equal(ds.x_train.numpy(), load("digits").x_train)
    small = ds.subset_train(100)
    assert len(small.y_train) == 100 and small.x_train.shape == (100, 64)
    assert torch.equal(small.x_train, ds.x_train[:100]) and small.x_val is ds.x_val
    assert ds.subset_train(10**6) is ds
    with pytest.raises(DataError):
        ds.subset_train(0)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SUITE_DATA_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("SUITE_DATA_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "suite")


@pytest.mark.parametrize("n, batch_size", [(0, 4), (1, 4), (10, 3), (64, 64), (100, 7)])
def test_batch_indices_cover_each_index_once(n, batch_size):
    batches = batch_indices(n, batch_size, torch.Generator().manual_seed(0))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert all(len(b) == batch_size for b in batches[:-1])
    flat = torch.cat(batches).tolist() if batches else []
    assert sorted(flat) == list(range(n))


def test_batch_indices_seeded():
    def order(seed):
        return torch.cat(batch_indices(200, 32, torch.Generator().manual_seed(seed))).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert all(b.dtype == torch.int64 for b in batch_indices(10, 3, torch.Generator(), device="cpu"))
    with pytest.raises(ValueError):
        batch_indices(10, 0, torch.Generator())


def test_mnist_files_that_change_are_read_again_in_the_same_process(tmp_path):
    tiny_mnist(tmp_path / "m", seed=1)
    first = load("mnist", data_dir=tmp_path / "m")
    labels = tiny_mnist(tmp_path / "m", seed=2)  # new files, same names
    second = load("mnist", data_dir=tmp_path / "m")
    assert second is not first and second.y_test.tolist() == labels["t10k-labels-idx1-ubyte"].tolist()
    assert load("mnist", data_dir=tmp_path / "m") is second
