"""The module import graph (every import, lazy and type-checking ones included): the circles
issue 9 broke stay broken, and `dssoc` has none at all. A new edge closing one fails here with the
cycle spelled out."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

ROOT = REPO


def _graph(src: str, pkg: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in sorted((ROOT / src / pkg).rglob("*.py")):
        mod = ".".join(f.relative_to(ROOT / src).with_suffix("").parts).removesuffix(".__init__")
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(pkg):
                deps.add(node.module)
                # `from pkg import module` is an edge to the module, not to the package
                deps |= {f"{node.module}.{a.name}" for a in node.names
                         if (ROOT / src / node.module.replace(".", "/") / f"{a.name}.py").is_file()}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith(pkg)}
        out[mod] = deps - {mod}
    return out


def _path(g: dict[str, set[str]], a: str, b: str) -> list[str] | None:
    """A shortest import chain a -> ... -> b (breadth first), or None."""
    prev: dict[str, str] = {a: a}
    todo = [a]
    while todo:
        nxt = []
        for m in todo:
            for d in sorted(g.get(m, ())):
                if d in g and d not in prev:
                    prev[d] = m
                    if d == b:
                        chain = [b]
                        while chain[-1] != a:
                            chain.append(prev[chain[-1]])
                        return chain[::-1]
                    nxt.append(d)
        todo = nxt
    return None


@pytest.mark.parametrize(("a", "b"), [
    ("soclab.report", "soclab.sweep"),
    ("soclab.sweep", "soclab.rl.tuning"),
    ("soclab.report", "soclab.rl.tuning"),
    ("soclab.cluster", "soclab.tracking_server"),
    ("soclab.spec", "soclab.validation"),
    ("soclab.validation", "soclab.cells"),
    ("soclab.spec", "soclab.cells"),
    ("soclab.spec_schema", "soclab.validation"),
    ("soclab.spec_schema", "soclab.cells"),
])
def test_broken_circles_stay_broken(a: str, b: str) -> None:
    g = _graph("platform", "soclab")
    there, back = _path(g, a, b), _path(g, b, a)
    assert there is None or back is None, f"import circle: {there} and back {back}"


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `g`: its strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v] & g.keys()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_dssoc_has_no_import_circle() -> None:
    g = _graph("envs", "dssoc")
    circles = _cycles(g)
    detail = [(c, _path(g, c[0], c[1]), _path(g, c[1], c[0])) for c in circles]
    assert not circles, f"import circles in dssoc (modules, one way, the way back): {detail}"


def test_cycle_finder_sees_a_circle() -> None:
    """The finder itself: a two-module circle and a self-contained chain."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_runtime_records_and_the_view_import_no_engine() -> None:
    """Schedulers, observers, metrics and the records name the engine's types without importing
    the engine: only the drivers (simulate, the envs, the lockstep driver of policy schedulers in
    dssoc.env.policy, the package root) do."""
    g = _graph("envs", "dssoc")
    importers = sorted(m for m, deps in g.items() if "dssoc.engine" in deps)
    assert importers == ["dssoc", "dssoc.env.late_env", "dssoc.env.policy", "dssoc.env.soc_sched",
                         "dssoc.simulate"]
