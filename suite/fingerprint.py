"""What a run's numbers depend on besides its config, seed, device and tier, as hashes for its key.

- **Code**: the engine modules that decide numbers in every run (how a run is seeded, how data are split), the
  ablation's module and, followed through its import statements (lazy and relative ones too), every module of
  code that is not an installed library: the lab, other ablation modules, a helper of the user's on
  ``PYTHONPATH``. The rest of the engine (declaring, planning, storing, presenting) changes no number; when it
  ever does, bump ``ENGINE_VERSION``. Of an ablation module, what only judges or describes runs is left out
  (:func:`run_source`): editing a hypothesis, a margin, a role or a docstring re-judges stored runs, and editing
  a tier or an exclusion re-plans them; neither re-runs them.
- **Libraries**: the versions of torch and numpy, which change floating-point results.
- **Data**: the content of the dataset a run reads (:func:`suite.datasets.fingerprint`).

Modules are found and read on disk, never imported: importing the lab would import torch, and ``list`` needs none.
"""

from __future__ import annotations

import ast
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
# Fields of an ``@ablation(...)`` declaration that judge or describe runs and change none of their numbers.
JUDGING = ("section", "claim", "metrics", "hypotheses", "figures", "references", "labels")
# Fields that only choose which runs a plan holds: a run's key already holds its config (the tier's values
# included), seed and tier, so a tier's seed count or an exclusion edited re-plans, it does not re-run.
PLANNING = ("tiers", "exclude")

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


def _bound(stmt: ast.stmt) -> set[str] | None:
    """The names a top-level binding statement binds (imports, assignments to names, definitions); None for any
    other statement, which always stays."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).partition(".")[0] for a in stmt.names if a.name != "*"} or None
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) \
        else None
    if targets and all(isinstance(t, ast.Name) for t in targets):
        return {t.id for t in targets}
    return None


def _loaded(nodes) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.value.id for node in nodes for n in ast.walk(node)
         if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}


@functools.lru_cache(maxsize=None)  # parsed once per text, however many closures and ablations it appears in
def run_source(text: str, exported: frozenset[str] = frozenset()) -> str:
    """An ablation module's source without what changes no run's numbers: docstrings, comments, the ``JUDGING``
    and ``PLANNING`` fields of its ``@ablation(...)`` declaration, and top-level bindings used only by those fields
    (e.g. a margin constant, a function that builds the hypotheses), unless ``exported`` (names another module
    imports from it).
    Any other module's source is returned as it is."""
    if "ablation(" not in text:
        return text
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    judging = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()  # a docstring
        for deco in getattr(node, "decorator_list", ()):
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", "")) == "ablation":
                judging += [k.value for k in deco.keywords if k.arg in JUDGING + PLANNING]
                deco.keywords = [k for k in deco.keywords if k.arg not in JUDGING + PLANNING]
    # One statement per imported name, so that a name only a hypothesis uses drops alone.
    tree.body = [type(s)(**{**{f: getattr(s, f) for f in s._fields}, "names": [a]})
                 if isinstance(s, (ast.Import, ast.ImportFrom)) else s
                 for s in tree.body for a in (s.names if isinstance(s, (ast.Import, ast.ImportFrom)) else [None])]
    # Drop bindings that only the judging fields (or other dropped bindings) use, until none is left to drop.
    while True:
        uses = [_loaded([s]) for s in tree.body]
        needed = _loaded(judging)
        drop = set()
        for i, stmt in enumerate(tree.body):
            names = _bound(stmt)
            if not names or names & exported or not names & needed:
                continue
            if not any(names & u for j, u in enumerate(uses) if j != i):
                drop.add(i)
        if not drop:
            break
        judging += [tree.body[i] for i in drop]
        tree.body = [s for i, s in enumerate(tree.body) if i not in drop]
    return ast.unparse(tree)


def _imported_names(source: str, package: str) -> dict[str, set[str]]:
    """Module -> the names ``source`` imports from it with ``from module import names``."""
    out: dict[str, set[str]] = {}
    for module, imported, _ in _IMPORT.findall(source):
        if not imported:
            continue
        if module.startswith("."):
            try:
                module = importlib.util.resolve_name(module, package)
            except (ImportError, ValueError):
                continue
        out.setdefault(module, set()).update(w.split()[0] for w in imported.strip("()").replace("\n", " ").split(",")
                                             if w.strip())
    return out


def code_version(module_source: str, package: str = "") -> str:
    """Hash of the engine's numeric modules, of an ablation module's source (a module of ``package``) and of the
    code it imports, directly or through that code; ablation modules as :func:`run_source` gives them."""
    texts, todo, seen = {}, [(module_source, package)], set(NUMERIC_ENGINE)
    for name in NUMERIC_ENGINE:
        texts[name] = module_path(name).read_text()
        todo.append((texts[name], name.rpartition(".")[0]))
    exported: dict[str, set[str]] = {}
    while todo:
        source, pkg = todo.pop()
        # What a module needs of another is what its run source imports: a description it borrows is not.
        for module, names in _imported_names(run_source(source), pkg).items():
            exported.setdefault(module, set()).update(names)
        for name in sorted(imports(source, pkg)):
            if name in seen:
                continue
            seen.add(name)
            path = module_path(name)
            if path is not None:
                texts[name] = path.read_text()
                todo.append((texts[name], name if path.name == "__init__.py" else name.rpartition(".")[0]))
    sources = [run_source(module_source)]
    sources += [f"{name}\n{run_source(text, frozenset(exported.get(name, ())))}" for name, text in texts.items()]
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
