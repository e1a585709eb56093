"""The simulation's runtime records: compiled applications, jobs and tasks, and event kinds.

These are what the engine (`dssoc.engine`) moves through its event loop and what every reader of
a run sees: schedulers through `dssoc.view.SimView`, observers (`dssoc.observers`), results
(`dssoc.metrics`) and the DVFS controller. They live here, apart from the engine, so that those
readers can name them without importing the engine (no import circle).

Records are read-only for everyone but the engine: a task's `pe`, `start`, `finish`, ... are set
by the engine as the task moves ready -> bound -> running -> done.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dssoc.model import Application, SoC

INF = math.inf
# event kinds on the engine's heap (the DVFS controller adds its own above RELEASE)
ARRIVAL, DONE, WAKE, RELEASE = 0, 1, 2, 3
DEFERRED, NORMAL = 0, 1  # heap priorities: deferred DS3 events precede others at the same time
SAMPLING_US = 10  # DS3 splits task execution at multiples of its 10 µs sampling period


def completes_after_tick(start: float, finish: float) -> bool:
    """Whether DS3 (SimPy) processes this task's completion after the scheduler tick at `finish`.

    A PE process started within a tick is behind that tick; each timeout of >= 2 µs puts it ahead
    of the tick at its end, shorter ones keep it behind. DS3 splits a task at every multiple of
    10 µs, so only the last one or two segments matter.
    """
    if finish - start <= 1:
        return True
    boundary = SAMPLING_US * math.ceil(finish / SAMPLING_US) - SAMPLING_US  # last one < finish
    if boundary <= start or finish - boundary > 1:
        return False
    return boundary - start <= 1


class CompiledApp:
    """An application flattened for the hot loop: exec table per PE, edges, volumes."""

    __slots__ = ("deadline", "exec_pe", "heads", "index", "lower_bound", "n", "name", "names",
                 "preds", "succs", "volumes")

    def __init__(self, index: int, app: Application, soc: SoC, deadline_factor: float | None = None) -> None:
        self.index = index
        self.name = app.name
        self.n = len(app.tasks)
        self.names = tuple(t.name for t in app.tasks)
        self.preds = tuple(tuple(dict.fromkeys(t.predecessors)) for t in app.tasks)
        self.succs = app.successors
        self.volumes = tuple(tuple(app.volume(p, i) for p in self.preds[i]) for i in range(self.n))
        self.heads = tuple(i for i in range(self.n) if not self.preds[i])
        per_cluster = np.array(
            [[c.exec_us.get(name, INF) for c in soc.clusters] for name in self.names], dtype=float
        )
        self.exec_pe = per_cluster[:, soc.pe_cluster]  # (n_tasks, n_pes)
        self.exec_pe.setflags(write=False)
        # Lower bound on latency: critical path on the fastest PEs, no contention, no transfers.
        best = self.exec_pe.min(axis=1)
        finish = [0.0] * self.n
        for i in app.topological_order:
            finish[i] = best[i] + max((finish[p] for p in self.preds[i]), default=0.0)
        self.lower_bound = max(finish)
        # relative deadline of each job (INF: none): factor x lower bound, else the application's
        if deadline_factor is not None:
            self.deadline = deadline_factor * self.lower_bound
        else:
            self.deadline = INF if app.deadline_us is None else float(app.deadline_us)


class JobRun:
    """One injected job (an application instance)."""

    __slots__ = ("app", "arrival", "done_at", "id", "last_finish", "remaining", "tasks", "z")

    def __init__(self, job_id: int, app: CompiledApp, arrival: float) -> None:
        self.id = job_id
        self.app = app
        self.arrival = arrival
        self.remaining = app.n
        self.done_at = -1.0  # set when the last task finishes
        self.last_finish = -1.0  # latest task finish so far
        self.tasks: list[TaskRun] = []
        self.z: list[np.ndarray] = []  # noise draws per exec-noise model

    def __deepcopy__(self, memo: dict[int, Any]) -> JobRun:
        """A copy for a simulation snapshot: the compiled application is shared, the tasks and
        noise draws are copied (a field-wise copy: snapshots copy every in-flight job)."""
        twin = JobRun.__new__(JobRun)
        memo[id(self)] = twin
        for name in JobRun.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.z = [z.copy() for z in self.z]
        twin.tasks = [copy.deepcopy(t, memo) for t in self.tasks]
        return twin

    @property
    def deadline(self) -> float:
        """Absolute deadline (INF when the job has none)."""
        return self.arrival + self.app.deadline

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.app.name}, arrival={self.arrival:g})"


class TaskRun:
    """One task of one job, moving through ready -> bound -> running -> done."""

    __slots__ = (
        "after",
        "bound_at",
        "data_at",
        "dr_cache",
        "duration",
        "expected",
        "finish",
        "index",
        "job",
        "pe",
        "planned_start",
        "preds_left",
        "ready_at",
        "seq",
        "start",
        "uid",
    )

    def __init__(self, uid: int, job: JobRun, index: int) -> None:
        self.uid = uid
        self.job = job
        self.index = index
        self.preds_left = len(job.app.preds[index])
        self.pe = -1
        self.ready_at = self.bound_at = self.data_at = self.start = self.finish = -1.0
        self.expected = self.duration = 0.0
        self.seq = 0
        self.dr_cache: np.ndarray | None = None
        self.after: TaskRun | None = None  # plan predecessor: start only after it has started
        self.planned_start = math.nan  # the scheduler's planned start, for traces (NaN: none)

    def __deepcopy__(self, memo: dict[int, Any]) -> TaskRun:
        """A copy for a simulation snapshot: scalar fields as they are, the job and the plan
        predecessor through `memo` (the data-ready cache row is never written, so it is shared)."""
        twin = TaskRun.__new__(TaskRun)
        memo[id(self)] = twin
        for name in TaskRun.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.job = copy.deepcopy(self.job, memo)
        if self.after is not None:
            twin.after = copy.deepcopy(self.after, memo)
        return twin

    @property
    def name(self) -> str:
        return self.job.app.names[self.index]

    @property
    def app(self) -> CompiledApp:
        return self.job.app

    def __repr__(self) -> str:
        return f"Task(job={self.job.id}, {self.name}#{self.index}, pe={self.pe})"
