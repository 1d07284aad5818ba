"""The house rules of imports (DESIGN.md, "Rooms"), checked on the source of live/ (every
import statement at any depth of a file, lazy ones included):

- no import circles anywhere in live/;
- nothing below the command layer (live.cli, live.__main__, live.commands) imports it;
- the show wiring (live.app) is imported only by the command layer and the benchmarks;
- the benchmarks (live.bench) only by the command layer;
- the test helpers (live.testing) by no runtime room (only benchmarks and themselves);
- the runtime generator room (live.gen) does not import offline bank building (live.banks);
- the assembly (live.assemble) only by the show, the offline render, benchmarks, commands.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "live"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        rel = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        mods[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the live modules it imports (a name is resolved to its longest module prefix;
    a package's own submodules importing the package's __init__ are not counted)."""
    mods = _modules()

    def resolve(name: str):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for n in names:
                t = resolve(n)
                if t and t != m and not (mods[t].name == "__init__.py" and m.startswith(t + ".")):
                    edges[m].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return out


def _in(module: str, *rooms: str) -> bool:
    return any(module == r or module.startswith(r + ".") for r in rooms)


COMMAND_LAYER = ("live.cli", "live.__main__", "live.commands")


def _violations(edges, target_rooms, allowed_importers) -> list[str]:
    return sorted(f"{m} -> {t}" for m, ts in edges.items() for t in ts
                  if _in(t, *target_rooms) and not _in(m, *target_rooms, *allowed_importers))


def test_the_checker_sees_a_cycle_and_an_upward_import():
    edges = {"live.a": {"live.b"}, "live.b": {"live.c"}, "live.c": {"live.a"}, "live.d": {"live.cli"}, "live.cli": set()}
    assert cycles(edges) == [["live.a", "live.b", "live.c"]]
    assert _violations(edges, COMMAND_LAYER, ()) == ["live.d -> live.cli"]


def test_the_graph_is_read():
    edges = import_graph()
    assert "live.app" in edges and "live.assemble" in edges["live.app"]
    assert "live.errors" in edges["live.render.renderer"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_nothing_below_the_command_layer_imports_it():
    assert _violations(import_graph(), COMMAND_LAYER, ()) == []


def test_the_show_wiring_is_imported_only_from_above():
    assert _violations(import_graph(), ("live.app",), (*COMMAND_LAYER, "live.bench")) == []


def test_benchmarks_are_imported_only_by_the_command_layer():
    assert _violations(import_graph(), ("live.bench",), COMMAND_LAYER) == []


def test_runtime_code_never_imports_the_test_helpers():
    assert _violations(import_graph(), ("live.testing",), ("live.bench",)) == []


def test_runtime_generators_do_not_import_bank_building():
    edges = import_graph()
    assert sorted(f"{m} -> {t}" for m, ts in edges.items() if _in(m, "live.gen")
                  for t in ts if _in(t, "live.banks")) == []


def test_the_assembly_is_used_from_above_only():
    assert _violations(import_graph(), ("live.assemble",),
                       (*COMMAND_LAYER, "live.app", "live.offline", "live.bench")) == []
