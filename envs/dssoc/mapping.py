"""Mapping imported workflows onto a SoC: categories -> PE types, work -> µs, data -> volumes.

An imported task (dssoc.importers) has a category and one amount of work in its source's unit
(WfCommons: seconds on a cluster machine; STG/DOT: the file's units). A SoC has clusters of PE
types with per-type execution times. A `WorkflowMapping` says, for each category, which PE types
may run it and with which *time factor* (execution time relative to the reference type), plus:

- `time_scale_us`: SoC µs per unit of work (workflow seconds -> µs). `auto` (the default) picks the
  scale that makes the workload's mean task work `target_task_us` on a factor-1 PE, so imported
  DAGs land in the SoC's regime (DS3's tasks take tens of µs); the chosen value is recorded;
- `data_scale`: transfer-volume units per unit of data (bytes -> the SoC's volume unit; a transfer
  takes volume / bandwidth µs). `auto` makes the mean non-zero edge volume `target_volume`;
- `min_exec_us`: executions are rounded to whole µs (as the SoC tables are) and at least this
  for a task with non-zero work; zero-work tasks (STG's dummies) stay at 0.

Execution time of task t on a PE of cluster c: `round(work(t) * time_scale_us * factor(cat(t), c))`.
Factor keys name a cluster (`A15`), a cluster kind (`BIG`) or `*` (every cluster); a category not
listed uses the `default` row; a task whose row matches no cluster of the SoC is refused.

Mapping files (JSON/YAML, or a built-in name from dssoc/data/mappings)::

    {"name": "big-little", "description": "...",
     "time_scale_us": "auto" | float, "data_scale": "auto" | float,
     "target_task_us": 50, "target_volume": 1000, "min_exec_us": 1,
     "default": {"A15": 1.0, "A7": 2.5},
     "categories": {"sG1IterDecon": {"A15": 1.0, "A7": 2.5, "FFT": 0.25}, ...}}

A mapping spec string is `NAME_OR_FILE[,key=value...]`, e.g. `big-little,time_scale_us=0.05`.
The mapping is applied once, when a config is built: every mapped task becomes its own task type
`APP/TASK` whose times are added to a copy of the SoC's clusters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dssoc.errors import ConfigError, UnknownNameError, UnsupportedTaskError
from dssoc.model import Application, Cluster, SoC, Task, Workload

#: Built-in mapping used for each shipped SoC when none is given.
DEFAULT_MAPPINGS = {"MULTIPLE_BAL": "big-little", "BAL_only": "big-little", "Top": "uniform"}
_NUMERIC = ("time_scale_us", "data_scale", "target_task_us", "target_volume", "min_exec_us")


@dataclass(frozen=True)
class WorkflowMapping:
    """Category -> {PE type: time factor}, and the time and data scales (None = auto)."""

    name: str
    categories: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default: Mapping[str, float] | None = None
    time_scale_us: float | None = None
    data_scale: float | None = None
    target_task_us: float = 50.0
    target_volume: float = 1000.0
    min_exec_us: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        where = f"mapping {self.name}"
        rows = dict(self.categories) | ({"default": self.default} if self.default is not None else {})
        for cat, row in rows.items():
            for key, f in row.items():
                if not (isinstance(f, int | float) and math.isfinite(f) and f > 0):
                    raise ConfigError(f"time factor of {key!r} must be a number > 0, got {f!r}",
                                      f"{where}: {cat}")
        for key in _NUMERIC:
            v = getattr(self, key)
            if v is not None and not (math.isfinite(v) and (v > 0 or (key == "min_exec_us" and v >= 0))):
                raise ConfigError(f"must be a number > 0, got {v}", f"{where}: {key}")

    @property
    def spec(self) -> str:
        """`NAME,key=value,...` with the (resolved) scales: re-parsable, reproducible."""
        parts = [self.name]
        for key in ("time_scale_us", "data_scale"):
            v = getattr(self, key)
            parts.append(f"{key}={'auto' if v is None else format(v, '.6g')}")
        return ",".join(parts)

    def factors(self, category: str, soc: SoC) -> dict[int, float]:
        """Cluster index -> time factor for `category` on `soc` (empty: runs nowhere)."""
        row = self.categories.get(category, self.default)
        if row is None:
            return {}
        out: dict[int, float] = {}
        for key, f in row.items():
            for c, cl in enumerate(soc.clusters):
                if key == "*" or key == cl.name or (key == cl.kind and key not in
                                                     {x.name for x in soc.clusters}):
                    out.setdefault(c, float(f))
        return out

    def resolved(self, apps: list[Application]) -> WorkflowMapping:
        """This mapping with `auto` scales fixed from the workflows' mean work and volume."""
        ts, ds = self.time_scale_us, self.data_scale
        if ts is None:
            works = [t.work for a in apps for t in a.tasks if t.work]
            ts = self.target_task_us / (sum(works) / len(works)) if works else 1.0
        if ds is None:
            vols = [v for a in apps for v in a.volumes.values() if v > 0]
            ds = self.target_volume / (sum(vols) / len(vols)) if vols else 1.0
        return replace(self, time_scale_us=float(ts), data_scale=float(ds))


