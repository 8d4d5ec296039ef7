"""The package's import graph: no cycles, and imports point down (CLI → library → primitives).

Every import counts, including those inside functions (a lazy import is still a dependency). The graph is read
from the source with ``ast``, so the check costs nothing at run time and needs no import of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mcpwrap"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The mcpwrap modules ``name`` imports (a package import counts as its ``__init__``)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:  # `from pkg import name` may name an attribute, not a module
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mcpwrap":
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "mcpwrap":
                source = node.module
            else:
                continue
            for alias in node.names:
                add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_inside_the_package():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize(
    "lower, forbidden",
    [
        # library code never reaches up into the command line
        ("_relay", "_cli"), ("_policy", "_cli"), ("_audit", "_cli"), ("_state", "_cli"), ("_clients", "_cli"),
        ("detect", "_cli"), ("interceptors", "_cli"), ("_runtime", "_cli"),
        # the relay knows nothing of policy or interceptors
        ("_relay", "_policy"), ("_relay", "interceptors"), ("_relay", "detect"),
        # the engine and the detectors know nothing of the chain's composition
        ("_policy", "interceptors"), ("detect", "interceptors"), ("_audit", "interceptors"), ("_state", "interceptors"),
        # shipped code never loads test hooks
        ("_cli", "testing"), ("_runtime", "testing"), ("interceptors", "testing"),
    ],
)
def test_imports_point_down(lower, forbidden):
    g = graph()
    bad = sorted(f"{m} → {t}" for m, targets in g.items() if _layer(m) == lower for t in targets if _layer(t) == forbidden)
    assert not bad, bad
