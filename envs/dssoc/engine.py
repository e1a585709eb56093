"""The event-driven simulation engine (DS3 semantics, no per-microsecond tick).

Life cycle of a task (domain.md section 2): on injection, tasks without predecessors are *ready*;
when a task finishes, successors whose predecessors are all done become ready. Whenever tasks are
ready, the scheduler binds all of them to PEs (early binding). A bound task waits in its PE's queue,
ordered by job id (older jobs first, stable), until its data has arrived and its PE is free.
A scheduler that plans may also give a task a *plan predecessor* (`Simulation.hold_after`): the
task is then held out of its PE's queue until that predecessor has started (DS3's and gym-ds3's
"dynamic dependencies", domain.md section 5), so a PE runs its plan in planned order.

Events are `(time, priority, seq, kind, payload)` tuples on a heap: `priority` puts DS3's deferred
events (below) first at their instant, and `seq` is the creation counter, so events at the same
instant and priority run in creation order, as in SimPy (which DS3 uses). At each instant the engine
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

Around the loop (each in its own module): the records it moves (`dssoc.runtime`), the read-only
view schedulers get (`dssoc.view.SimView`, queries in `dssoc.live`), the arrival processes
(`dssoc.arrivals`), and the observers of its events (`dssoc.observers`: metric accumulators,
energy meter, traces, and the arrival hooks of the schedulers that ask for them).
"""

from __future__ import annotations

import copy
import heapq
from bisect import insort
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dssoc.arrivals import make_arrival_process
from dssoc.checks import seed as check_seed
from dssoc.config import SimConfig
from dssoc.dvfs import DvfsController, needs_controller
from dssoc.errors import ConfigError, SchedulerError
from dssoc.live import LiveCache, LiveState
from dssoc.noise import noise_runtime
from dssoc.observers import (
    EVENTS,
    EnergyRecorder,
    Observer,
    RecordedRun,
    RunRecorder,
    TraceRecorder,
    fanout,
)
from dssoc.runtime import (
    ARRIVAL,
    DEFERRED,
    DONE,
    INF,
    NORMAL,
    RELEASE,
    WAKE,
    CompiledApp,
    JobRun,
    TaskRun,
    completes_after_tick,
)

if TYPE_CHECKING:
    from dssoc.energy import PowerModel
    from dssoc.metrics import SimResult
    from dssoc.schedulers.base import Scheduler


