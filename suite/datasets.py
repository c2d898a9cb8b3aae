"""Where the datasets come from: digits, MNIST-1D and MNIST as standardized numpy splits (no torch).

Every dataset comes with fixed train/validation/test splits that never depend on a
run's seed, so runs with different seeds are compared on the same examples.
Features are flattened and standardized with statistics of the training split only.
The lab turns the splits into tensors on a device (:mod:`suite.lab.data`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import random
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.errors import DataError
from suite.files import atomic_write

DATASETS: tuple[str, ...] = ("digits", "mnist1d", "mnist")

# Splits are drawn from this constant seed, never from a run's seed.
_SPLIT_SEED = 0

# Standard deviations below this count as constant features (see _standardize).
_MIN_STD = 1e-6

_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# (size in bytes, SHA-256) of the four gzip files, as published by TensorFlow Datasets in
# tensorflow/datasets: tensorflow_datasets/url_checksums/mnist.txt. These are the original
# LeCun files; torchvision serves the same ones from the ossci mirror (its MD5s in
# torchvision/datasets/mnist.py: f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
_MNIST_FILES = {
    "train-images-idx3-ubyte": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
_DOWNLOAD_TIMEOUT_S = 10


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is not a bool
class Splits:
    """A dataset's fixed splits as numpy arrays: x float32 (n, features), flattened and standardized; y int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    shape: tuple[int, ...]  # one example's original shape, e.g. (8, 8)
    n_classes: int

    ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def default_cache_dir() -> Path:
    """$SUITE_DATA_CACHE if set, else ~/.cache/suite."""
    env = os.environ.get("SUITE_DATA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "suite"


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> Splits:
    """A dataset's splits by name; repeated calls in one process return the same object while its files stay
    the same.

    Raises :class:`DataError` (one line: what is missing and how to provide it) for an unknown name, missing or
    damaged files, or a failed download."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    cache = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser().resolve()
    # Key the in-process cache only on the arguments that matter for this dataset.
    if name == "digits":
        return _load_cached("digits", None, None, False)
    if name == "mnist1d":
        return _load_cached("mnist1d", None, cache, False)
    if data_dir is not None:
        directory = Path(data_dir).expanduser().resolve()
        return _load_cached("mnist", directory, None, False, _stamp(directory))
    return _load_cached("mnist", None, cache, bool(download), _stamp(cache / "mnist"))


def _stamp(directory: Path) -> tuple:
    """Name, size and modification time of each MNIST file found in ``directory``: files that change are read
    again, not served from this process's cache."""
    found = [_find_idx(directory, s) for s in _MNIST_FILES] if directory.is_dir() else []
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in found if p is not None)


def fingerprint(name: str, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None) -> str:
    """What a run's numbers depend on in dataset ``name``, as a short string for its key: the version of the
    package that ships or generates digits and MNIST-1D; for MNIST the SHA-256 of each of its four files, as found
    in ``data_dir`` (or the cache), or as published for a file the download has still to fetch. Two directories
    holding different files never share a fingerprint. Reads files but never downloads; raises DataError for an
    unknown name."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if name in ("digits", "mnist1d"):
        import importlib.metadata

        package = {"digits": "scikit-learn", "mnist1d": "mnist1d"}[name]
        return f"{name}: {package} {importlib.metadata.version(package)}"
    cache = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser()
    directory = Path(data_dir).expanduser() if data_dir is not None else cache / "mnist"
    digests = []
    for stem, (_, published) in _MNIST_FILES.items():
        path = _find_idx(directory, stem) if directory.is_dir() else None
        if path is not None:
            stat = path.stat()
            digests.append(f"{stem}: {_file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}")
        else:  # the download will fetch exactly this file, or loading will fail
            digests.append(f"{stem}: {published if data_dir is None else 'missing'}")
    return "mnist: " + hashlib.sha256("\n".join(digests).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """A file's SHA-256, computed once per process for one size and modification time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)  # failures raise, so they are not cached and get retried
def _load_cached(name: str, data_dir: Path | None, cache: Path | None, download: bool, stamp: tuple = ()) -> Splits:
    if name == "digits":
        return _load_digits()
    if name == "mnist1d":
        return _load_mnist1d(cache)
    return _load_mnist(data_dir, cache, download)


# --- building the splits --------------------------------------------------------------


