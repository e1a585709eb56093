"""WfFormat (WfCommons' JSON workflow format, Coleman et al. FGCS 2022) -> Application.

Two layouts are read:

- WfFormat 1.5 and later (what WfCommons 1.6 writes): `workflow.specification.tasks[]` with `id`,
  `name`, `parents`, `children`, `inputFiles`, `outputFiles` (file ids), `specification.files[]`
  with `id` and `sizeInBytes`, and `workflow.execution.tasks[]` with `id` and `runtimeInSeconds`;
- WfFormat 1.4 and earlier: `workflow.tasks[]` (or `jobs[]`) each with its `runtimeInSeconds`
  (`runtime`), `parents`, and `files[]` entries `{link: input|output, name|id, sizeInBytes|size}`.

The document is checked against the parts of the schema the import relies on (required keys,
types, non-negative numbers, known ids); every error names the file and the line of the offending
object. A task's category is its `category` if given, else its `name` (WfCommons names tasks by
program, e.g. `mProject`); its work is its runtime in seconds. The volume of an edge p -> c is the
total size (bytes) of the files p writes and c reads. What has no counterpart in the model is
listed in the import's warnings: files from outside the DAG (workflow inputs), dependencies that
carry no file, tasks without a runtime, and task fields such as cores, memory or machines.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult, app_name_from, build_application, clean_name
from dssoc.schemas import read_text

#: Task fields the model has no place for (reported, not an error).
_MAPPED_SPEC = {"name", "id", "parents", "children", "inputFiles", "outputFiles", "category"}
_MAPPED_EXEC = {"id", "runtimeInSeconds", "runtime"}
_MAPPED_LEGACY = {"name", "id", "type", "parents", "children", "files", "runtimeInSeconds", "runtime",
                  "category"}


class _LineDict(dict):
    """A JSON object that remembers the line it starts on."""

    line = 0


def loads_with_lines(text: str) -> Any:
    """`json.loads`, but every object is a dict with a `.line` (1-based) attribute.

    Uses the standard library's pure-Python scanner with a wrapped object parser, so error
    positions are the decoder's own; lines come from a bisect over the newline offsets.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        _, start = s_and_end
        obj, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, None, memo)
        d = _LineDict(obj)
        d.line = bisect_right(newlines, start - 1) + 1
        return d, end

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def looks_like_wfformat(path: Path) -> bool:
    """Cheap content sniff: a JSON object with a top-level `workflow` key and no `tasks`/`mix`."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return False
    return '"workflow"' in head and '"schemaVersion"' in head


class _Checker:
    """Small schema checks whose errors name `file:line` of the object concerned."""

    def __init__(self, source: str) -> None:
        self.source = source

    def where(self, obj: Any, key: str = "") -> str:
        line = getattr(obj, "line", 0)
        loc = f"{self.source}:{line}" if line else self.source
        return f"{loc}: {key}" if key else loc

    def get(self, obj: dict, key: str, typ: type | tuple[type, ...], path: str, required: bool = True,
            default: Any = None) -> Any:
        if key not in obj:
            if required:
                raise ConfigError(f"missing required key {key!r}", self.where(obj, path))
            return default
        value = obj[key]
        if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
            want = {str: "string", list: "list", dict: "object"}.get(typ, "number")  # type: ignore[call-overload]
            raise ConfigError(f"{key!r} must be a {want}, got {type(value).__name__}",
                              self.where(obj, path))
        return value

    def number(self, obj: dict, key: str, path: str, required: bool = True) -> float | None:
        v = self.get(obj, key, (int, float), path, required)
        if v is None:
            return None
        if not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"{key!r} must be a finite number >= 0, got {v}", self.where(obj, path))
        return float(v)

    def objects(self, items: list, path: str, what: str, owner: Any) -> Iterator[tuple[dict, str]]:
        """(item, `path[k]`) of a list that must hold objects; an error names `what` and the
        line of `owner` (the innermost object that has one)."""
        for k, item in enumerate(items):
            item_path = f"{path}[{k}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{what} must be an object", self.where(owner, item_path))
            yield item, item_path

    def str_list(self, obj: dict, key: str, path: str) -> list[str]:
        items = self.get(obj, key, list, path, required=False, default=[])
        for k, x in enumerate(items):
            if not isinstance(x, str):
                raise ConfigError(f"{key}[{k}] must be a string id, got {type(x).__name__}",
                                  self.where(obj, path))
        return items


def _category(task: dict) -> str:
    cat = task.get("category")
    if isinstance(cat, str) and cat:
        return cat
    name = task.get("name") or task.get("id") or ""
    # WfCommons 1.4 ids/names such as `mProject_00000001` carry the category before the number.
    return re.sub(r"_(ID)?\d+$", "", str(name)) or str(name)


class _Entry(NamedTuple):
    """One task as read from either layout, before ids become indices."""

    task: dict
    path: str  # JSON path of the task object, for errors
    tid: str
    parents: list[str]
    children: list[str]
    inputs: list[str]  # file ids
    outputs: list[str]
    runtime: float  # seconds; NaN when the document gives none


def _file_sizes(ck: _Checker, spec: dict) -> dict[str, float]:
    """WfFormat >= 1.5: `specification.files[]` -> size in bytes by file id (ids unique)."""
    files_doc = ck.get(spec, "files", list, "workflow.specification.files", required=False,
                       default=[])
    sizes: dict[str, float] = {}
    for f, path in ck.objects(files_doc, "workflow.specification.files", "a file entry",
                              files_doc):
        fid = ck.get(f, "id", str, path)
        if fid in sizes:
            raise ConfigError(f"duplicate file id {fid!r}", ck.where(f, path))
        sizes[fid] = ck.number(f, "sizeInBytes", path) or 0.0
    return sizes


def _runtimes(ck: _Checker, wf: dict, ignored: Counter[str]) -> dict[str, float]:
    """WfFormat >= 1.5: `execution.tasks[]` -> runtime in seconds by task id (NaN if absent)."""
    execution = ck.get(wf, "execution", dict, "workflow.execution", required=False, default={})
    runtimes: dict[str, float] = {}
    tasks = ck.get(execution, "tasks", list, "workflow.execution.tasks", required=False,
                   default=[])
    for t, path in ck.objects(tasks, "workflow.execution.tasks", "an execution task", execution):
        rt = ck.number(t, "runtimeInSeconds", path, required=False)
        runtimes[ck.get(t, "id", str, path)] = rt if rt is not None else math.nan
        ignored.update(k2 for k2 in t if k2 not in _MAPPED_EXEC)
    return runtimes


def _spec_entries(ck: _Checker, wf: dict,
                  ignored: Counter[str]) -> tuple[list[_Entry], dict[str, float]]:
    """WfFormat >= 1.5: the tasks of `specification` with runtimes from `execution`; every file
    a task names must be declared."""
    spec = ck.get(wf, "specification", dict, "workflow.specification")
    tasks = ck.get(spec, "tasks", list, "workflow.specification.tasks")
    sizes = _file_sizes(ck, spec)
    runtimes = _runtimes(ck, wf, ignored)
    entries = []
    for t, path in ck.objects(tasks, "workflow.specification.tasks", "a task", tasks):
        tid = ck.get(t, "id", str, path)
        ck.get(t, "name", str, path)
        ins, outs = ck.str_list(t, "inputFiles", path), ck.str_list(t, "outputFiles", path)
        for fid in ins + outs:
            if fid not in sizes:
                raise ConfigError(f"task {tid!r} names file {fid!r}, which "
                                  "workflow.specification.files does not declare", ck.where(t, path))
        ignored.update(k2 for k2 in t if k2 not in _MAPPED_SPEC)
        entries.append(_Entry(t, path, tid, ck.str_list(t, "parents", path),
                              ck.str_list(t, "children", path), ins, outs,
                              runtimes.get(tid, math.nan)))
    return entries, sizes


def _legacy_id(ck: _Checker, obj: dict, path: str) -> str:
    """WfFormat <= 1.4 names tasks and files by `id` or, failing that, `name`."""
    ident = obj.get("id", obj.get("name"))
    if not isinstance(ident, str):
        raise ConfigError("missing required key 'name' (or 'id')", ck.where(obj, path))
    return ident


def _legacy_files(ck: _Checker, t: dict, path: str,
                  sizes: dict[str, float]) -> tuple[list[str], list[str]]:
    """WfFormat <= 1.4: a task's `files[]` -> (input ids, output ids); sizes recorded on first
    sight of each file."""
    ins: list[str] = []
    outs: list[str] = []
    files = ck.get(t, "files", list, path, required=False, default=[])
    for f, fpath in ck.objects(files, f"{path}.files", "a file entry", t):
        fid = _legacy_id(ck, f, fpath)
        link = ck.get(f, "link", str, fpath)
        if link not in ("input", "output"):
            raise ConfigError(f"'link' must be 'input' or 'output', got {link!r}",
                              ck.where(f, fpath))
        size = ck.number(f, "sizeInBytes", fpath, required=False)
        if size is None:
            size = ck.number(f, "size", fpath, required=False) or 0.0
        sizes.setdefault(fid, size)
        (ins if link == "input" else outs).append(fid)
    return ins, outs


def _legacy_entries(ck: _Checker, wf: dict,
                    ignored: Counter[str]) -> tuple[list[_Entry], dict[str, float]]:
    """WfFormat <= 1.4: tasks (or jobs) carry their runtime and files themselves."""
    key = "tasks" if "tasks" in wf else "jobs"
    tasks = ck.get(wf, key, list, f"workflow.{key}")
    entries = []
    sizes: dict[str, float] = {}
    for t, path in ck.objects(tasks, f"workflow.{key}", "a task", tasks):
        tid = _legacy_id(ck, t, path)
        rt = ck.number(t, "runtimeInSeconds", path, required=False)
        if rt is None:
            rt = ck.number(t, "runtime", path, required=False)
        ins, outs = _legacy_files(ck, t, path, sizes)
        ignored.update(k2 for k2 in t if k2 not in _MAPPED_LEGACY)
        entries.append(_Entry(t, path, tid, ck.str_list(t, "parents", path),
                              ck.str_list(t, "children", path), ins, outs,
                              rt if rt is not None else math.nan))
    return entries, sizes


def _parent_indices(ck: _Checker, entries: list[_Entry],
                    warnings: list[str]) -> list[list[int]]:
    """Each task's parents as indices: ids unique and known; a dependency listed only on the
    child side (`children`) is added as an edge, with a warning."""
    index: dict[str, int] = {}
    for i, e in enumerate(entries):
        if e.tid in index:
            raise ConfigError(f"duplicate task id {e.tid!r}", ck.where(e.task, e.path))
        index[e.tid] = i
    parents: list[list[int]] = [[] for _ in entries]
    for i, e in enumerate(entries):
        for p in e.parents:
            if p not in index:
                raise ConfigError(f"task {e.tid!r} has unknown parent {p!r}", ck.where(e.task, e.path))
            if index[p] not in parents[i]:
                parents[i].append(index[p])
        for c in e.children:
            if c not in index:
                raise ConfigError(f"task {e.tid!r} has unknown child {c!r}", ck.where(e.task, e.path))
    one_sided = 0
    for i, e in enumerate(entries):
        for c in e.children:
            if i not in parents[index[c]]:
                parents[index[c]].append(i)
                one_sided += 1
    if one_sided:
        warnings.append(f"{one_sided} dependencies listed only as children (added as edges)")
    return parents


def _edge_volumes(entries: list[_Entry], parents: list[list[int]], sizes: dict[str, float],
                  warnings: list[str]) -> dict[tuple[int, int], float]:
    """Volume of p -> c: bytes of the files p writes and c reads; workflow inputs and
    dependencies without a file are reported."""
    outputs = [set(e.outputs) for e in entries]
    volumes: dict[tuple[int, int], float] = {}
    fileless = 0
    for i, e in enumerate(entries):
        for p in parents[i]:
            shared = outputs[p] & set(e.inputs)
            if not shared:
                fileless += 1
            volumes[(p, i)] = float(sum(sizes[f] for f in shared))
    produced = set().union(*outputs)
    external = {f for e in entries for f in e.inputs if f not in produced}
    if external:
        total = sum(sizes[f] for f in external)
        warnings.append(f"{len(external)} input files ({total:.3g} bytes) come from outside the DAG "
                        "(workflow inputs): no transfer modelled")
    if fileless:
        warnings.append(f"{fileless} dependencies carry no file (volume 0)")
    return volumes


def parse_wfformat(doc: Any, source: str, name: str | None = None) -> ImportResult:
    """Check and convert a parsed WfFormat document (objects may carry `.line`, see
    `loads_with_lines`; plain dicts work too, errors then name only the source)."""
    ck = _Checker(source)
    if not isinstance(doc, dict):
        raise ConfigError("a WfFormat instance is a JSON object", source)
    ck.get(doc, "name", str, "name")
    version = ck.get(doc, "schemaVersion", str, "schemaVersion")
    wf = ck.get(doc, "workflow", dict, "workflow")
    warnings: list[str] = []
    ignored: Counter[str] = Counter()
    read_entries = _spec_entries if "specification" in wf else _legacy_entries
    entries, sizes = read_entries(ck, wf, ignored)
    if not entries:
        raise ConfigError("the workflow has no tasks", ck.where(wf, "workflow"))
    parents = _parent_indices(ck, entries, warnings)
    volumes = _edge_volumes(entries, parents, sizes, warnings)
    works = [e.runtime for e in entries]
    missing = sum(1 for w in works if math.isnan(w))
    if missing:
        warnings.append(f"{missing} tasks have no runtime (work 0)")
        works = [0.0 if math.isnan(w) else w for w in works]
    if ignored:
        warnings.append("ignored task fields: " + ", ".join(sorted(ignored)))
    app_name = name or clean_name(str(doc["name"]), "workflow")
    app = build_application(
        app_name, [e.tid for e in entries], [_category(e.task) for e in entries], works, parents,
        volumes, source, f"WfFormat {version} instance {doc['name']!r} ({len(entries)} tasks; work "
                         "in seconds, volumes in bytes)",
    )
    return ImportResult(app, tuple(warnings), source)


def import_wfformat(path: str | Path, name: str | None = None) -> ImportResult:
    """Import a WfFormat JSON file; malformed JSON or schema violations name file and line."""
    p = Path(path)
    text = read_text(p, "WfFormat file")  # missing, binary or non-UTF-8: one ConfigError line
    try:
        doc = loads_with_lines(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON: {e.msg}", f"{p}:{e.lineno}") from None
    return parse_wfformat(doc, str(p), name or app_name_from(p))
