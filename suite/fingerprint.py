"""What a run's numbers depend on besides its config, seed, device and tier, as hashes for its key.

- **Code**: the engine modules that decide numbers in every run (how a run is seeded, how data are split), the
  ablation's module and, followed through its import statements (lazy and relative ones too), every module of
  code that is not an installed library: the lab, other ablation modules, a helper of the user's on
  ``PYTHONPATH``. The rest of the engine (declaring, planning, storing, presenting) changes no number; when it
  ever does, bump ``ENGINE_VERSION``.
- **Libraries**: the versions of torch and numpy, which change floating-point results.
- **Data**: the content of the dataset a run reads (:func:`suite.datasets.fingerprint`).

Modules are found and read on disk, never imported: importing the lab would import torch, and ``list`` needs none.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import sys
import sysconfig
from pathlib import Path

# Bumped by hand when engine code outside NUMERIC_ENGINE changes what a run computes.
ENGINE_VERSION = "2"
# Engine modules whose code decides every run's numbers: always hashed.
NUMERIC_ENGINE = ("suite.context", "suite.datasets")
LIBRARIES = ("torch", "numpy")

_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)|import[ \t]+([^\n#]+))", re.M)


@functools.lru_cache(maxsize=None)  # every ablation follows the same lab modules
def imports(source: str, package: str = "") -> frozenset[str]:
    """Absolute module names that ``source``, a module of ``package``, imports anywhere in its body (``from a.b
    import c``: a.b and a.b.c; ``from .c import d`` resolved against ``package``). Read from the import
    statements' text: an AST walk of the lab would double the time of ``list``."""
    names: set[str] = set()
    for module, imported, plain in _IMPORT.findall(source):
        words = [w.split()[0] for w in (imported or plain).strip("()").replace("\n", " ").split(",") if w.strip()]
        if module.startswith("."):
            try:
                module = importlib.util.resolve_name(module, package)
            except (ImportError, ValueError):
                continue  # relative to nothing this module belongs to
        if module:
            names |= {module} | {f"{module}.{w}" for w in words}
        else:
            names |= set(words)
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def _libraries() -> tuple[Path, ...]:
    """Where installed libraries and the standard library live: this interpreter's, the site directories (user
    ones too, e.g. ``pip install --user``)."""
    import site

    paths = sysconfig.get_paths()
    places = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    places += [*getattr(site, "getsitepackages", list)(), site.getusersitepackages()]
    return tuple({Path(p).resolve() for p in places})


def _is_library(path: Path) -> bool:
    path = path.resolve()
    return any(part in ("site-packages", "dist-packages") for part in path.parts) or \
        any(path.is_relative_to(lib) for lib in _libraries())


def _followed(name: str) -> bool:
    top = name.partition(".")[0]
    if top == "suite":
        return name.startswith("suite.lab") or any(name == m or name.startswith(m + ".") for m in NUMERIC_ENGINE)
    return top not in sys.builtin_module_names


@functools.lru_cache(maxsize=None)
def module_path(name: str) -> Path | None:
    """The source file of module ``name`` when it is code of this project or of the user (not an installed
    library, not the standard library), found without importing it; None otherwise."""
    if not _followed(name):
        return None
    top, _, rest = name.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
        base = base.joinpath(*rest.split(".")) if rest else base
        candidates = (base.with_suffix(".py"), base / "__init__.py")
    elif not rest and spec.origin and spec.origin.endswith(".py"):
        candidates = (Path(spec.origin),)
    else:
        return None
    path = next((p for p in candidates if p.is_file()), None)
    if path is None or top not in ("suite", "ablations") and _is_library(path):
        return None
    return path


def code_version(module_source: str, package: str = "") -> str:
    """Hash of the engine's numeric modules, of an ablation module's source (a module of ``package``) and of the
    code it imports, directly or through that code."""
    sources, todo, seen = [module_source], [(module_source, package)], set(NUMERIC_ENGINE)
    for name in NUMERIC_ENGINE:
        sources.append(f"{name}\n{module_path(name).read_text()}")
        todo.append((sources[-1], name.rpartition(".")[0]))
    while todo:
        source, pkg = todo.pop()
        for name in sorted(imports(source, pkg)):
            if name in seen:
                continue
            seen.add(name)
            path = module_path(name)
            if path is not None:
                text = path.read_text()
                sources.append(f"{name}\n{text}")
                todo.append((text, name if path.name == "__init__.py" else name.rpartition(".")[0]))
    return hashlib.sha256("\n".join([ENGINE_VERSION, *sources]).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that change floating-point results (read without importing them)."""
    import importlib.metadata  # here: `list` needs none of it

    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "absent"
    return out
