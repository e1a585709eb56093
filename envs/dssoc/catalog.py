"""Reference SoCs, applications and workload presets, and loaders for user files.

Built-in data lives in `dssoc/data/{socs,apps,workloads}/*.json`; users may pass a path to a
JSON or YAML file in the same schema (see docs/simulator.md). Names resolve to built-ins,
paths to files; unknown names list the valid ones.

SoC schema::

    {"name": str, "description": str,
     "clusters": [{"name": str, "kind": str, "capacity": int,
                   "exec_us": {task_name: float},
                   "power": {"opps": [[MHz, mV], ...],
                             "power_profile": {MHz: [W for 1..capacity busy cores]},
                             "pg_profile": {...}}}],          # power optional
     "bandwidth": {"self": float, "default": float,
                   "pairs": [[cluster_a, cluster_b, float], ...]}}

Application schema::

    {"name": str, "description": str,
     "tasks": [{"name": str, "after": {predecessor_name: volume, ...},
                "category": str, "work": float}, ...]}   # category/work: imported workflows

An application may also be a graph file read by dssoc.importers (WfFormat JSON, `.stg`, `.dot`,
`.gv`) or a WfCommons recipe instance `wfcommons:RECIPE:TASKS[:SEED]`; tasks with `work` are
imported workflows, mapped onto the SoC when a config is built (dssoc.mapping).

Workload schema::

    {"name": str, "description": str, "soc": soc_name,
     "mix": {application_name_or_path: probability, ...}}
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dssoc.errors import ConfigError, UnknownNameError
from dssoc.model import Application, Cluster, PowerSpec, SoC, Task, Workload

if TYPE_CHECKING:
    from dssoc.importers import ImportResult

KINDS = ("socs", "apps", "workloads")


def _data_dir(kind: str) -> Path:
    return Path(str(resources.files("dssoc") / "data" / kind))


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in SoCs, applications or workloads (`kind` in socs/apps/workloads)."""
    return sorted(p.stem for p in _data_dir(kind).glob("*.json"))


def read_document(path: Path) -> dict[str, Any]:
    """Read a JSON or YAML mapping; errors name the file (and line where the parser knows it)."""
    if not path.is_file():
        raise ConfigError("file not found", str(path))
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f"{path}:{mark.line + 1}" if mark else str(path)
                raise ConfigError(f"invalid YAML: {getattr(e, 'problem', e)}", where) from None
        else:
            doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON: {e.msg}", f"{path}:{e.lineno}") from None
    if not isinstance(doc, dict):
        raise ConfigError("expected a mapping at the top level", str(path))
    return doc


def _resolve(kind: str, ref: str | Path) -> tuple[dict[str, Any], str]:
    path = Path(ref)
    if path.suffix.lower() in (".json", ".yaml", ".yml") or path.exists():
        return read_document(path), str(path)
    name = str(ref)
    candidate = _data_dir(kind) / f"{name}.json"
    if not candidate.is_file():
        label = {"socs": "SoC", "apps": "application", "workloads": "workload"}[kind]
        raise UnknownNameError(label, name, builtin_names(kind))
    return read_document(candidate), f"{kind}/{name}"


def _get(doc: dict[str, Any], key: str, where: str, typ: type | tuple[type, ...] = object) -> Any:
    if key not in doc:
        raise ConfigError(f"missing key {key!r}", where)
    value = doc[key]
    if not isinstance(value, typ):
        raise ConfigError(f"key {key!r} has the wrong type ({type(value).__name__})", where)
    return value


