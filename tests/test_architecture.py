"""The import rules of docs/architecture.md, checked on the source (every import, also the ones
inside functions; imports under ``if TYPE_CHECKING:`` never run and are left out)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
#: the only modules that may start the emulator: the command line and the demo (and the emulator itself)
MAY_IMPORT_SERVER = {"lguapi.cli", "lguapi.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                for sub in getattr(child, "orelse", []):  # the else branch does run
                    visit(sub)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append(child)
            visit(child)
    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the lguapi/lgucore modules it imports (``from . import x`` counts as ``pkg.x``)."""
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                where = ".".join(base + ([node.module] if node.module else []))
            else:
                where = node.module or ""
            targets.add(where)
            targets.update(f"{where}.{a.name}" for a in node.names if f"{where}.{a.name}" in files)
        # a module's own packages are imported before it anyway: not an edge
        graph[mod] = {t for t in targets if t in files and t != mod and not mod.startswith(t + ".")}
    return graph


GRAPH = import_graph()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_graph_is_read():
    assert "lguapi.client" in GRAPH["lguapi.monitor"] and "lgucore" in GRAPH["lguapi.client"]
    assert "lguapi.monitor" not in GRAPH["lguapi.runtime"]  # a TYPE_CHECKING import only
    assert len(GRAPH) > 40


def test_lgucore_imports_nothing_of_lguapi():
    bad = {m: sorted(t for t in ts if t.split(".")[0] == "lguapi") for m, ts in GRAPH.items() if m.startswith("lgucore")}
    assert not {m: t for m, t in bad.items() if t}


def test_no_library_module_imports_the_emulator():
    bad = {m: sorted(t for t in ts if t == "lguapi.server" or t.startswith("lguapi.server."))
           for m, ts in GRAPH.items()
           if m.startswith("lguapi") and m not in MAY_IMPORT_SERVER and not m.startswith("lguapi.server")}
    assert not {m: t for m, t in bad.items() if t}, "only the CLI and the demo start the emulator"


def test_the_library_does_not_depend_on_the_command_line():
    users = sorted(m for m, ts in GRAPH.items() if ts & {"lguapi.cli", "lguapi.demo", "lguapi.tui"}
                   and m not in {"lguapi.cli", "lguapi.demo", "lguapi.__main__", "lguapi.runtime"})
    assert users == []


@pytest.mark.parametrize("package", ["lguapi", "lgucore"])
def test_no_import_cycles(package):
    found = [c for c in cycles(GRAPH) if c[0].split(".")[0] == package]
    assert found == [], found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
