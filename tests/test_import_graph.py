"""The module import graph (every import, lazy ones included): the circles issue 9 broke stay
broken. A new edge closing one of them fails here with the cycle spelled out."""

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
])
def test_broken_circles_stay_broken(a: str, b: str) -> None:
    g = _graph("platform", "soclab")
    there, back = _path(g, a, b), _path(g, b, a)
    assert there is None or back is None, f"import circle: {there} and back {back}"
