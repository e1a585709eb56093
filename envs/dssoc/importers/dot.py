"""Graphviz DOT digraphs -> Application (a small parser of the DOT language, no dependency).

Read: `[strict] digraph [ID] { ... }` with node statements, edge chains (`a -> b -> c`, `a -> {b c}`),
`node [...]` / `edge [...]` defaults (scoped by subgraphs), subgraphs and clusters (flattened),
graph attributes, quoted and HTML ids, `//`, `/* */` and `#` comments. Undirected graphs are
refused (a DAG needs directions).

Weights travel as attributes by convention. A node's work is the first numeric attribute among
`work, runtime, weight, time, cost, exec, size`; its category is `category`, `type` or `kind`
(default `dot`). An edge's volume is the first numeric attribute among `volume, data, bytes, size,
weight, cost`. Other attributes (labels, colours, shapes, ...) and graph attributes are reported
as not mapped; nodes without a work attribute get work 0 and are reported too.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult, app_name_from, build_application
from dssoc.schemas import read_text

NODE_WORK = ("work", "runtime", "weight", "time", "cost", "exec", "size")
NODE_CATEGORY = ("category", "type", "kind")
EDGE_VOLUME = ("volume", "data", "bytes", "size", "weight", "cost")
_KEYWORDS = {"strict", "graph", "digraph", "node", "edge", "subgraph"}

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\f\v]+)|(?P<nl>\n)|(?P<comment>//[^\n]*|/\*.*?\*/|^\#[^\n]*)
      |(?P<arrow>->|--)|(?P<punct>[{}\[\];,=:])
      |(?P<quoted>"(?:[^"\\]|\\.)*")
      |(?P<id>[A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))""",
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.toks: list[tuple[str, str, int]] = []  # (kind, value, line)
        self._lex(text)
        self.pos = 0
        self.nodes: dict[str, dict[str, str]] = {}
        self.node_line: dict[str, int] = {}
        self.edges: list[tuple[str, str, dict[str, str], int]] = []
        self.graph_attrs: set[str] = set()
        self.subgraphs = 0
        self._mentions: list[dict[str, None]] = []  # nodes named inside each open subgraph

    def _lex(self, text: str) -> None:
        line, i = 1, 0
        while i < len(text):
            if text[i] == "<":  # an HTML id: balanced angle brackets
                depth, j = 0, i
                while j < len(text):
                    depth += {"<": 1, ">": -1}.get(text[j], 0)
                    j += 1
                    if depth == 0:
                        break
                if depth:
                    raise ConfigError("unterminated HTML id '<...>'", f"{self.source}:{line}")
                self.toks.append(("id", text[i + 1:j - 1], line))
                line += text.count("\n", i, j)
                i = j
                continue
            m = _TOKEN.match(text, i)
            if m is None:
                raise ConfigError(f"unexpected character {text[i]!r}", f"{self.source}:{line}")
            kind = m.lastgroup or ""
            value = m.group()
            if kind == "quoted":
                self.toks.append(("id", re.sub(r'\\(["\\])', r"\1", value[1:-1]).replace("\\\n", ""),
                                  line))
            elif kind == "id":
                low = value.lower()
                self.toks.append(("kw" if low in _KEYWORDS else "id", low if low in _KEYWORDS else value,
                                  line))
            elif kind in ("arrow", "punct"):
                self.toks.append((kind, value, line))
            line += value.count("\n")
            i = m.end()
        self.toks.append(("eof", "", line))

    # -- helpers
    def peek(self, k: int = 0) -> tuple[str, str, int]:
        return self.toks[min(self.pos + k, len(self.toks) - 1)]

    def error(self, message: str) -> ConfigError:
        kind, value, line = self.peek()
        found = "end of file" if kind == "eof" else repr(value)
        return ConfigError(f"{message}, found {found}", f"{self.source}:{line}")

    def expect(self, kind: str, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise self.error(f"expected {value or kind!r}")
        self.pos += 1
        return tok

    def accept(self, kind: str, value: str | None = None) -> bool:
        tok = self.peek()
        if tok[0] == kind and (value is None or tok[1] == value):
            self.pos += 1
            return True
        return False

    # -- grammar
    def parse(self) -> None:
        self.accept("kw", "strict")
        kind, value, _ = self.peek()
        if kind == "kw" and value == "graph":
            raise self.error("an undirected graph cannot describe a DAG: use 'digraph'")
        self.expect("kw", "digraph")
        if self.peek()[0] == "id":
            self.pos += 1
        self.expect("punct", "{")
        self.stmt_list({}, {})
        self.expect("punct", "}")
        if self.peek()[0] != "eof":
            raise self.error("expected the end of the file after the graph")

    def attr_list(self) -> dict[str, str]:
        attrs: dict[str, str] = {}
        while self.accept("punct", "["):
            while not self.accept("punct", "]"):
                key = self.expect("id")[1]
                if self.accept("punct", "="):
                    attrs[key] = self.expect("id")[1]
                else:
                    attrs[key] = "true"
                self.accept("punct", ",") or self.accept("punct", ";")
        return attrs

    def node_id(self) -> tuple[str, int]:
        _, name, line = self.expect("id")
        if self.accept("punct", ":"):  # port (and compass point): positions only
            self.expect("id")
            if self.accept("punct", ":"):
                self.expect("id")
        return name, line

    def add_node(self, name: str, line: int, defaults: dict[str, str], attrs: dict[str, str]) -> None:
        for mentioned in self._mentions:
            mentioned[name] = None
        if name not in self.nodes:
            self.nodes[name] = dict(defaults)
            self.node_line[name] = line
        self.nodes[name].update(attrs)

    def stmt_list(self, node_defaults: dict[str, str], edge_defaults: dict[str, str]) -> None:
        node_defaults, edge_defaults = dict(node_defaults), dict(edge_defaults)
        while self.peek()[:2] != ("punct", "}") and self.peek()[0] != "eof":
            self.stmt(node_defaults, edge_defaults)
            self.accept("punct", ";")

    def operand(self, node_defaults: dict[str, str], edge_defaults: dict[str, str]) -> list[str]:
        """A node id or a subgraph; returns the nodes it stands for in an edge statement."""
        kind, value, _ = self.peek()
        if (kind == "kw" and value == "subgraph") or (kind, value) == ("punct", "{"):
            if self.accept("kw", "subgraph") and self.peek()[0] == "id":
                self.pos += 1
            self.subgraphs += 1
            self.expect("punct", "{")
            self._mentions.append({})
            self.stmt_list(node_defaults, edge_defaults)
            self.expect("punct", "}")
            return list(self._mentions.pop())
        name, line = self.node_id()
        self.add_node(name, line, node_defaults, {})
        return [name]

    def stmt(self, node_defaults: dict[str, str], edge_defaults: dict[str, str]) -> None:
        kind, value, line = self.peek()
        if kind == "kw" and value in ("graph", "node", "edge"):
            self.pos += 1
            attrs = self.attr_list()
            if value == "node":
                node_defaults.update(attrs)
            elif value == "edge":
                edge_defaults.update(attrs)
            else:
                self.graph_attrs.update(attrs)
            return
        if kind == "id" and self.peek(1)[:2] == ("punct", "="):
            self.graph_attrs.add(value)
            self.pos += 2
            self.expect("id")
            return
        if kind != "id" and not (kind == "kw" and value == "subgraph") and (kind, value) != ("punct", "{"):
            raise self.error("expected a node, an edge, an attribute statement or a subgraph")
        groups = [self.operand(node_defaults, edge_defaults)]
        single = kind == "id"
        while True:
            tok = self.peek()
            if tok[0] != "arrow":
                break
            if tok[1] == "--":
                raise self.error("'--' is an undirected edge: use '->' in a digraph")
            self.pos += 1
            groups.append(self.operand(node_defaults, edge_defaults))
        attrs = self.attr_list()
        if len(groups) == 1:
            if single:
                name = groups[0][0]
                self.add_node(name, line, node_defaults, attrs)
            return
        merged = {**edge_defaults, **attrs}
        for a, b in itertools.pairwise(groups):
            for u in a:
                for v in b:
                    self.edges.append((u, v, merged, line))


def _number(attrs: dict[str, str], keys: tuple[str, ...]) -> tuple[str | None, float | None]:
    for k in keys:
        if k in attrs:
            try:
                return k, float(attrs[k])
            except ValueError:
                continue
    return None, None


def import_dot(path: str | Path, name: str | None = None) -> ImportResult:
    """Import a DOT digraph; syntax errors and cycles are refused with file and line."""
    p = Path(path)
    text = read_text(p, "DOT file")  # missing, binary or non-UTF-8: one ConfigError line
    parser = _Parser(text, str(p))
    parser.parse()
    if not parser.nodes:
        raise ConfigError("the graph has no nodes", str(p))
    ids = list(parser.nodes)
    index = {n: i for i, n in enumerate(ids)}
    ignored: Counter[str] = Counter()
    works, categories = [], []
    no_work = 0
    for n in ids:
        attrs = parser.nodes[n]
        key, w = _number(attrs, NODE_WORK)
        if w is None:
            no_work += 1
            w = 0.0
        elif w < 0:
            assert key is not None  # a number was read, so under a key
            raise ConfigError(f"node {n!r}: {key} must be >= 0, got {attrs[key]}",
                              f"{p}:{parser.node_line[n]}")
        cat = next((attrs[k] for k in NODE_CATEGORY if k in attrs), "dot")
        works.append(w)
        categories.append(cat)
        ignored.update(f"node.{k}" for k in attrs if k != key and k not in NODE_CATEGORY)
    parents: list[list[int]] = [[] for _ in ids]
    volumes: dict[tuple[int, int], float] = {}
    duplicates = 0
    for u, v, attrs, line in parser.edges:
        if u == v:
            raise ConfigError(f"self-loop on node {u!r} (a cycle)", f"{p}:{line}")
        key, vol = _number(attrs, EDGE_VOLUME)
        if vol is not None and vol < 0:
            assert key is not None  # a number was read, so under a key
            raise ConfigError(f"edge {u} -> {v}: {key} must be >= 0, got {attrs[key]}", f"{p}:{line}")
        ignored.update(f"edge.{k}" for k in attrs if k != key)
        i, j = index[u], index[v]
        if i in parents[j]:
            duplicates += 1
            volumes[(i, j)] += vol or 0.0
            continue
        parents[j].append(i)
        volumes[(i, j)] = vol or 0.0
    warnings = []
    if no_work:
        warnings.append(f"{no_work} nodes without a work attribute ({', '.join(NODE_WORK)}): work 0")
    if duplicates:
        warnings.append(f"{duplicates} repeated edges merged (volumes added)")
    if parser.subgraphs:
        warnings.append(f"{parser.subgraphs} subgraphs flattened")
    if parser.graph_attrs:
        warnings.append("ignored graph attributes: " + ", ".join(sorted(parser.graph_attrs)))
    if ignored:
        warnings.append("ignored attributes: " + ", ".join(sorted(ignored)))
    app = build_application(name or app_name_from(p), ids, categories, works, parents, volumes, str(p),
                            f"DOT graph {p.name} ({len(ids)} tasks; work and volumes in the file's units)")
    return ImportResult(app, tuple(warnings), str(p))