class Simulation(LiveState, RecordedRun):
    """One seeded run of a `SimConfig`, implementing `dssoc.view.SimDriver`. Drive it with
    `run(scheduler)` or step-wise with `advance()` / `assign()` (the Gymnasium environments do the
    latter); observe it with `attach(observer)` / `subscribe(event, fn)` (`dssoc.observers`)."""

    def __init__(self, config: SimConfig, seed: int = 0, *, trace: bool = False,
                 on_arrival: Callable[[JobRun], None] | None = None) -> None:
        if not isinstance(config, SimConfig):
            raise ConfigError(f"expected a SimConfig, got {type(config).__name__}", "config")
        self.config = config
        self.seed = seed = check_seed(seed)
        self.soc = soc = config.soc
        self.n_pes = soc.n_pes
        self.pe_cluster = soc.pe_cluster
        self.pe_bandwidth = soc.pe_bandwidth
        self._transfer_rows: dict[tuple[float, int], np.ndarray] = {}
        self.apps = [CompiledApp(i, a, soc, config.deadline_factor)
                     for i, a in enumerate(config.workload.applications)]
        arrival_ss, app_ss, noise_ss, sched_ss = np.random.SeedSequence(seed).spawn(4)
        self.arrival_rng = np.random.default_rng(arrival_ss)
        self.app_rng = np.random.default_rng(app_ss)
        self._arrivals = make_arrival_process(config, seed, self.arrival_rng, self.app_rng)
        self.noise_rng = np.random.default_rng(noise_ss)
        self.scheduler_rng = np.random.default_rng(sched_ss)
        self._exec_noise = noise_runtime(config.noise, noise_ss, soc)
        self._drawn_noise = [m for m in self._exec_noise if m.uses_draw]
        self.trace_enabled = trace

        self.now = 0.0
        self._heap: list[tuple[float, float, int, int, Any]] = []  # (t, prio, order, kind, payload)
        self._seq = 0
        self.ready: list[TaskRun] = []
        self.pe_running: list[TaskRun | None] = [None] * self.n_pes
        self.pe_queue: list[list[tuple[int, int, TaskRun]]] = [[] for _ in range(self.n_pes)]
        self._pe_wake = [INF] * self.n_pes
        self._dirty: set[int] = set()
        self._held: dict[int, list[TaskRun]] = {}  # plan predecessor uid -> bound tasks held on it
        self._task_uid = 0
        self.jobs_in_flight = self.jobs_injected = self.tasks_done = self.decisions = 0
        self._blocked_arrival = self._generator_behind = self.finished = False
        self._arrivals_open = True
        self.end_time = config.duration_us if config.duration_us is not None else INF
        self.warmup = config.warmup_us
        self.active_jobs: dict[int, JobRun] = {}
        self.last_finish = 0.0

        self._attach_builtin_observers(trace, on_arrival)
        # DVFS (dssoc.dvfs): only consulted when some cluster is not at `performance`
        self._power_cache: dict[tuple[int, ...] | None, np.ndarray] = {}
        if needs_controller(soc, config.throttling):
            self._set_dvfs(DvfsController(self, config.throttling))

        self._live = LiveCache(self.apps)
        if config.binding == "late":  # per-instance swap: the early path stays as it was
            self.advance = self._advance_late  # type: ignore[method-assign]
            self.assign = self._assign_late  # type: ignore[method-assign]
        self._pending_app = -1  # application of the arrival due (waiting while the system is full)
        self._schedule_arrival(self._arrivals.next_arrival(0.0))

    # --------------------------------------------------------------- observers
    def _attach_builtin_observers(self, trace: bool, on_arrival: Callable[[JobRun], None] | None) -> None:
        """Metric accumulators always; DS3's energy meter if the config asks for energy; traces
        if asked; the caller's arrival hook (the Gymnasium environments')."""
        self._subscribers: dict[str, list[Callable[[Any], None]]] = {e: [] for e in EVENTS}
        self.dvfs: DvfsController | None = None
        self.recorder = RunRecorder(self.n_pes, self.warmup, self.end_time, self.pe_running)
        self.attach(self.recorder)
        from dssoc.energy import PowerModel

        self.power: PowerModel | None = PowerModel.for_soc(self.soc) if self.config.energy else None
        self.meter = (None if self.power is None
                      else self.power.meter(self.warmup, self.config.duration_us))
        self._energy = None if self.meter is None else EnergyRecorder(self.meter)
        if self._energy is not None:
            self.attach(self._energy)
        self.tracer = TraceRecorder(self.soc) if trace else None
        if self.tracer is not None:
            self.attach(self.tracer)
        if on_arrival is not None:
            self.subscribe("arrival", on_arrival)

    def attach(self, observer: Observer) -> None:
        """Subscribe `observer` to each event in its `events` (handler `on_EVENT`)."""
        for event in observer.events:
            self.subscribe(event, getattr(observer, f"on_{event}"))

    def subscribe(self, event: str, callback: Callable[[Any], None]) -> None:
        """Call `callback` at every `event` (see `dssoc.observers`), after earlier subscribers."""
        if event not in self._subscribers:
            raise ConfigError(f"unknown event {event!r}; events: {', '.join(EVENTS)}", "subscribe")
        self._subscribers[event].append(callback)
        self._bind_events()

    def _bind_events(self) -> None:
        """One callable (or None) per event: the hot paths call it without looping."""
        subs = self._subscribers
        starts = subs["start"]
        if self.dvfs is not None and self._energy is not None:
            starts = [cb for cb in starts if cb != self._energy.on_start]  # DVFS meters its steps
        self._emit_arrival = fanout(subs["arrival"])
        self._emit_start = fanout(starts)
        self._emit_finish = fanout(subs["finish"])
        self._emit_job_done = fanout(subs["job_done"])
        self._emit_end = fanout(subs["end"])

    def _set_dvfs(self, controller: DvfsController) -> None:
        """Install the DVFS controller; it meters the steps of the tasks it times itself."""
        self.dvfs = controller
        self._bind_events()

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
            self._set_dvfs(DvfsController(self, self.config.throttling))
        assert self.dvfs is not None
        return self.dvfs

    # ------------------------------------------------------------------ events
    def _push(self, t: float, kind: int, payload: object, prio: int = NORMAL) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, kind, payload))

    def push_ordered(self, t: float, prio: float, order: int, kind: int, payload: object) -> None:
        """Queue an event whose place among equal (t, prio) events is `order`, not push order:
        the DVFS controller's completions follow DS3's order this way. `prio` must be one no
        push-ordered event uses (e.g. between the engine's integer priorities), so an `order`
        is only ever compared with other `order`s."""
        heapq.heappush(self._heap, (t, prio, order, kind, payload))

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
        for _ in self._drawn_noise:
            job.z.append(self.noise_rng.standard_normal(app.n))
        tasks = job.tasks
        for i in range(app.n):
            tasks.append(TaskRun(self._task_uid + i, job, i))
        self._task_uid += app.n
        if self._emit_arrival is not None:
            self._emit_arrival(job)
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

    def _on_done(self, task: TaskRun) -> None:
        now = task.start + task.duration  # the finish time (a deferred completion runs later)
        task.finish = now
        pe = task.pe
        self.pe_running[pe] = None
        self._dirty.add(pe)
        if now > self.last_finish:
            self.last_finish = now
        self.tasks_done += 1
        if self._emit_finish is not None:
            self._emit_finish(task)
        job = task.job
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
            job.done_at = job.last_finish
            self.jobs_in_flight -= 1
            del self.active_jobs[job.id]
            if self._emit_job_done is not None:
                self._emit_job_done(job)
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
        task.pe = pe
        task.bound_at = self.now
        task.expected = float(expected)
        job = task.job
        cached = task.dr_cache
        # data-ready time on `pe`: the scheduler's cached row if it computed one, else per input
        task.data_at = float(cached[pe]) if cached is not None else self._data_at(task, pe)
        self._seq += 1
        task.seq = self._seq
        after = task.after
        if after is None or after.start >= 0:  # inlined `_enqueue`: this is the hot path
            insort(self.pe_queue[pe], (job.id, self._seq, task))
            self._dirty.add(pe)
        else:
            self._held.setdefault(after.uid, []).append(task)

    def _data_at(self, task: TaskRun, pe: int) -> float:
        """When the inputs of `task` are on `pe` (now for a task without predecessors)."""
        job = task.job
        app = job.app
        preds = app.preds[task.index]
        if not preds:
            return self.now
        tasks = job.tasks
        data_at = -INF
        for p, vol in zip(preds, app.volumes[task.index], strict=True):
            pt = tasks[p]
            t = pt.finish + float(self.transfer_times(vol, pt.pe)[pe])
            if t > data_at:
                data_at = t
        return data_at

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
        duration = task.duration = self._actual_duration(task, pe, now)
        self.pe_running[pe] = task
        if self._held:
            self._release(task)
        if self.dvfs is not None:  # times the task at the cluster's frequency, owns its completion
            self.dvfs.start(task, pe, now, duration)
            return
        if self._emit_start is not None:
            self._emit_start(task)
        self._push_done(task)

    def _actual_duration(self, task: TaskRun, pe: int, start: float) -> float:
        """The noisy actual duration of `task` started at `start` on `pe` (its job's draws)."""
        duration = task.expected
        if self._exec_noise:
            cluster = int(self.pe_cluster[pe])
            k = 0
            for m in self._exec_noise:
                z = 0.0
                if m.uses_draw:
                    z = float(task.job.z[k][task.index])
                    k += 1
                duration = m.apply(duration, z, cluster, start, pe)
        return duration

    def _push_done(self, task: TaskRun) -> None:
        """Queue the completion of a started task (deferred as DS3 would, see the module doc)."""
        finish = task.start + task.duration
        if self.config.ds3_event_order and completes_after_tick(task.start, finish):
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
                self._on_done(payload)
            elif kind == ARRIVAL:
                self._on_arrival_event(payload)
            elif kind == RELEASE:
                self.ready.extend(payload)
            elif kind > RELEASE:
                self.dvfs.handle(kind, payload)  # type: ignore[union-attr]
            else:
                if self._pe_wake[payload] == t:
                    self._pe_wake[payload] = INF
                self._dirty.add(payload)

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
        if self._emit_end is not None:
            self._emit_end(end)

    # ------------------------------------------------------------- snapshots
    def __deepcopy__(self, memo: dict[int, Any]) -> Simulation:
        """An independent copy of the run at this instant (`copy.deepcopy(sim)`): driven with the
        same scheduler it continues exactly as the original would. The run's constants (config,
        SoC, compiled applications, per-application caches, the transfer-time cache) are shared,
        not copied; observers (recorders, meters) are copied and re-wired to the copy. Callbacks
        subscribed as plain functions (not an observer's bound methods) are shared as they are."""
        for const in (self.config, self.soc, self.pe_cluster, self.pe_bandwidth, self._live,
                      self._transfer_rows, self.power, *self.apps):
            memo.setdefault(id(const), const)
        twin = object.__new__(type(self))
        memo[id(self)] = twin
        for key, value in self.__dict__.items():
            twin.__dict__[key] = copy.deepcopy(value, memo)
        twin._bind_events()  # the fan-out closures still called the original's observers
        return twin

    def resample_future(self, rng: np.random.Generator) -> None:
        """Replace what the run has drawn but not yet revealed by fresh draws from `rng`, so a
        copy (`copy.deepcopy`) continues on a *sampled* future instead of the true one.

        Re-drawn: the arrival and application-mix streams and the pending arrival (Poisson
        arrivals are memoryless, so the next one is now + a fresh gap); the noise stream (jobs
        injected later); the noise draws of every task of an in-flight job that has not started;
        and the actual duration of every running task, conditioned on its elapsed time (what an
        online observer knows). Left as drawn: the timelines of stateful noise models
        (`persistent`, `correlated`), DS3-stream arrivals, and running tasks under DVFS.
        """
        from dssoc.arrivals import DS3Arrivals, FixedRateArrivals, PoissonArrivals

        for gen in (self.arrival_rng, self.app_rng, self.noise_rng):
            gen.bit_generator.state = np.random.default_rng(rng.integers(2**63)).bit_generator.state
        for job in self.active_jobs.values():
            if job.z:
                todo = [t.index for t in job.tasks if t.start < 0]
                for z in job.z:
                    z[todo] = rng.standard_normal(len(todo))
        now = self.now
        redrawn: set[int] = set()
        if self.dvfs is None and self._drawn_noise:
            for task in self.pe_running:
                if task is None or task.start + task.duration <= now:
                    continue  # a completion due now (deferred) is already revealed
                elapsed = now - task.start
                for _ in range(64):  # rejection: durations the task has already outlived are out
                    for z in task.job.z:
                        z[task.index] = rng.standard_normal()
                    duration = self._actual_duration(task, task.pe, task.start)
                    if duration > elapsed:
                        break
                else:
                    duration = elapsed + 1.0
                task.duration = duration
                redrawn.add(id(task))
        arrivals = self._arrivals
        resample_arrival = (isinstance(arrivals, PoissonArrivals)
                            and not isinstance(arrivals, (FixedRateArrivals, DS3Arrivals)))
        had_arrival = resample_arrival and any(e[3] == ARRIVAL for e in self._heap)
        kept = [e for e in self._heap
                if not ((e[3] == DONE and id(e[4]) in redrawn) or (e[3] == ARRIVAL and had_arrival))]
        heapq.heapify(kept)
        self._heap = kept
        for task in self.pe_running:
            if task is not None and id(task) in redrawn:
                self._push_done(task)
        if had_arrival:
            nxt = arrivals.next_arrival(now)
            if nxt is None:
                self._arrivals_open = False
            else:
                self._push(nxt[0], ARRIVAL, nxt[1])

    def run(self, scheduler: Scheduler) -> SimResult:
        """Run to the end with `scheduler` (an object implementing `Scheduler`)."""
        episode = self._episode(scheduler, stepwise=False)
        try:
            next(episode)  # runs to the end: nothing yields without stepwise decisions
        except StopIteration as end:
            return end.value
        raise AssertionError("a run without stepwise decisions yielded")

    def steps(self, scheduler: Any) -> Generator[Any, Any, SimResult]:
        """`run` as a coroutine, for a scheduler that decides stepwise (a `decisions(ready,
        system)` generator, as the policy schedulers of `dssoc.env` have): yields every
        observation its policy is asked about, takes the action sent back, and returns the
        result; the same run as `run`. `dssoc.env.simulate_lockstep` steps several together."""
        return self._episode(scheduler, stepwise=True)

    def _episode(self, scheduler: Any, stepwise: bool) -> Generator[Any, Any, SimResult]:
        """The run loop of `run` and `steps` (one loop: the two cannot drift apart)."""
        from dssoc.metrics import SimResult
        from dssoc.schedulers.base import check_binding

        check_binding(scheduler, self.config.binding)
        scheduler.reset(self, self.scheduler_rng)
        if scheduler.observes_arrivals:  # explicit opt-in (planners, policy adapters)
            self.subscribe("arrival", lambda job: scheduler.on_job_arrival(job, self))
        schedule = scheduler.decisions if stepwise else scheduler.schedule
        assign = self.assign
        late = self.config.binding == "late"
        while self.advance():
            ready = list(self.ready)
            for task, pe in ((yield from schedule(ready, self)) if stepwise
                             else schedule(ready, self)):
                assign(task, pe)
            if self.ready and not late:
                raise SchedulerError(
                    f"scheduler {scheduler.name} left {len(self.ready)} ready task(s) unbound: "
                    f"{self.ready[:3]}"
                )
        return SimResult.from_simulation(self, scheduler)

    def result(self, scheduler_name: str = "") -> SimResult:
        """The metrics of the run so far (`dssoc.metrics.SimResult`)."""
        from dssoc.metrics import SimResult

        return SimResult.from_simulation(self, scheduler_name)
