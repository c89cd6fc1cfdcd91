"""The shape of the harness package, checked from the modules' own `import` statements (every
one, including those inside functions): no import cycle, the parent-side packages never import a
framework, and no module grows past the size a reader can hold in their head."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "harness"
MAX_LINES = 400
FRAMEWORKS = {"torch", "jax", "flax", "optax", "tensorflow", "keras", "mxnet", "chainer",
              "juliacall", "julia", "mlx"}


def module_name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(HARNESS.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The harness modules `path` imports (`from harness.x import y` counts `harness.x.y`
    when that is a module, else `harness.x`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports_of(path, known) - {name} for name, path in modules().items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None. A package's `__init__` importing
    its own submodules is a cycle like any other."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_inside_the_harness():
    edges = graph()
    assert len(edges) > 30  # the walk found the package
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_no_harness_module_imports_a_framework():
    """Frameworks live in py_impls/ and julia_impls/; the Julia bridge imports juliacall only
    inside the child, in a function (allowed: it is the adapter)."""
    offenders = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            for imported in names:
                if imported.split(".")[0] in FRAMEWORKS and name not in {
                        "harness.julia.bridge", "harness.verify.weights"}:
                    offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_modules_stay_small():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in modules().items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}