def _standardize(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Per-feature standardization fitted on the training split only, so no statistic
    of validation or test data leaks into the inputs."""
    x_train = x_train.astype(np.float64)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    # A constant training feature carries no information: centre it but do not divide
    # by ~0, which would blow up any small deviation in validation or test data.
    std = np.where(std < _MIN_STD, 1.0, std)
    return [((x.astype(np.float64) - mean) / std).astype(np.float32) for x in (x_train, *others)]


def _make(name, shape, n_classes, x_train, y_train, x_val, y_val, x_test, y_test) -> Splits:
    flat = [x.reshape(len(x), -1) for x in (x_train, x_val, x_test)]
    xs = _standardize(*flat)
    ys = [np.asarray(y, dtype=np.int64) for y in (y_train, y_val, y_test)]
    return Splits(name, xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], tuple(shape), n_classes)


# --- digits -------------------------------------------------------------------------


def _load_digits() -> Splits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data / 16.0  # pixels are 0..16
    y = d.target
    # Stratified 60/20/20; both splits use the constant seed and come back shuffled.
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=_SPLIT_SEED
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=len(y_test), stratify=y_rest, random_state=_SPLIT_SEED
    )
    return _make("digits", (8, 8), 10, x_train, y_train, x_val, y_val, x_test, y_test)


# --- MNIST-1D -----------------------------------------------------------------------


def _load_mnist1d(cache: Path) -> Splits:
    import importlib.metadata

    # One cache file per version of the generator, so that the arrays are always what the fingerprint names.
    arrays = _mnist1d_arrays(cache / "mnist1d" / f"mnist1d-{importlib.metadata.version('mnist1d')}.npz")
    x, y = arrays["x"], arrays["y"]
    # Keep the package's own train/test split; carve validation (1/5) out of train.
    perm = np.random.default_rng(_SPLIT_SEED).permutation(len(y))
    n_val = len(y) // 5
    val, train = perm[:n_val], perm[n_val:]
    return _make(
        "mnist1d", (x.shape[1],), 10,
        x[train], y[train], x[val], y[val], arrays["x_test"], arrays["y_test"],
    )


def _mnist1d_arrays(path: Path) -> dict[str, np.ndarray]:
    keys = ("x", "y", "x_test", "y_test")
    if path.exists():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in keys}
        except (OSError, ValueError, KeyError, zlib.error) as e:
            warnings.warn(f"ignoring unreadable MNIST-1D cache {path} ({e}); regenerating it")

    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds the global `random` and numpy RNGs; put them back afterwards
    # so that loading data never changes what a run's own randomness produces.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(get_dataset_args())  # generated offline; never its download path
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = {k: np.asarray(d[k]) for k in keys}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as e:
        # The data is in hand; a cache we cannot write only costs time on the next run.
        warnings.warn(f"could not cache MNIST-1D at {path} ({e}); set SUITE_DATA_CACHE to a writable directory")
    return arrays


# --- MNIST (IDX files) --------------------------------------------------------------


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Parse an IDX file (gzip-compressed if its name ends in .gz) of unsigned bytes.

    The header is two zero bytes, a type byte (0x08 = uint8), a byte giving the number
    of dimensions, then each dimension as a big-endian uint32; the data must fill the
    rest of the file exactly. `ndim`, if given, is the number of dimensions required
    (3 for images, magic 0x00000803; 1 for labels, magic 0x00000801).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file {path} does not exist; check the path") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read IDX file {path}: {_one_line(e)}; replace it with an intact copy") from None

    if len(data) < 4:
        raise DataError(f"{path} is too short ({len(data)} bytes) to be an IDX file; replace it with an intact copy")
    magic = struct.unpack(">I", data[:4])[0]
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path} is not an IDX file: magic number 0x{magic:08x} does not start with two zero bytes "
            "(expected e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    if data[2] != 0x08:
        raise DataError(
            f"{path} has IDX element type 0x{data[2]:02x}; only 0x08 (unsigned byte) is supported, as used by MNIST"
        )
    dims_n = data[3]
    if ndim is not None and dims_n != ndim:
        raise DataError(
            f"{path} has magic number 0x{magic:08x} ({dims_n}-d) but a {ndim}-d file (0x{0x800 + ndim:08x}) "
            "was expected; check that images and labels files are not swapped"
        )
    if dims_n == 0:
        raise DataError(f"{path} declares 0 dimensions in its IDX header; replace it with an intact copy")
    header = 4 + 4 * dims_n
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its IDX header; replace it with an intact copy")
    dims = struct.unpack(f">{dims_n}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))  # item size is 1 byte for uint8
    actual = len(data) - header
    shape = "x".join(map(str, dims))
    if actual < expected:
        raise DataError(
            f"{path} is truncated: its header declares {shape} = {expected} bytes of data "
            f"but only {actual} follow; replace it with an intact copy"
        )
    if actual > expected:
        raise DataError(
            f"{path} has {actual - expected} extra bytes after the {expected} bytes of data its header "
            f"declares ({shape}); replace it with an intact copy"
        )
    # Copy so that callers get an ordinary writable array, not a view of immutable bytes.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _one_line(e: BaseException) -> str:
    reason = getattr(e, "reason", e)  # a URLError's reason
    return " ".join(str(reason).split()) or type(e).__name__


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_mnist(data_dir: Path | None, cache: Path | None, download: bool) -> Splits:
    if data_dir is not None:
        if not data_dir.is_dir():
            raise DataError(f"MNIST data directory {data_dir} does not exist; pass --data-dir DIR holding the four IDX files")
        directory = data_dir
        missing = [s for s in _MNIST_FILES if _find_idx(directory, s) is None]
        if missing:
            raise DataError(
                f"MNIST file {missing[0]} (or {missing[0]}.gz) not found in {directory}; "
                "the directory must hold train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz)"
            )
    else:
        directory = cache / "mnist"
        missing = [s for s in _MNIST_FILES if _find_idx(directory, s) is None]
        if missing and not download:
            raise DataError(
                f"MNIST not found in {directory} and download is disabled; "
                "pass --data-dir DIR with the four IDX files or allow the download"
            )
        if missing:
            _download_mnist(directory, missing)

    paths = {s: _find_idx(directory, s) for s in _MNIST_FILES}
    x_train, y_train = _mnist_pair(paths["train-images-idx3-ubyte"], paths["train-labels-idx1-ubyte"])
    x_test, y_test = _mnist_pair(paths["t10k-images-idx3-ubyte"], paths["t10k-labels-idx1-ubyte"])
    # Validation is the last 10,000 training images (fewer for tiny test files).
    n_val = min(10_000, len(y_train) // 6)
    n_fit = len(y_train) - n_val
    return _make(
        "mnist", (28, 28), 10,
        x_train[:n_fit], y_train[:n_fit], x_train[n_fit:], y_train[n_fit:], x_test, y_test,
    )


def _mnist_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, but MNIST images are 28x28; "
            "pass the original MNIST files"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "the counts must agree, pass matching files"
        )
    if len(images) == 0:
        raise DataError(f"{images_path} holds no images; pass the original MNIST files")
    if labels.max() > 9:
        raise DataError(f"{labels_path} holds label {labels.max()}, but MNIST labels are 0..9; pass the original MNIST files")
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)


def _download_mnist(directory: Path, stems: list[str]) -> None:
    """Fetch the missing gzip files, verify size and SHA-256, and save them atomically."""
    for stem in stems:
        size, sha256 = _MNIST_FILES[stem]
        reasons = []
        for mirror in _MNIST_MIRRORS:
            url = mirror + stem + ".gz"
            try:
                payload = _fetch(url, limit=size + 1)  # one byte more than expected reveals an overlong file
            except (OSError, ValueError) as e:  # URLError, HTTPError and timeouts are OSErrors
                reasons.append(f"{url}: {_one_line(e)}")
                continue
            if len(payload) != size or hashlib.sha256(payload).hexdigest() != sha256:
                reasons.append(f"{url}: checksum mismatch")
                continue
            try:
                directory.mkdir(parents=True, exist_ok=True)
                atomic_write(directory / (stem + ".gz"), lambda f: f.write(payload))
            except OSError as e:
                raise DataError(
                    f"cannot save MNIST into {directory} ({_one_line(e)}); "
                    "set SUITE_DATA_CACHE to a writable directory or pass --data-dir DIR with the four IDX files"
                ) from None
            break
        else:
            raise DataError(
                f"MNIST not found in {directory} and download failed ({'; '.join(reasons)}); "
                "pass --data-dir DIR with the four IDX files or connect to the network"
            )


def _fetch(url: str, limit: int) -> bytes:
    """At most `limit` bytes from `url`, so a wrong or hostile server cannot fill memory."""
    import urllib.request  # here: only a download needs it

    chunks, total = [], 0
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as r:
        while total < limit:
            chunk = r.read(min(1 << 20, limit - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    return b"".join(chunks)