def soc_from_dict(doc: dict[str, Any], where: str = "soc") -> SoC:
    clusters = []
    for i, c in enumerate(_get(doc, "clusters", where, list)):
        cw = f"{where}: clusters[{i}]"
        power = None
        if c.get("power"):
            p = c["power"]
            power = PowerSpec(
                opps=tuple(sorted((int(f), int(v)) for f, v in _get(p, "opps", cw, list))),
                power_profile={int(f): tuple(map(float, w)) for f, w in p.get("power_profile", {}).items()},
                pg_profile={int(f): tuple(map(float, w)) for f, w in p.get("pg_profile", {}).items()},
            )
        try:
            exec_us = {str(k): float(v) for k, v in _get(c, "exec_us", cw, dict).items()}
        except (TypeError, ValueError):
            raise ConfigError("exec_us values must be numbers", cw) from None
        clusters.append(
            Cluster(
                name=str(_get(c, "name", cw)),
                kind=str(c.get("kind", "CPU")),
                capacity=int(_get(c, "capacity", cw, int)),
                exec_us=exec_us,
                power=power,
            )
        )
    bw = doc.get("bandwidth", {})
    pairs = {(str(a), str(b)): float(v) for a, b, v in bw.get("pairs", [])}
    return SoC(
        name=str(_get(doc, "name", where)),
        clusters=tuple(clusters),
        bandwidth=pairs,
        self_bandwidth=float(bw.get("self", 10000.0)),
        default_bandwidth=float(bw.get("default", 1.0)),
        description=str(doc.get("description", "")),
    )


def application_from_dict(doc: dict[str, Any], where: str = "application") -> Application:
    tasks_doc = _get(doc, "tasks", where, list)
    index: dict[str, int] = {}
    for i, t in enumerate(tasks_doc):
        name = str(_get(t, "name", f"{where}: tasks[{i}]"))
        if name in index:
            raise ConfigError(f"duplicate task name {name!r}", f"{where}: tasks[{i}]")
        index[name] = i
    tasks, volumes = [], {}
    for i, t in enumerate(tasks_doc):
        after = t.get("after", {}) or {}
        if not isinstance(after, dict):
            raise ConfigError("'after' must map predecessor names to volumes", f"{where}: tasks[{i}]")
        preds = []
        for pname, vol in after.items():
            if pname not in index:
                raise ConfigError(f"unknown predecessor {pname!r}", f"{where}: tasks[{i}]")
            preds.append(index[pname])
            volumes[(index[pname], i)] = float(vol)
        work = t.get("work")
        if work is not None and not (isinstance(work, int | float) and work >= 0):
            raise ConfigError(f"'work' must be a number >= 0, got {work!r}", f"{where}: tasks[{i}]")
        tasks.append(Task(str(t["name"]), tuple(preds), str(t.get("category", "")),
                          None if work is None else float(work)))
    return Application(
        name=str(_get(doc, "name", where)),
        tasks=tuple(tasks),
        volumes=volumes,
        description=str(doc.get("description", "")),
    )


def application_to_dict(app: Application) -> dict[str, Any]:
    tasks = []
    for i, t in enumerate(app.tasks):
        after = {app.tasks[p].name: app.volume(p, i) for p in t.predecessors}
        row: dict[str, Any] = {"name": t.name, "after": after}
        if t.category:
            row["category"] = t.category
        if t.work is not None:
            row["work"] = t.work
        tasks.append(row)
    return {"name": app.name, "description": app.description, "tasks": tasks}


def soc_to_dict(soc: SoC) -> dict[str, Any]:
    clusters = []
    for c in soc.clusters:
        d: dict[str, Any] = {"name": c.name, "kind": c.kind, "capacity": c.capacity,
                             "exec_us": dict(c.exec_us)}
        if c.power is not None:
            d["power"] = {
                "opps": [list(o) for o in c.power.opps],
                "power_profile": {str(f): list(w) for f, w in c.power.power_profile.items()},
                "pg_profile": {str(f): list(w) for f, w in c.power.pg_profile.items()},
            }
        clusters.append(d)
    return {
        "name": soc.name,
        "description": soc.description,
        "clusters": clusters,
        "bandwidth": {
            "self": soc.self_bandwidth,
            "default": soc.default_bandwidth,
            "pairs": [[a, b, v] for (a, b), v in soc.bandwidth.items()],
        },
    }