def mapping_from_dict(doc: Mapping[str, Any], where: str = "mapping") -> WorkflowMapping:
    known = {"name", "description", "categories", "default", *_NUMERIC}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"unknown keys {unknown}; allowed: {sorted(known)}", where)
    kwargs: dict[str, Any] = {}
    for key in _NUMERIC:
        if key in doc and doc[key] != "auto":
            try:
                kwargs[key] = float(doc[key])
            except (TypeError, ValueError):
                raise ConfigError(f"must be a number or 'auto', got {doc[key]!r}",
                                  f"{where}: {key}") from None
    cats = doc.get("categories", {}) or {}
    if not isinstance(cats, Mapping) or not all(isinstance(r, Mapping) for r in cats.values()):
        raise ConfigError("'categories' must map category names to {PE type: factor}", where)
    default = doc.get("default")
    if default is not None and not isinstance(default, Mapping):
        raise ConfigError("'default' must map PE types to time factors", where)
    return WorkflowMapping(
        name=str(doc.get("name", "mapping")), categories={str(k): dict(v) for k, v in cats.items()},
        default=None if default is None else dict(default), description=str(doc.get("description", "")),
        **kwargs,
    )


def builtin_mappings() -> list[str]:
    from dssoc.catalog import builtin_names

    return builtin_names("mappings")


def load_mapping(ref: str | Path | WorkflowMapping) -> WorkflowMapping:
    """A built-in mapping (`big-little`, `uniform`), a JSON/YAML file, or a spec string with
    overrides (`big-little,time_scale_us=0.05,data_scale=1e-4`)."""
    if isinstance(ref, WorkflowMapping):
        return ref
    from dssoc.catalog import _data_dir, read_document

    head, *overrides = str(ref).split(",")
    path = Path(head)
    if path.suffix.lower() in (".json", ".yaml", ".yml") or path.exists():
        doc, where = read_document(path), str(path)
    else:
        builtin = _data_dir("mappings") / f"{head}.json"
        if not builtin.is_file():
            raise UnknownNameError("mapping", head, builtin_mappings(), "mapping")
        doc, where = read_document(builtin), f"mappings/{head}"
    doc = dict(doc)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in _NUMERIC:
            raise ConfigError(f"expected KEY=VALUE with KEY in {list(_NUMERIC)}, got {item!r}",
                              f"mapping spec {ref!r}")
        doc[key.strip()] = value.strip()
    return mapping_from_dict(doc, where)


def needs_mapping(workload: Workload) -> bool:
    """Whether some application of `workload` is an imported workflow not yet mapped."""
    return any(t.work is not None for a in workload.applications for t in a.tasks)


def map_workload(workload: Workload, soc: SoC, mapping: str | Path | WorkflowMapping | None = None
                 ) -> tuple[Workload, SoC, WorkflowMapping]:
    """Map the imported workflows of `workload` onto `soc`; returns the mapped workload, the SoC
    extended with the mapped tasks' execution times, and the mapping with its scales resolved.
    Applications that are not imported workflows pass through unchanged."""
    if mapping is None:
        if soc.name not in DEFAULT_MAPPINGS:
            raise ConfigError(f"no default workflow mapping for SoC {soc.name!r}; give one with "
                              f"--mapping / mapping= (built-in: {', '.join(builtin_mappings())}, or a "
                              "file, see docs/simulator.md)", "mapping")
        mapping = DEFAULT_MAPPINGS[soc.name]
    m = load_mapping(mapping)
    workflows = [a for a in workload.applications if any(t.work is not None for t in a.tasks)]
    m = m.resolved(workflows)
    time_scale_us, data_scale = float(m.time_scale_us or 0.0), float(m.data_scale or 0.0)  # resolved: set
    is_workflow = {id(a) for a in workflows}
    extra: list[dict[str, float]] = [{} for _ in soc.clusters]
    apps = []
    for app in workload.applications:
        if id(app) not in is_workflow:
            apps.append(app)
            continue
        tasks = []
        for t in app.tasks:
            factors = m.factors(t.category, soc)
            if not factors:
                row = m.categories.get(t.category, m.default)
                why = ("no row for it and no 'default' row" if row is None else
                       f"its row {dict(row)} names none of the SoC's clusters "
                       f"{[c.name for c in soc.clusters]}")
                raise UnsupportedTaskError(
                    f"task {t.name!r} (category {t.category!r}) of workflow {app.name!r} would run on no "
                    f"PE of SoC {soc.name!r}: mapping {m.name!r} has {why}; add the category or a "
                    "'default' row", f"mapping {m.name}")
            type_name = f"{app.name}/{t.name}"
            work = t.work or 0.0
            for c, f in factors.items():
                us = float(round(work * time_scale_us * f)) if work > 0 else 0.0
                extra[c][type_name] = max(us, m.min_exec_us) if work > 0 else 0.0
            tasks.append(Task(type_name, t.predecessors, t.category, None))
        volumes = {e: v * data_scale for e, v in app.volumes.items()}
        apps.append(Application(app.name, tuple(tasks), volumes,
                                f"{app.description}; mapped with {m.spec}".lstrip("; "),
                                app.deadline_us))
    clusters = tuple(Cluster(c.name, c.kind, c.capacity, {**c.exec_us, **extra[k]}, c.power,
                             c.governor)
                     for k, c in enumerate(soc.clusters))
    mapped_soc = SoC(soc.name, clusters, soc.bandwidth, soc.self_bandwidth, soc.default_bandwidth,
                     soc.description)
    mapped = Workload(workload.name, tuple(apps), workload.probabilities, workload.soc,
                      workload.description, workload.notes)
    return mapped, mapped_soc, m
