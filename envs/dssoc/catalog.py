"""Reference SoCs, applications and workload presets, and loaders for user files.

Built-in data lives in `dssoc/data/{socs,apps,workloads}/*.json`; users may pass a path to a
JSON or YAML file in the same schema (see docs/simulator.md), validated by the models of
`dssoc.schemas` (errors say `FILE: key.path: reason`). Names resolve to built-ins, paths to
files; unknown names list the valid ones.

SoC schema::

    {"name": str, "description": str,
     "clusters": [{"name": str, "kind": str, "capacity": int,
                   "exec_us": {task_name: float},
                   "power": {"opps": [[MHz, mV], ...],
                             "power_profile": {MHz: [W for 1..capacity busy cores]},
                             "pg_profile": {...},
                             "trip_freq": [MHz or -1 per trip point]},  # power optional
                   "governor": "performance"}],   # or powersave, ondemand, constant-<MHz>
     "bandwidth": {"self": float, "default": float,
                   "pairs": [[cluster_a, cluster_b, float], ...]}}

Application schema::

    {"name": str, "description": str, "deadline_us": float,   # deadline optional
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

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dssoc.errors import ConfigError, UnknownNameError
from dssoc.model import Application, Cluster, PowerSpec, SoC, Task, Workload
from dssoc.schemas import ApplicationDoc, SoCDoc, WorkloadDoc, read_document, validate

if TYPE_CHECKING:
    from dssoc.importers import ImportResult

KINDS = ("socs", "apps", "workloads")


def _data_dir(kind: str) -> Path:
    return Path(str(resources.files("dssoc") / "data" / kind))


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in SoCs, applications or workloads (`kind` in socs/apps/workloads)."""
    return sorted(p.stem for p in _data_dir(kind).glob("*.json"))


def _resolve(kind: str, ref: str | Path) -> tuple[dict[str, Any], str]:
    label = {"socs": "SoC", "apps": "application", "workloads": "workload"}[kind]
    path = Path(ref)
    if path.suffix.lower() in (".json", ".yaml", ".yml") or path.exists():
        return read_document(path, f"{label} file"), str(path)
    name = str(ref)
    candidate = _data_dir(kind) / f"{name}.json"
    if not candidate.is_file():
        raise UnknownNameError(label, name, builtin_names(kind))
    return read_document(candidate), f"{kind}/{name}"


def _built(where: str, make: Any) -> Any:
    """Build a model object; its own consistency errors (same class) get the file prefixed."""
    try:
        return make()
    except ConfigError as e:
        e.args = (f"{where}: {e}",)  # `reason` stays the bare message
        e.where = where if e.where is None else f"{where}: {e.where}"
        raise e from None


def soc_from_dict(doc: dict[str, Any], where: str = "soc") -> SoC:
    """An SoC from a document of the SoC schema (validated by `dssoc.schemas.SoCDoc`)."""
    d = validate(SoCDoc, doc, where)
    names = [c.name for c in d.clusters]
    for i, (a, b, _) in enumerate(d.bandwidth.pairs):
        for n in (a, b):
            if n not in names:
                raise UnknownNameError("cluster", n, names, f"{where}: bandwidth.pairs[{i}]")
    clusters = tuple(
        Cluster(
            name=c.name, kind=c.kind, capacity=c.capacity, exec_us=dict(c.exec_us),
            power=None if c.power is None else PowerSpec(
                opps=tuple(sorted(c.power.opps)),
                power_profile={f: tuple(w) for f, w in c.power.power_profile.items()},
                pg_profile={f: tuple(w) for f, w in c.power.pg_profile.items()},
                trip_freq=tuple(c.power.trip_freq),
            ),
            governor=c.governor,
        )
        for c in d.clusters
    )
    return _built(where, lambda: SoC(
        name=d.name, clusters=clusters,
        bandwidth={(a, b): v for a, b, v in d.bandwidth.pairs},
        self_bandwidth=d.bandwidth.self_, default_bandwidth=d.bandwidth.default,
        description=d.description,
    ))


def application_from_dict(doc: dict[str, Any], where: str = "application") -> Application:
    """An application DAG from a document of the application schema (`ApplicationDoc`)."""
    d = validate(ApplicationDoc, doc, where)
    index: dict[str, int] = {}
    for i, t in enumerate(d.tasks):
        if t.name in index:
            raise ConfigError(f"duplicate task name {t.name!r}", f"{where}: tasks[{i}].name")
        index[t.name] = i
    tasks, volumes = [], {}
    for i, t in enumerate(d.tasks):
        preds = []
        for pname, vol in (t.after or {}).items():
            if pname not in index:
                raise UnknownNameError("predecessor", pname, index, f"{where}: tasks[{i}].after")
            preds.append(index[pname])
            volumes[(index[pname], i)] = vol
        tasks.append(Task(t.name, tuple(preds), t.category, t.work))
    return _built(where, lambda: Application(
        name=d.name, tasks=tuple(tasks), volumes=volumes, description=d.description,
        deadline_us=d.deadline_us))


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
    out: dict[str, Any] = {"name": app.name, "description": app.description, "tasks": tasks}
    if app.deadline_us is not None:
        out["deadline_us"] = app.deadline_us
    return out


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
            if c.power.trip_freq:
                d["power"]["trip_freq"] = list(c.power.trip_freq)
        if c.governor != "performance":
            d["governor"] = c.governor
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
        doc = read_document(path, "workload file")
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
    d = validate(WorkloadDoc, doc, where)
    base = path.parent if is_file else None
    apps: list[Application] = []
    probs: list[float] = []
    workload_notes: list[str] = []
    for app_ref, p in d.mix.items():
        local = base / app_ref if base is not None else None
        try:
            app, app_notes = _load_app_with_notes(
                local if local is not None and local.exists() else app_ref, seed)
        except UnknownNameError as e:
            raise ConfigError(str(e), f"{where}: mix.{app_ref}") from None
        apps.append(app)
        workload_notes.extend(app_notes)
        probs.append(p)
    return _built(where, lambda: Workload(
        name=d.name or path.stem, applications=tuple(apps), probabilities=tuple(probs),
        soc=d.soc, description=d.description, notes=tuple(workload_notes),
    ))
