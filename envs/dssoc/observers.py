"""Engine observers: what listens to a run's events, and the built-in listeners.

The engine (`dssoc.engine.Simulation`) emits five events:

- `arrival(job)`: a job was injected (its tasks exist, its heads are about to become ready);
- `start(task)`: a task started on `task.pe` at `task.start`, for `task.duration` µs (not emitted
  for tasks whose timing a DVFS controller owns: the controller reports those itself);
- `finish(task)`: a task finished at `task.finish`;
- `job_done(job)`: the last task of a job finished (`job.done_at`);
- `end(now)`: the run is over at `now`.

An observer subscribes explicitly: its `events` lists the events it takes, and `on_EVENT` handles
each (`Simulation.attach(observer)`; a bare callback: `Simulation.subscribe(event, fn)`). The
engine binds one callable per event when subscriptions change (`fanout`), so an event nobody
subscribed to costs one `is None` test, and an observer costs nothing for the events it ignores.

Built-in observers: `RunRecorder` (the metric accumulators `SimResult` reads), `EnergyRecorder`
(DS3's windowed energy meter, `dssoc.energy`) and `TraceRecorder` (per-task and per-job rows).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from dssoc.runtime import INF

if TYPE_CHECKING:
    from dssoc.config import SimConfig
    from dssoc.dvfs import DvfsController
    from dssoc.energy import EnergyMeter
    from dssoc.model import SoC
    from dssoc.runtime import CompiledApp, JobRun, TaskRun

EVENTS = ("arrival", "start", "finish", "job_done", "end")
Callback = Callable[[Any], None]


def fanout(callbacks: Sequence[Callback]) -> Callback | None:
    """One callable for an event's subscribers, in subscription order (None: nobody listens)."""
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    if len(callbacks) == 2:
        first, second = callbacks

        def both(x: Any) -> None:
            first(x)
            second(x)

        return both
    cbs = tuple(callbacks)

    def every(x: Any) -> None:
        for cb in cbs:
            cb(x)

    return every


class Observer:
    """Base of engine observers: list the events taken in `events`, handle each in `on_EVENT`."""

    events: ClassVar[tuple[str, ...]] = ()

    def on_arrival(self, job: JobRun) -> None:
        """A job was injected."""

    def on_start(self, task: TaskRun) -> None:
        """A task started."""

    def on_finish(self, task: TaskRun) -> None:
        """A task finished."""

    def on_job_done(self, job: JobRun) -> None:
        """A job's last task finished."""

    def on_end(self, now: float) -> None:
        """The run ended at `now`."""


class RunRecorder(Observer):
    """The per-run accumulators behind `SimResult`: latencies, slowdowns and lateness of the jobs
    completed inside the measurement window [warm-up, end], the jobs injected after the warm-up,
    and every PE's busy time inside the window."""

    events = ("arrival", "finish", "job_done", "end")

    def __init__(self, n_pes: int, warmup: float, end_time: float,
                 pe_running: Sequence[TaskRun | None]) -> None:
        self.warmup = warmup
        self.end_time = end_time
        self._pe_running = pe_running  # the engine's list, read at the end
        self.latencies = array("d")
        self.slowdowns = array("d")
        self.lateness = array("d")  # finish - deadline of counted jobs that have a deadline
        self.completed_apps = array("i")
        self.injected_after_warmup = 0
        self.last_completion = -1.0
        self.busy = [0.0] * n_pes  # plain floats: the per-task update is the hot one

    def on_arrival(self, job: JobRun) -> None:
        if job.arrival >= self.warmup:
            self.injected_after_warmup += 1

    def on_finish(self, task: TaskRun) -> None:
        busy = min(task.finish, self.end_time) - max(task.start, self.warmup)
        if busy > 0.0:
            self.busy[task.pe] += busy

    def on_job_done(self, job: JobRun) -> None:
        now = job.done_at
        if self.warmup <= now <= self.end_time:
            app = job.app
            lat = now - job.arrival
            self.latencies.append(lat)
            self.slowdowns.append(lat / app.lower_bound if app.lower_bound > 0 else 1.0)
            if app.deadline != INF:
                self.lateness.append(lat - app.deadline)
            self.completed_apps.append(app.index)
            self.last_completion = now

    def on_end(self, now: float) -> None:
        for task in self._pe_running:  # busy time of tasks still running at the end
            if task is not None:
                busy = now - max(task.start, self.warmup)
                if busy > 0.0:
                    self.busy[task.pe] += busy

    @property
    def busy_us(self) -> np.ndarray:
        """Busy time of every PE inside the window (µs)."""
        return np.array(self.busy)


