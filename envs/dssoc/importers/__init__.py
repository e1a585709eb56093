"""Importers of community DAG formats into the project's own application model.

- `wfformat`: WfCommons' WfFormat JSON instances (schema-checked; runtimes -> task work, shared
  file sizes -> edge volumes);
- `wfcommons`: synthetic instances from WfCommons recipes (`wfcommons:RECIPE:TASKS[:SEED]`), needs
  the optional `wfcommons` package (`pip install 'soclab[workflows]'`);
- `stg`: Standard Task Graph files (Kasahara lab);
- `dot`: Graphviz digraphs with numeric node/edge attributes.

An import yields an `ImportResult`: an `Application` whose tasks carry a `category` and their
`work` in the source's time unit (mapped onto a SoC by dssoc.mapping), and the list of things the
importer could not map (ignored fields, files from outside the DAG, ...), summarised in one line.
Malformed files are refused with a `ConfigError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult, app_name_from, build_application, clean_name  # noqa: F401

#: File name endings handled by the graph importers (WfFormat is recognised by content).
GRAPH_SUFFIXES = {".stg": "stg", ".dot": "dot", ".gv": "dot"}


def is_importable(path: str | Path) -> bool:
    """Whether a path is a graph file an importer reads (by suffix, or WfFormat JSON content)."""
    p = Path(path)
    if p.suffix.lower() in GRAPH_SUFFIXES:
        return True
    if p.suffix.lower() == ".json" and p.is_file():
        from dssoc.importers.wfformat import looks_like_wfformat

        return looks_like_wfformat(p)
    return False


def import_file(path: str | Path, name: str | None = None) -> ImportResult:
    """Import a WfFormat JSON, STG or DOT file (by suffix; `.json` must be WfFormat)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", str(p))
    kind = GRAPH_SUFFIXES.get(p.suffix.lower())
    if kind == "stg":
        from dssoc.importers.stg import import_stg

        return import_stg(p, name)
    if kind == "dot":
        from dssoc.importers.dot import import_dot

        return import_dot(p, name)
    if p.suffix.lower() == ".json":
        from dssoc.importers.wfformat import import_wfformat

        return import_wfformat(p, name)
    raise ConfigError(f"unknown graph format {p.suffix!r}: expected .json (WfFormat), .stg, .dot or .gv",
                      str(p))


__all__ = ["GRAPH_SUFFIXES", "ImportResult", "build_application", "import_file", "is_importable"]
