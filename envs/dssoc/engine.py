"""The event-driven simulation engine (DS3 semantics, no per-microsecond tick).

Life cycle of a task (domain.md section 2): on injection, tasks without predecessors are *ready*;
when a task finishes, successors whose predecessors are all done become ready. Whenever tasks are
ready, the scheduler binds all of them to PEs (early binding). A bound task waits in its PE's queue,
ordered by job id (older jobs first, stable), until its data has arrived and its PE is free.
A scheduler that plans may also give a task a *plan predecessor* (`Simulation.hold_after`): the
task is then held out of its PE's queue until that predecessor has started (DS3's and gym-ds3's
"dynamic dependencies", domain.md section 5), so a PE runs its plan in planned order.

Events are `(time, seq, kind, payload)` tuples on a heap; `seq` is the creation counter, so events
at the same instant run in creation order, as in SimPy (which DS3 uses). At each instant the engine
processes every event due, then calls the scheduler once if tasks are ready, then starts whatever
can start. Random streams (arrivals, application choice, noise, scheduler) are spawned from one
seed, so every scheduler sees the same jobs and noise draws for a seed (common random numbers).

DS3 tick order (`SimConfig.ds3_event_order`): DS3 runs on SimPy with a scheduler "tick" every
microsecond. An event created *during* a tick for the same or the next microsecond (a task of 0 or
1 µs started in the tick, a job arriving with a zero gap) lands after the tick that would have
reacted to it, so its consequences are scheduled one microsecond later. The engine reproduces this
with deferred events (processed first at the next microsecond, keeping their own timestamps): it is
why a single range-detection job takes 177 µs in DS3 rather than 176.

Late binding (`SimConfig.binding="late"`, not DS3): ready tasks stay unbound until the scheduler
binds them, and it may only bind a task to a *free* PE (nothing running, nothing bound). Decision
points are the instants at which an unbound ready task and a free PE that can run it coexist (after
every event due at the instant has been processed and bound tasks have started); the scheduler may
bind some ready tasks and leave the others waiting for a later decision point. A bound task starts
as soon as its data is on its PE, so a PE never idles while a task bound to it could run. Transfer
model (both bindings): a producer pushes its output to every PE at its finish, so the data-ready
time of a ready task on each PE (max over predecessors of finish + volume / bandwidth) is known
when it becomes ready, and binding later never delays the data. The early-binding code path is
untouched by this: `advance` and `assign` are swapped for their late versions per instance.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import insort
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dssoc.arrivals import make_arrival_process
from dssoc.checks import seed as check_seed
from dssoc.config import SimConfig
from dssoc.dvfs import DvfsController, needs_controller
from dssoc.errors import ConfigError, SchedulerError
from dssoc.live import LiveCache, LiveState
from dssoc.model import transfer_time
from dssoc.noise import ArrivalNoise, noise_runtime

if TYPE_CHECKING:
    from dssoc.energy import PowerModel
    from dssoc.metrics import SimResult

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
INF = math.inf


class CompiledApp:
    """An application flattened for the hot loop: exec table per PE, edges, volumes."""

    __slots__ = ("deadline", "exec_pe", "heads", "index", "lower_bound", "n", "name", "names",
                 "preds", "succs", "volumes")

    def __init__(self, index: int, app, soc, deadline_factor: float | None = None) -> None:
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

    __slots__ = ("app", "arrival", "done_at", "id", "last_finish", "plan", "remaining", "tasks", "z")

    def __init__(self, job_id: int, app: CompiledApp, arrival: float) -> None:
        self.id = job_id
        self.app = app
        self.arrival = arrival
        self.remaining = app.n
        self.done_at = -1.0  # set when the last task finishes
        self.last_finish = -1.0  # latest task finish so far
        self.tasks: list[TaskRun] = []
        self.plan: dict[int, int] | None = None  # task index -> PE, for whole-job planners
        self.z: list[np.ndarray] = []  # noise draws per exec-noise model

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

    @property
    def name(self) -> str:
        return self.job.app.names[self.index]

    @property
    def app(self) -> CompiledApp:
        return self.job.app

    def __repr__(self) -> str:
        return f"Task(job={self.job.id}, {self.name}#{self.index}, pe={self.pe})"


class Simulation(LiveState):
    """One seeded run of a `SimConfig`. Drive it with `run(scheduler)` or step-wise with
    `advance()` / `assign()` (the Gymnasium environments do the latter). The live-state queries
    (`pe_expected_remaining`, `jobs_remaining_critical_path`, ...) come from `dssoc.live`."""

    def __init__(
        self,
        config: SimConfig,
        seed: int = 0,
        *,
        trace: bool = False,
        on_arrival: Callable[[JobRun], None] | None = None,
    ) -> None:
        if not isinstance(config, SimConfig):
            raise ConfigError(f"expected a SimConfig, got {type(config).__name__}", "config")
        self.config = config
        self.seed = seed = check_seed(seed)
        soc = config.soc
        self.soc = soc
        self.n_pes = soc.n_pes
        self.pe_cluster = soc.pe_cluster
        self.pe_bandwidth = soc.pe_bandwidth
        self._transfer_rows: dict[tuple[float, int], np.ndarray] = {}
        self.apps = [CompiledApp(i, a, soc, config.deadline_factor)
                     for i, a in enumerate(config.workload.applications)]
        ss = np.random.SeedSequence(seed)
        arrival_ss, app_ss, noise_ss, sched_ss = ss.spawn(4)
        self.arrival_rng = np.random.default_rng(arrival_ss)
        self.app_rng = np.random.default_rng(app_ss)
        self._arrivals = make_arrival_process(config, seed, self.arrival_rng, self.app_rng)
        self.noise_rng = np.random.default_rng(noise_ss)
        self.scheduler_rng = np.random.default_rng(sched_ss)
        self._exec_noise = noise_runtime([m for m in config.noise if not isinstance(m, ArrivalNoise)],
                                         noise_ss, soc)
        self._drawn_noise = [m for m in self._exec_noise if m.uses_draw]
        self.on_arrival = on_arrival
        self.trace_enabled = trace

        self.now = 0.0
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self.ready: list[TaskRun] = []
        self.pe_running: list[TaskRun | None] = [None] * self.n_pes
        self.pe_queue: list[list[tuple[int, int, TaskRun]]] = [[] for _ in range(self.n_pes)]
        self._pe_wake = [INF] * self.n_pes
        self._dirty: set[int] = set()
        self._held: dict[int, list[TaskRun]] = {}  # plan predecessor uid -> bound tasks held on it
        self._task_uid = 0
        self.jobs_in_flight = 0
        self.jobs_injected = 0
        self._blocked_arrival = False
        self._generator_behind = False
        self._arrivals_open = True
        self.finished = False
        self.end_time = config.duration_us if config.duration_us is not None else INF
        self.active_jobs: dict[int, JobRun] = {}

        # metrics
        self.warmup = config.warmup_us
        self.latencies = array("d")
        self.slowdowns = array("d")
        self.lateness = array("d")  # finish - deadline of counted jobs that have a deadline
        self.completed_apps = array("i")
        self.injected_after_warmup = 0
        self.last_completion = -1.0
        self.busy_us = np.zeros(self.n_pes)
        self.tasks_done = 0
        self.trace_rows: list[tuple] = []
        self.job_rows: list[tuple] = []
        self.decisions = 0

        # energy: DS3's windowed accounting, fed with task starts and ends (dssoc.energy)
        from dssoc.energy import PowerModel

        self.power: PowerModel | None = PowerModel.for_soc(soc) if config.energy else None
        self.meter = None if self.power is None else self.power.meter(self.warmup, config.duration_us)
        self.last_finish = 0.0
        # DVFS (dssoc.dvfs): only consulted when some cluster is not at `performance`
        self.dvfs: DvfsController | None = None
        self._power_cache: dict[tuple[int, ...] | None, np.ndarray] = {}
        if needs_controller(soc, config.throttling):
            self.dvfs = DvfsController(self, config.throttling)

        self._live = LiveCache(self.apps)
        if config.binding == "late":  # per-instance swap: the early path stays as it was
            self.advance = self._advance_late  # type: ignore[method-assign]
            self.assign = self._assign_late  # type: ignore[method-assign]
        self._pending_app = -1  # application of the arrival due (waiting while the system is full)
        self._schedule_arrival(self._arrivals.next_arrival(0.0))

    # ------------------------------------------------------------------ events
    def _push(self, t: float, kind: int, payload: object, prio: int = NORMAL) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, kind, payload))

    def _schedule_arrival(self, arrival: tuple[float, int] | None) -> None:
        """Queue the next arrival from the arrival process (dssoc.arrivals); None ends them."""
        if arrival is None:
            self._arrivals_open = False
            return
        t, app = arrival
        if self.config.ds3_event_order and self.jobs_injected:
            gap = t - self.now
            self._generator_behind = gap == 0 or (gap <= 1 and self._generator_behind)
        self._push(t, ARRIVAL, app)

    def _on_arrival_event(self, app: int) -> None:
        if not self._arrivals_open:
            return
        self._pending_app = app
        if self.jobs_in_flight >= self.config.max_jobs_in_flight:
            self._blocked_arrival = True  # DS3 retries every microsecond; we wait for a departure
            return
        self._inject()

    def _inject(self) -> None:
        now = self.now
        app = self.apps[self._pending_app]
        job = JobRun(self.jobs_injected, app, now)
        self.jobs_injected += 1
        self.jobs_in_flight += 1
        self.active_jobs[job.id] = job
        if now >= self.warmup:
            self.injected_after_warmup += 1
        for _ in self._drawn_noise:
            job.z.append(self.noise_rng.standard_normal(app.n))
        tasks = job.tasks
        for i in range(app.n):
            tasks.append(TaskRun(self._task_uid + i, job, i))
        self._task_uid += app.n
        if self.on_arrival is not None:
            self.on_arrival(job)
        heads = [tasks[h] for h in app.heads]
        for t in heads:
            t.ready_at = now
        if self._generator_behind:  # DS3: injected after this microsecond's scheduler tick
            self._push(now + 1, RELEASE, heads, DEFERRED)
        else:
            self.ready.extend(heads)
        max_jobs = self.config.max_jobs
        if max_jobs is not None and self.jobs_injected >= max_jobs:
            self._arrivals_open = False
        else:
            self._schedule_arrival(self._arrivals.next_arrival(now))

    @property
    def energy_j(self) -> float:
        """Energy (J) charged so far, as DS3 does (a step is charged when it starts)."""
        if self.meter is None:
            return math.nan if not self.config.energy else 0.0
        return self.meter.energy_j

    def _on_done(self, task: TaskRun) -> None:
        now = task.start + task.duration  # the finish time (a deferred completion runs later)
        task.finish = now
        pe = task.pe
        self.pe_running[pe] = None
        self._dirty.add(pe)
        if self.meter is not None:
            self.meter.stop(pe, now)
        if now > self.last_finish:
            self.last_finish = now
        self.busy_us[pe] += max(0.0, min(now, self.end_time) - max(task.start, self.warmup))
        self.tasks_done += 1
        job = task.job
        if self.trace_enabled:
            self.trace_rows.append((job.id, job.app.name, task.index, task.name, pe,
                                    self.soc.pe_names[pe], job.arrival, task.ready_at,
                                    task.bound_at, task.data_at, task.start, now, task.expected,
                                    task.planned_start))
        tasks = job.tasks
        for s in job.app.succs[task.index]:
            succ = tasks[s]
            succ.preds_left -= 1
            if succ.preds_left == 0:
                succ.ready_at = now
                self.ready.append(succ)
        job.remaining -= 1
        if now > job.last_finish:  # deferred completions may arrive after later finishes
            job.last_finish = now
        if job.remaining == 0:
            self._on_job_done(job, job.last_finish)

    def _on_job_done(self, job: JobRun, now: float) -> None:
        job.done_at = now
        self.jobs_in_flight -= 1
        del self.active_jobs[job.id]
        if now >= self.warmup and now <= self.end_time:
            lat = now - job.arrival
            self.latencies.append(lat)
            self.slowdowns.append(lat / job.app.lower_bound if job.app.lower_bound > 0 else 1.0)
            if job.app.deadline != INF:
                self.lateness.append(lat - job.app.deadline)
            self.completed_apps.append(job.app.index)
            self.last_completion = now
        if self.trace_enabled:
            self.job_rows.append((job.id, job.app.name, job.arrival, now))
        if self._blocked_arrival and self._arrivals_open:
            self._blocked_arrival = False
            self._inject()

    # --------------------------------------------------------------- bindings
    def assign(self, task: TaskRun, pe: int) -> None:
        """Bind a ready task to a PE (removing it from `ready`)."""
        if task.pe != -1 or task.preds_left != 0:
            raise SchedulerError(f"{task!r} is not an unbound ready task")
        pe = int(pe)
        if not 0 <= pe < self.n_pes:
            raise SchedulerError(f"{task!r} assigned to unknown PE {pe} (SoC has {self.n_pes})")
        expected = task.job.app.exec_pe[task.index, pe]
        if expected == INF:
            raise SchedulerError(
                f"{task!r} assigned to PE {self.soc.pe_names[pe]}, which cannot run {task.name!r}"
            )
        self.ready.remove(task)
        now = self.now
        task.pe = pe
        task.bound_at = now
        task.expected = float(expected)
        job = task.job
        app = job.app
        preds = app.preds[task.index]
        cached = task.dr_cache
        if cached is not None:  # the scheduler already computed data-ready times on every PE
            data_at = float(cached[pe])
        elif preds:
            vols = app.volumes[task.index]
            tasks = job.tasks
            data_at = -INF
            for p, vol in zip(preds, vols, strict=True):
                pt = tasks[p]
                t = pt.finish + float(self.transfer_times(vol, pt.pe)[pe])
                if t > data_at:
                    data_at = t
        else:
            data_at = now
        task.data_at = data_at
        self._seq += 1
        task.seq = self._seq
        after = task.after
        if after is None or after.start >= 0:  # inlined `_enqueue`: this is the hot path
            insort(self.pe_queue[pe], (job.id, self._seq, task))
            self._dirty.add(pe)
        else:
            self._held.setdefault(after.uid, []).append(task)

    def _enqueue(self, task: TaskRun) -> None:
        """Queue a bound task on its PE, or hold it while its plan predecessor has not started."""
        after = task.after
        if after is not None and after.start < 0:
            self._held.setdefault(after.uid, []).append(task)
            return
        insort(self.pe_queue[task.pe], (task.job.id, task.seq, task))
        self._dirty.add(task.pe)

    def hold_after(self, task: TaskRun, after: TaskRun | None) -> None:
        """Let `task` start only after `after` has started (None: no such constraint).

        This is how a scheduler executes a plan: `after` is the task planned just before `task`
        on the same PE (once it has started, the PE runs it first, so `task` also starts after
        it finished, as DS3 checks). It may be called before `task` is bound, or again later to
        re-link it, as when a new job is planned into a gap before it.
        """
        old = task.after
        task.after = after
        if task.pe < 0 or task.start >= 0:
            return  # unbound: checked when bound; started: nothing left to constrain
        held = self._held.get(old.uid) if old is not None else None
        if held is not None and task in held:
            held.remove(task)
            if not held:
                del self._held[old.uid]  # type: ignore[union-attr]
        else:
            self.pe_queue[task.pe].remove((task.job.id, task.seq, task))
        self._enqueue(task)

    def _release(self, started: TaskRun) -> None:
        """Queue the tasks held on `started`; a PE other than its own is examined at once."""
        for task in self._held.pop(started.uid, ()):
            self._enqueue(task)
            if task.pe != started.pe:  # its own PE is busy now and re-examined when it frees
                self._push(self.now, WAKE, task.pe)

    def assign_all(self, assignments: Sequence[tuple[TaskRun, int]]) -> None:
        for task, pe in assignments:
            self.assign(task, pe)

    def _start_ready_pes(self) -> None:
        """Start, on every idle PE touched this instant, the first queued task whose data arrived."""
        now = self.now
        for pe in sorted(self._dirty):
            if self.pe_running[pe] is not None:
                continue
            queue = self.pe_queue[pe]
            if not queue:
                continue
            earliest = INF
            for k, (_, _, task) in enumerate(queue):
                if task.data_at <= now:
                    del queue[k]
                    self._start(task, pe)
                    break
                if task.data_at < earliest:
                    earliest = task.data_at
            else:
                if earliest < self._pe_wake[pe] or self._pe_wake[pe] <= now:
                    self._pe_wake[pe] = earliest
                    self._push(earliest, WAKE, pe)
        self._dirty.clear()

    def _start(self, task: TaskRun, pe: int) -> None:
        now = self.now
        task.start = now
        duration = task.expected
        if self._exec_noise:
            cluster = int(self.pe_cluster[pe])
            k = 0
            for m in self._exec_noise:
                z = 0.0
                if m.uses_draw:
                    z = float(task.job.z[k][task.index])
                    k += 1
                duration = m.apply(duration, z, cluster, now, pe)
        task.duration = duration
        self.pe_running[pe] = task
        if self._held:
            self._release(task)
        if self.dvfs is not None:  # times the task at the cluster's frequency, owns its completion
            self.dvfs.start(task, pe, now, duration)
            return
        finish = now + duration
        if self.meter is not None:
            self.meter.start(pe, now, finish)
        if self.config.ds3_event_order and completes_after_tick(now, finish):
            self._push(finish + 1, DONE, task, DEFERRED)
        else:
            self._push(finish, DONE, task)

    # -------------------------------------------------------------- stepping
    def _pop_instant(self, t: float) -> None:
        """Process every event due at `t` (both bindings share this)."""
        heap = self._heap
        while heap and heap[0][0] == t:
            _, _, _, kind, payload = heapq.heappop(heap)
            if kind == DONE:
                self._on_done(payload)  # type: ignore[arg-type]
            elif kind == ARRIVAL:
                self._on_arrival_event(payload)  # type: ignore[arg-type]
            elif kind == RELEASE:
                self.ready.extend(payload)  # type: ignore[arg-type]
            elif kind > RELEASE:
                self.dvfs.handle(kind, payload)  # type: ignore[union-attr]
            else:
                pe = payload  # type: ignore[assignment]
                if self._pe_wake[pe] == t:
                    self._pe_wake[pe] = INF
                self._dirty.add(pe)  # type: ignore[arg-type]

    def advance(self) -> bool:
        """Run until ready tasks await a decision (True) or the run is over (False).

        If tasks are still ready from the previous call, returns True at once: bind them first.
        """
        if self.ready:
            return True
        if self.finished:
            return False
        self._start_ready_pes()
        heap = self._heap
        while heap:
            t = heap[0][0]
            if t > self.end_time:
                break
            self.now = t
            self._pop_instant(t)
            if self.ready:
                self.decisions += 1
                return True
            self._start_ready_pes()
        self._finish()
        return False

    def _assign_late(self, task: TaskRun, pe: int) -> None:
        """Late binding: bind a ready task to a *free* PE only (nothing running, nothing bound)."""
        p = int(pe)
        if 0 <= p < self.n_pes and (self.pe_running[p] is not None or self.pe_queue[p]):
            raise SchedulerError(f"{task!r} bound to PE {self.soc.pe_names[p]}, which is not free: "
                                 "late binding binds only to PEs with nothing running or bound")
        Simulation.assign(self, task, p)

    def _advance_late(self) -> bool:
        """Late binding: run to the next decision point (True) or the end (False).

        Always moves past the current instant first: whatever the scheduler left unbound waits for
        an event (a completion, an arrival, data reaching a PE) to change the state.
        """
        if self.finished:
            return False
        self._start_ready_pes()
        heap = self._heap
        while heap:
            t = heap[0][0]
            if t > self.end_time:
                break
            self.now = t
            self._pop_instant(t)
            self._start_ready_pes()
            if self.has_decision():
                self.decisions += 1
                return True
        if self.ready and not heap:
            raise SchedulerError(
                f"late binding: {len(self.ready)} ready task(s) left unbound with nothing running, "
                f"bound or arriving at t={self.now:g}: the scheduler must bind when it alone can "
                f"advance time ({self.ready[:3]})"
            )
        self._finish()
        return False

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        # A run limited by jobs ends at its last completion (deferred DS3 events may have moved
        # `now` one microsecond past it); a timed run at its duration.
        end = self.end_time if self.end_time != INF else self.last_finish
        self.now = end
        for task in self.pe_running:  # busy time of tasks still running at the end
            if task is not None:
                self.busy_us[task.pe] += max(0.0, end - max(task.start, self.warmup))
        if self.meter is not None:
            self.meter.close()

    def run(self, scheduler) -> SimResult:
        """Run to the end with `scheduler` (an object implementing `Scheduler`)."""
        from dssoc.metrics import SimResult
        from dssoc.schedulers.base import check_binding

        check_binding(scheduler, self.config.binding)
        scheduler.reset(self, self.scheduler_rng)
        if self.on_arrival is None and type(scheduler).on_job_arrival is not _base_on_arrival():
            self.on_arrival = lambda job: scheduler.on_job_arrival(job, self)
        schedule = scheduler.schedule
        assign = self.assign
        if self.config.binding == "late":
            while self.advance():
                for task, pe in schedule(list(self.ready), self):
                    assign(task, pe)
            return SimResult.from_simulation(self, scheduler)
        while self.advance():
            for task, pe in schedule(list(self.ready), self):
                assign(task, pe)
            if self.ready:
                raise SchedulerError(
                    f"scheduler {scheduler.name} left {len(self.ready)} ready task(s) unbound: "
                    f"{self.ready[:3]}"
                )
        return SimResult.from_simulation(self, scheduler)

    # ------------------------------------------------------------ system view
    def exec_times(self, task: TaskRun) -> np.ndarray:
        return task.job.app.exec_pe[task.index]

    def transfer_times(self, volume: float, src_pe: int) -> np.ndarray:
        key = (volume, src_pe)
        row = self._transfer_rows.get(key)
        if row is None:
            row = np.asarray(transfer_time(volume, self.pe_bandwidth[src_pe], self.config.integer_times))
            row.setflags(write=False)
            self._transfer_rows[key] = row
        return row

    def data_ready_times(self, task: TaskRun) -> np.ndarray:
        cached = task.dr_cache
        if cached is not None:
            return cached
        app = task.job.app
        preds = app.preds[task.index]
        if not preds:
            out = np.full(self.n_pes, self.now)
        else:
            tasks = task.job.tasks
            out = None
            for p, vol in zip(preds, app.volumes[task.index], strict=True):
                pt = tasks[p]
                arrival = pt.finish + self.transfer_times(vol, pt.pe)  # a new array
                if out is None:
                    out = arrival
                else:
                    np.maximum(out, arrival, out=out)
        out.setflags(write=False)  # shared with the scheduler and reused when binding
        task.dr_cache = out
        return out

    def pe_idle(self) -> np.ndarray:
        return np.array([r is None for r in self.pe_running])

    def pe_expected_free(self) -> np.ndarray:
        now = self.now
        return np.array(
            [now if r is None else max(now, r.start + r.expected) for r in self.pe_running]
        )

    def pe_queue_lengths(self) -> np.ndarray:
        lengths = np.array([len(q) for q in self.pe_queue])
        for held in self._held.values():  # bound tasks waiting for their plan predecessor
            for task in held:
                lengths[task.pe] += 1
        return lengths

    def request_opp(self, cluster: int, level: int) -> None:
        """Ask for operating point `level` (index into the cluster's OPPs, 0 = slowest) on
        `cluster` from the next sampling instant: the cluster leaves its governor (an agent or a
        DVFS-aware scheduler owns it). Builds the DVFS controller if the run had none."""
        self.enable_dvfs().set_policy_level(cluster, level, self.now)

    def enable_dvfs(self) -> DvfsController:
        """The run's DVFS controller, built now if every cluster was at `performance`. It must
        exist before the first task starts (it times every task it may later rescale)."""
        if self.dvfs is None:
            if any(t is not None for t in self.pe_running) or self.tasks_done:
                raise SchedulerError("DVFS must be enabled before the first task starts: call "
                                     "enable_dvfs() (or request_opp) from reset() or at time 0")
            self.dvfs = DvfsController(self, self.config.throttling)
        return self.dvfs

    def pe_slowdown(self) -> np.ndarray:
        """f_max / f of every PE's cluster now (all ones at the performance governor)."""
        if self.dvfs is None:
            return np.ones(self.n_pes)
        return np.asarray(self.dvfs.ratio)[self.pe_cluster]

    def pe_power_w(self) -> np.ndarray:
        """Power (W) of one busy core of every PE at its cluster's current operating point
        (dssoc.energy.busy_core_power_w): a task's energy estimate is this times its time."""
        levels = None if self.dvfs is None else tuple(self.dvfs.level)
        cache = self._power_cache
        row = cache.get(levels)
        if row is None:
            from dssoc.energy import busy_core_power_w

            opps = None if self.dvfs is None else [
                o[lv] if o else None for o, lv in zip(self.dvfs.opps, self.dvfs.level, strict=True)]
            row = cache[levels] = np.asarray(busy_core_power_w(self.soc, opps))[self.pe_cluster]
            row.setflags(write=False)
        return row

    def result(self, scheduler_name: str = "") -> SimResult:
        from dssoc.metrics import SimResult

        return SimResult.from_simulation(self, scheduler_name)


def _base_on_arrival():
    from dssoc.schedulers.base import Scheduler

    return Scheduler.on_job_arrival