class EnergyRecorder(Observer):
    """Feeds task starts and ends to DS3's windowed energy meter (`dssoc.energy`). While a DVFS
    controller times the tasks, it reports their steps to the meter itself and no start events
    are emitted for them."""

    events = ("start", "finish", "end")

    def __init__(self, meter: EnergyMeter) -> None:
        self.meter = meter

    def on_start(self, task: TaskRun) -> None:
        self.meter.start(task.pe, task.start, task.start + task.duration)

    def on_finish(self, task: TaskRun) -> None:
        self.meter.stop(task.pe, task.finish)

    def on_end(self, now: float) -> None:
        self.meter.close()


class TraceRecorder(Observer):
    """One row per finished task (`dssoc.metrics.TRACE_COLUMNS`) and per finished job
    (`JOB_COLUMNS`), for traces, Gantt charts and the validator."""

    events = ("finish", "job_done")

    def __init__(self, soc: SoC) -> None:
        self.pe_names = soc.pe_names
        self.trace_rows: list[tuple] = []
        self.job_rows: list[tuple] = []

    def on_finish(self, task: TaskRun) -> None:
        job = task.job
        pe = task.pe
        self.trace_rows.append((job.id, job.app.name, task.index, task.name, pe, self.pe_names[pe],
                                job.arrival, task.ready_at, task.bound_at, task.data_at, task.start,
                                task.finish, task.expected, task.planned_start))

    def on_job_done(self, job: JobRun) -> None:
        self.job_rows.append((job.id, job.app.name, job.arrival, job.done_at))


class RecordedRun:
    """What `SimResult` reads of a run, from its built-in observers (mixed into the engine)."""

    recorder: RunRecorder
    tracer: TraceRecorder | None
    meter: EnergyMeter | None
    config: SimConfig
    @property
    def energy_j(self) -> float:
        """Energy (J) charged so far, as DS3 does (a step is charged when it starts)."""
        if self.meter is None:
            return math.nan if not self.config.energy else 0.0
        return self.meter.energy_j

    @property
    def latencies(self) -> array:
        """Latency of every job completed inside the measurement window, in completion order."""
        return self.recorder.latencies

    @property
    def slowdowns(self) -> array:
        return self.recorder.slowdowns

    @property
    def lateness(self) -> array:
        return self.recorder.lateness

    @property
    def completed_apps(self) -> array:
        return self.recorder.completed_apps

    @property
    def injected_after_warmup(self) -> int:
        return self.recorder.injected_after_warmup

    @property
    def last_completion(self) -> float:
        return self.recorder.last_completion

    @property
    def busy_us(self) -> np.ndarray:
        return self.recorder.busy_us

    @property
    def trace_rows(self) -> list[tuple]:
        return self.tracer.trace_rows if self.tracer is not None else []

    @property
    def job_rows(self) -> list[tuple]:
        return self.tracer.job_rows if self.tracer is not None else []


class FinishedRun(Protocol):
    """What `dssoc.metrics.SimResult.from_simulation` reads of a run (`dssoc.engine.Simulation`:
    its configuration and clock, and the accumulators of the observers above)."""

    seed: int
    config: SimConfig
    soc: SoC
    apps: list[CompiledApp]
    n_pes: int
    now: float
    end_time: float
    warmup: float
    jobs_injected: int
    dvfs: DvfsController | None
    trace_enabled: bool

    @property
    def active_jobs(self) -> Mapping[int, JobRun]: ...
    @property
    def latencies(self) -> array: ...
    @property
    def slowdowns(self) -> array: ...
    @property
    def lateness(self) -> array: ...
    @property
    def completed_apps(self) -> array: ...
    @property
    def injected_after_warmup(self) -> int: ...
    @property
    def last_completion(self) -> float: ...
    @property
    def busy_us(self) -> np.ndarray: ...
    @property
    def energy_j(self) -> float: ...
    @property
    def trace_rows(self) -> list[tuple]: ...
    @property
    def job_rows(self) -> list[tuple]: ...
