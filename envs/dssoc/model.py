"""Frozen, validated descriptions of the platform (SoC) and the workload (application DAGs).

They are validated once, at construction; the engine compiles them into flat arrays.
Times are microseconds; a transfer takes `volume / bandwidth` microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dssoc.errors import ConfigError, InvalidDAGError, UnsupportedTaskError
from dssoc.governors import check_governor


def transfer_time(volume: float, bandwidth: float | np.ndarray, integer: bool) -> float | np.ndarray:
    """Time to move `volume` over `bandwidth`; truncated to whole µs when `integer` (DS3's int())."""
    t = volume / bandwidth
    return np.floor(t) if integer else t



def kahn_order(inputs: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]]) -> list[int]:
    """Kahn's algorithm: the nodes ordered so that each comes after all of its `inputs`
    (`outputs` is the same graph's reverse adjacency; pass them swapped for a reverse
    topological order). Nodes on or behind a cycle are left out: callers compare lengths."""
    left = [len(x) for x in inputs]
    order = [i for i, d in enumerate(left) if d == 0]
    k = 0
    while k < len(order):
        for s in outputs[order[k]]:
            left[s] -= 1
            if left[s] == 0:
                order.append(s)
        k += 1
    return order

@dataclass(frozen=True)
class PowerSpec:
    """DS3 power description of one cluster: operating points and measured power profiles.

    `power_profile[f]` is the cluster power (W) with 1..capacity busy cores at frequency f (MHz).
    """

    opps: tuple[tuple[int, int], ...]  # (frequency MHz, voltage mV), sorted by frequency
    power_profile: Mapping[int, tuple[float, ...]]
    pg_profile: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    trip_freq: tuple[int, ...] = ()  # MHz cap at each thermal trip point (-1: unchanged)

    @property
    def min_opp(self) -> tuple[int, int]:
        """The operating point used by the powersave governor."""
        return self.opps[0]

    @property
    def max_opp(self) -> tuple[int, int]:
        """The operating point used by the performance governor."""
        return self.opps[-1]


@dataclass(frozen=True)
class Cluster:
    """A cluster of `capacity` identical single-core PEs of one type (e.g. 4x Cortex-A7)."""

    name: str
    kind: str
    capacity: int
    exec_us: Mapping[str, float]
    power: PowerSpec | None = None
    governor: str = "performance"  # DVFS governor (dssoc.dvfs): performance, powersave, ...

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ConfigError(f"capacity must be >= 1, got {self.capacity}", f"cluster {self.name}")
        opps = self.power.opps if self.power is not None else ()
        object.__setattr__(self, "governor", check_governor(self.governor, opps, f"cluster {self.name}"))
        for task, t in self.exec_us.items():
            if not (t >= 0 and math.isfinite(t)):
                raise ConfigError(
                    f"execution time of {task!r} must be a finite number >= 0, got {t}",
                    f"cluster {self.name}",
                )


@dataclass(frozen=True)
class SoC:
    """A heterogeneous SoC: clusters plus a cluster-pair bandwidth table (DS3 semantics).

    Two different PEs of clusters a and b communicate at `bandwidth[(a, b)]` (symmetric);
    a PE with itself at `self_bandwidth`; pairs not listed at `default_bandwidth` (DS3: 1).
    """

    name: str
    clusters: tuple[Cluster, ...]
    bandwidth: Mapping[tuple[str, str], float] = field(default_factory=dict)
    self_bandwidth: float = 10000.0
    default_bandwidth: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        names = [c.name for c in self.clusters]
        if not names:
            raise ConfigError("an SoC needs at least one cluster", f"soc {self.name}")
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate cluster names in {names}", f"soc {self.name}")
        for (a, b), bw in self.bandwidth.items():
            if a not in names or b not in names:
                raise ConfigError(f"bandwidth names unknown cluster {a!r} or {b!r}", f"soc {self.name}")
            if not bw > 0:
                raise ConfigError(f"bandwidth {a}-{b} must be > 0, got {bw}", f"soc {self.name}")
        if not (self.self_bandwidth > 0 and self.default_bandwidth > 0):
            raise ConfigError("self and default bandwidth must be > 0", f"soc {self.name}")

    @cached_property
    def pe_cluster(self) -> np.ndarray:
        """Cluster index of every PE; PEs are numbered cluster by cluster, as in DS3."""
        return np.repeat(np.arange(len(self.clusters)), [c.capacity for c in self.clusters])

    @property
    def n_pes(self) -> int:
        return int(self.pe_cluster.size)

    @cached_property
    def pe_names(self) -> tuple[str, ...]:
        """Readable PE names such as `A7.0`, `A7.1`, `FFT.3`."""
        out: list[str] = []
        for c in self.clusters:
            out.extend(f"{c.name}.{i}" for i in range(c.capacity))
        return tuple(out)

    def cluster_bandwidth(self, a: int, b: int) -> float:
        """Bandwidth between two *different* PEs of clusters a and b."""
        na, nb = self.clusters[a].name, self.clusters[b].name
        bw = self.bandwidth.get((na, nb), self.bandwidth.get((nb, na)))
        return self.default_bandwidth if bw is None else bw

    @cached_property
    def pe_bandwidth(self) -> np.ndarray:
        """PE x PE bandwidth matrix (float, diagonal = self bandwidth)."""
        k = len(self.clusters)
        cb = np.array([[self.cluster_bandwidth(a, b) for b in range(k)] for a in range(k)])
        m = cb[np.ix_(self.pe_cluster, self.pe_cluster)].astype(float)
        np.fill_diagonal(m, self.self_bandwidth)
        return m

    def supports(self, task_name: str) -> bool:
        return any(task_name in c.exec_us for c in self.clusters)


