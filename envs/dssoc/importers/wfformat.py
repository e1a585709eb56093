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
from pathlib import Path
from typing import Any

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult, app_name_from, build_application
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

    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[assignment]
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
    if "specification" in wf:
        spec = ck.get(wf, "specification", dict, "workflow.specification")
        tasks = ck.get(spec, "tasks", list, "workflow.specification.tasks")
        files_doc = ck.get(spec, "files", list, "workflow.specification.files", required=False,
                           default=[])
        sizes: dict[str, float] = {}
        for k, f in enumerate(files_doc):
            path = f"workflow.specification.files[{k}]"
            if not isinstance(f, dict):
                raise ConfigError("a file entry must be an object", ck.where(files_doc, path))
            fid = ck.get(f, "id", str, path)
            if fid in sizes:
                raise ConfigError(f"duplicate file id {fid!r}", ck.where(f, path))
            sizes[fid] = ck.number(f, "sizeInBytes", path) or 0.0
        execution = ck.get(wf, "execution", dict, "workflow.execution", required=False, default={})
        runtimes: dict[str, float] = {}
        for k, t in enumerate(ck.get(execution, "tasks", list, "workflow.execution.tasks",
                                     required=False, default=[])):
            path = f"workflow.execution.tasks[{k}]"
            if not isinstance(t, dict):
                raise ConfigError("an execution task must be an object", ck.where(execution, path))
            rt = ck.number(t, "runtimeInSeconds", path, required=False)
            runtimes[ck.get(t, "id", str, path)] = rt if rt is not None else math.nan
            ignored.update(k2 for k2 in t if k2 not in _MAPPED_EXEC)
        entries = []
        for k, t in enumerate(tasks):
            path = f"workflow.specification.tasks[{k}]"
            if not isinstance(t, dict):
                raise ConfigError("a task must be an object", ck.where(tasks, path))
            tid = ck.get(t, "id", str, path)
            ck.get(t, "name", str, path)
            ins, outs = ck.str_list(t, "inputFiles", path), ck.str_list(t, "outputFiles", path)
            for fid in ins + outs:
                if fid not in sizes:
                    raise ConfigError(f"task {tid!r} names file {fid!r}, which "
                                      "workflow.specification.files does not declare", ck.where(t, path))
            ignored.update(k2 for k2 in t if k2 not in _MAPPED_SPEC)
            entries.append((t, path, tid, ck.str_list(t, "parents", path),
                            ck.str_list(t, "children", path), ins, outs, runtimes.get(tid, math.nan)))
    else:  # WfFormat <= 1.4: tasks (or jobs) carry runtime and files themselves
        key = "tasks" if "tasks" in wf else "jobs"
        tasks = ck.get(wf, key, list, f"workflow.{key}")
        entries = []
        sizes = {}
        for k, t in enumerate(tasks):
            path = f"workflow.{key}[{k}]"
            if not isinstance(t, dict):
                raise ConfigError("a task must be an object", ck.where(tasks, path))
            tid = t.get("id", t.get("name"))
            if not isinstance(tid, str):
                raise ConfigError("missing required key 'name' (or 'id')", ck.where(t, path))
            rt = ck.number(t, "runtimeInSeconds", path, required=False)
            if rt is None:
                rt = ck.number(t, "runtime", path, required=False)
            ins, outs = [], []
            for j, f in enumerate(ck.get(t, "files", list, path, required=False, default=[])):
                fpath = f"{path}.files[{j}]"
                if not isinstance(f, dict):
                    raise ConfigError("a file entry must be an object", ck.where(t, fpath))
                fid = f.get("id", f.get("name"))
                if not isinstance(fid, str):
                    raise ConfigError("missing required key 'name' (or 'id')", ck.where(f, fpath))
                link = ck.get(f, "link", str, fpath)
                if link not in ("input", "output"):
                    raise ConfigError(f"'link' must be 'input' or 'output', got {link!r}",
                                      ck.where(f, fpath))
                size = ck.number(f, "sizeInBytes", fpath, required=False)
                if size is None:
                    size = ck.number(f, "size", fpath, required=False) or 0.0
                sizes.setdefault(fid, size)
                (ins if link == "input" else outs).append(fid)
            ignored.update(k2 for k2 in t if k2 not in _MAPPED_LEGACY)
            entries.append((t, path, tid, ck.str_list(t, "parents", path),
                            ck.str_list(t, "children", path), ins, outs,
                            rt if rt is not None else math.nan))
    if not entries:
        raise ConfigError("the workflow has no tasks", ck.where(wf, "workflow"))

    index: dict[str, int] = {}
    for i, (t, path, tid, *_rest) in enumerate(entries):
        if tid in index:
            raise ConfigError(f"duplicate task id {tid!r}", ck.where(t, path))
        index[tid] = i
    parents: list[list[int]] = [[] for _ in entries]
    for i, (t, path, tid, pars, chil, *_rest) in enumerate(entries):
        for p in pars:
            if p not in index:
                raise ConfigError(f"task {tid!r} has unknown parent {p!r}", ck.where(t, path))
            if index[p] not in parents[i]:
                parents[i].append(index[p])
        for c in chil:
            if c not in index:
                raise ConfigError(f"task {tid!r} has unknown child {c!r}", ck.where(t, path))
    one_sided = 0
    for i, (_t, _path, _tid, _pars, chil, *_rest) in enumerate(entries):
        for c in chil:
            if i not in parents[index[c]]:
                parents[index[c]].append(i)
                one_sided += 1
    if one_sided:
        warnings.append(f"{one_sided} dependencies listed only as children (added as edges)")

    outputs = [set(e[6]) for e in entries]
    volumes: dict[tuple[int, int], float] = {}
    fileless = 0
    for i, e in enumerate(entries):
        for p in parents[i]:
            shared = outputs[p] & set(e[5])
            if not shared:
                fileless += 1
            volumes[(p, i)] = float(sum(sizes[f] for f in shared))
    produced = set().union(*outputs)
    external = {f for e in entries for f in e[5] if f not in produced}
    if external:
        total = sum(sizes[f] for f in external)
        warnings.append(f"{len(external)} input files ({total:.3g} bytes) come from outside the DAG "
                        "(workflow inputs): no transfer modelled")
    if fileless:
        warnings.append(f"{fileless} dependencies carry no file (volume 0)")
    works = [e[7] for e in entries]
    missing = sum(1 for w in works if math.isnan(w))
    if missing:
        warnings.append(f"{missing} tasks have no runtime (work 0)")
        works = [0.0 if math.isnan(w) else w for w in works]
    if ignored:
        warnings.append("ignored task fields: " + ", ".join(sorted(ignored)))
    app_name = name or re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(doc["name"])) or "workflow"
    app = build_application(
        app_name, [e[2] for e in entries], [_category(e[0]) for e in entries], works, parents, volumes,
        source, f"WfFormat {version} instance {doc['name']!r} ({len(entries)} tasks; work in seconds, "
                "volumes in bytes)",
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
