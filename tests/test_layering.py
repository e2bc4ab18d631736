"""The package's import graph, computed from every module's source: no cycles; only the TUI (and
the CLI entry) import the TUI; the domain imports no Textual or Rich; the actor stays stdlib."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "tuiexplore"
# may start the TUI
ENTRY = {"tuiexplore.cli", "tuiexplore.__main__"}
UI_LIBS = {"textual", "rich"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module this file imports, at the top or inside a function (an import that only runs
    later is still a dependency)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return out


GRAPH = {m: {i for i in imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
            visit(v)
    return out


def is_ui(m: str) -> bool:
    return m == "tuiexplore.tui" or m.startswith("tuiexplore.tui.")


def test_the_graph_is_seen_whole():
    assert len(MODULES) > 30 and "tuiexplore.lab.protocol" in GRAPH["tuiexplore.lab.client"]
    assert "tuiexplore.lab.protocol" in GRAPH["tuiexplore.lab.agent"]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_a_cycle_is_found():  # the checker itself can fail
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_tui_and_the_entry_import_the_tui():
    offenders = {m: sorted(filter(is_ui, deps)) for m, deps in GRAPH.items() if not is_ui(m) and m not in ENTRY}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_domain_is_free_of_ui_code():
    domain = [m for m in MODULES if not is_ui(m) and m not in ENTRY]
    assert "tuiexplore.reports.export" in domain and "tuiexplore.domain" in domain
    offenders = {m: {i.split(".")[0] for i in imports(MODULES[m])} & UI_LIBS for m in domain}
    assert {k: v for k, v in offenders.items() if v} == {}


STDLIB_ONLY = {
    "tuiexplore.domain",
    "tuiexplore.lab.codec",
    "tuiexplore.lab.protocol",
    "tuiexplore.lab.receive_rules",  # protocol's LabOptions and ConfigCmd carry the rules
    "tuiexplore.lab.calls",
    "tuiexplore.lab.tcpinfo",
    "tuiexplore.lab.inkernel",
    "tuiexplore.safetext",  # calls quotes keys in its errors through it
}


def test_actor_imports_only_the_standard_library():
    """The actor process must start fast and small: it and what it imports from the package."""
    stdlib = {
        "__future__", "ctypes", "dataclasses", "errno", "fcntl", "json", "os", "re", "select", "signal",
        "socket", "struct", "sys", "threading", "time", "types", "typing",
    }  # fmt: skip
    for m in ["tuiexplore.lab.actor", *STDLIB_ONLY]:
        ours = {i for i in imports(MODULES[m]) if i.startswith("tuiexplore")}
        assert ours <= STDLIB_ONLY | {"tuiexplore", "tuiexplore.lab"}, m
        assert {i.split(".")[0] for i in imports(MODULES[m]) if not i.startswith("tuiexplore")} <= stdlib, m