@dataclass(frozen=True)
class Task:
    """One node of an application DAG; `name` keys the SoC's execution-time table.

    Tasks of an imported workflow (dssoc.importers) also carry a `category` (e.g. WfCommons'
    `mProject`) and their `work` in the source's time unit (workflow seconds, STG/DOT units); such
    an application is mapped onto a SoC by dssoc.mapping, which turns work into per-PE-type
    execution times and clears `work`.
    """

    name: str
    predecessors: tuple[int, ...] = ()
    category: str = ""
    work: float | None = None


@dataclass(frozen=True)
class Application:
    """An application DAG: tasks (indices are positions) and data volumes on edges."""

    name: str
    tasks: tuple[Task, ...]
    volumes: Mapping[tuple[int, int], float] = field(default_factory=dict)
    description: str = ""
    deadline_us: float | None = None  # relative deadline of each job (from its injection)

    def __post_init__(self) -> None:
        where = f"application {self.name}"
        n = len(self.tasks)
        if n == 0:
            raise InvalidDAGError("an application needs at least one task", where)
        if self.deadline_us is not None and not (self.deadline_us > 0 and math.isfinite(self.deadline_us)):
            raise ConfigError(f"deadline must be a positive number of microseconds, got {self.deadline_us}",
                              f"{where}: deadline_us")
        for i, t in enumerate(self.tasks):
            for p in t.predecessors:
                if not 0 <= p < n:
                    raise InvalidDAGError(f"task {t.name!r} has unknown predecessor {p}", where)
                if p == i:
                    raise InvalidDAGError(f"task {t.name!r} depends on itself (cycle)", where)
        for (s, d), v in self.volumes.items():
            if not (0 <= d < n and s in self.tasks[d].predecessors):
                raise InvalidDAGError(f"volume given for {s}->{d}, which is not an edge", where)
            if v < 0:
                raise InvalidDAGError(f"volume {s}->{d} must be >= 0, got {v}", where)
        self.topological_order  # raises on cycles  # noqa: B018

    @cached_property
    def successors(self) -> tuple[tuple[int, ...], ...]:
        succ: list[list[int]] = [[] for _ in self.tasks]
        for i, t in enumerate(self.tasks):
            for p in t.predecessors:
                succ[p].append(i)
        return tuple(tuple(s) for s in succ)

    @cached_property
    def topological_order(self) -> tuple[int, ...]:
        order = kahn_order([t.predecessors for t in self.tasks], self.successors)
        if len(order) != len(self.tasks):
            stuck = sorted(self.tasks[i].name for i in set(range(len(self.tasks))) - set(order))
            raise InvalidDAGError(f"the graph has a cycle through {stuck}", f"application {self.name}")
        return tuple(order)

    def volume(self, src: int, dst: int) -> float:
        return self.volumes.get((src, dst), 0.0)

    def check_supported(self, soc: SoC) -> None:
        """Raise if some task type cannot run on any PE of `soc`."""
        for t in self.tasks:
            if not soc.supports(t.name):
                raise UnsupportedTaskError(
                    f"task {t.name!r} of application {self.name!r} runs on no PE of SoC {soc.name!r}",
                    f"application {self.name}",
                )


@dataclass(frozen=True)
class Workload:
    """A mix of applications drawn with the given probabilities, on a default SoC."""

    name: str
    applications: tuple[Application, ...]
    probabilities: tuple[float, ...]
    soc: str | None = None  # name of the default SoC
    description: str = ""
    notes: tuple[str, ...] = ()  # what an importer could not map (one line per import)

    def __post_init__(self) -> None:
        where = f"workload {self.name}"
        if len(self.applications) != len(self.probabilities):
            raise ConfigError(
                f"{len(self.applications)} applications but {len(self.probabilities)} probabilities",
                where,
            )
        if any(p < 0 for p in self.probabilities) or not math.isclose(
            sum(self.probabilities), 1.0, abs_tol=1e-6
        ):
            raise ConfigError(f"probabilities must be >= 0 and sum to 1, got {self.probabilities}", where)

    def with_probabilities(self, probabilities: tuple[float, ...]) -> Workload:
        return Workload(self.name, self.applications, tuple(probabilities), self.soc, self.description,
                        self.notes)
