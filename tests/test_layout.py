"""The house: stages import only the stages below them, nothing imports in a circle, and the engine never imports
the lab."""

import ast
import subprocess
import sys

from tests.conftest import ROOT

SUITE = ROOT / "suite"

# Lowest first. A module may import modules of its own layer or of lower layers, never of higher ones (and the
# circle test keeps a layer's modules from importing each other both ways): the data of a claim flows up this list
# (declared, planned, executed, stored, judged, presented).
LAYERS = [
    ["suite.errors", "suite.files", "suite.leases"],
    ["suite.declare", "suite.stats", "suite.sequential", "suite.tables", "suite.environment", "suite.process", "suite.progress",
     "suite.store",
     "suite.datasets", "suite.context", "suite.fingerprint"],
    ["suite.lab"],  # the lab: may use the run contract and the data sources, nothing of the engine above them
    ["suite.registry"],
    ["suite.plan", "suite.overrides", "suite.verdicts", "suite.present"],
    ["suite.execute", "suite.results"],
    ["suite.references", "suite.power", "suite.rounds"],
    ["suite.report"],
    ["suite.bench"],
    ["suite.regress"],
    ["suite.cli"],
    ["suite.__main__"],
]
ENGINE = [m for layer in LAYERS for m in layer if m != "suite.lab"]


def _module(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every module of suite/ and the suite modules it imports anywhere in its body (lazy imports included)."""
    graph = {}
    for path in sorted(SUITE.rglob("*.py")):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.startswith("suite.") or m == "suite"} - {name}
    modules = set(graph)
    return {name: {m for m in deps if m in modules} for name, deps in graph.items()}


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_no_import_circle():
    graph = _imports()
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module, path):
        state[module] = 1
        for dep in graph[module]:
            assert state.get(dep) != 1, "import circle: " + " -> ".join([*path, module, dep])
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


def test_nothing_imports_a_higher_stage():
    upward = [f"{a} -> {b}" for a, deps in _imports().items() if a != "suite" for b in deps
              if b != "suite" and _layer(b) > _layer(a)]
    assert not upward, upward


def test_no_engine_module_imports_the_lab_even_lazily():
    into_lab = [f"{a} -> {b}" for a, deps in _imports().items() if not a.startswith("suite.lab")
                for b in deps if b.startswith("suite.lab")]
    assert not into_lab, into_lab


def test_importing_every_engine_module_leaves_the_lab_unimported():
    """In a real process: the engine (everything in suite/ but suite/lab) runs without the lab; it reaches the lab
    only through the ablations and benchmarks it discovers."""
    modules = [m for m in _imports() if not m.startswith("suite.lab") and m not in ("suite", "suite.__main__")]
    assert set(ENGINE) - {"suite.__main__"} <= {m for m in modules if m.count(".") == 1} | {"suite.report"}
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + \
           "print(sorted(m for m in sys.modules if m.startswith('suite.lab')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_layout_names_every_module():
    text = (ROOT / "README.md").read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    files = [p for p in SUITE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [str(p.relative_to(ROOT)) for p in files if p.name not in layout]
    assert not missing, f"modules the README's Layout section does not name: {missing}"