@cache
def _load_soc_cached(ref: str) -> SoC:
    doc, where = _resolve("socs", ref)
    return soc_from_dict(doc, where)


@cache
def _load_app_cached(ref: str) -> Application:
    doc, where = _resolve("apps", ref)
    return application_from_dict(doc, where)


def load_soc(ref: str | Path | SoC) -> SoC:
    """A built-in SoC by name (e.g. `MULTIPLE_BAL`, `Top`) or a JSON/YAML file."""
    return ref if isinstance(ref, SoC) else _load_soc_cached(str(ref))


@cache
def _import_cached(path: str, stamp: tuple[int, int]) -> ImportResult:
    from dssoc.importers import import_file

    return import_file(path)


def _load_app_with_notes(ref: str | Path, seed: int = 0) -> tuple[Application, tuple[str, ...]]:
    """An application and what its importer could not map (nothing for own-format files)."""
    from dssoc.importers import is_importable
    from dssoc.importers.wfcommons import PREFIX, recipe_instance

    ref_s = str(ref)
    if ref_s.startswith(PREFIX):
        res = recipe_instance(ref_s, seed)
    elif is_importable(ref_s):
        st = Path(ref_s).stat()
        res = _import_cached(ref_s, (st.st_mtime_ns, st.st_size))
    else:
        return _load_app_cached(ref_s), ()
    return res.application, ((res.summary(),) if res.warnings else ())


def load_application(ref: str | Path | Application, seed: int = 0) -> Application:
    """A built-in application by name (e.g. `wifi_tx`), a JSON/YAML file, a graph file
    (WfFormat, STG, DOT) or a WfCommons recipe instance (`wfcommons:montage:60`, `seed`)."""
    return ref if isinstance(ref, Application) else _load_app_with_notes(ref, seed)[0]


def load_workload(ref: str | Path | Workload, seed: int = 0) -> Workload:
    """A workload preset by name (e.g. `wifi-tx-rx`), a workload file, or a single application
    (by name, own-format or graph file, or `wfcommons:RECIPE:TASKS[:SEED]` generated with
    `seed` unless the string gives one), which becomes a one-application workload."""
    if isinstance(ref, Workload):
        return ref
    ref_s = str(ref)
    path = Path(ref_s)
    from dssoc.importers import is_importable
    from dssoc.importers.wfcommons import PREFIX

    if ref_s.startswith(PREFIX) or is_importable(ref_s):
        app, notes = _load_app_with_notes(ref_s, seed)
        return Workload(app.name, (app,), (1.0,), None, f"imported {ref_s}", notes)
    is_file = path.suffix.lower() in (".json", ".yaml", ".yml") or path.exists()
    if not is_file and ref_s not in builtin_names("workloads") and ref_s in builtin_names("apps"):
        app = load_application(ref_s)
        return Workload(app.name, (app,), (1.0,), None, f"single application {app.name}")
    if is_file:
        doc = read_document(path)
        if "tasks" in doc:  # an application file
            app = application_from_dict(doc, ref_s)
            return Workload(app.name, (app,), (1.0,), None, f"single application {app.name}")
        where = ref_s
    else:
        try:
            doc, where = _resolve("workloads", ref_s)
        except UnknownNameError:
            raise UnknownNameError(
                "workload", ref_s, builtin_names("workloads") + builtin_names("apps")
            ) from None
    mix = _get(doc, "mix", where, dict)
    base = path.parent if is_file else None
    apps, probs, notes = [], [], []
    for app_ref, p in mix.items():
        local = base / app_ref if base is not None else None
        app, app_notes = _load_app_with_notes(local if local is not None and local.exists() else app_ref,
                                              seed)
        apps.append(app)
        notes.extend(app_notes)
        probs.append(float(p))
    return Workload(
        name=str(doc.get("name", path.stem)),
        applications=tuple(apps),
        probabilities=tuple(probs),
        soc=doc.get("soc"),
        description=str(doc.get("description", "")),
        notes=tuple(notes),
    )
