"""Insertion-based list planning shared by the whole-job planners (HEFT, PEFT, CPOP).

A `PlanBook` holds the planned busy intervals of every PE; `plan_job` walks a DAG's tasks in
priority order (highest first among the tasks whose predecessors are planned) and places each
on a PE chosen from its insertion-based earliest start/finish times (Topcuoglu et al. 2002,
section 4.1). `WholeJobPlanner` is the DS3 semantics: plan a job when it arrives, inserted
into the plans of earlier jobs, and bind each task to its planned PE once it is ready.

`PlanOrder` makes the engine *execute* a plan: each task is held until the task planned just
before it on its PE has started (DS3's and gym-ds3's dynamic dependencies), so a low-priority
task that happens to be ready early cannot take the slot the plan kept for another. Plan order
is kept across jobs: a later job planned into a gap before an earlier job's task is put before
it in the order too. It cannot deadlock: every wait (on a plan predecessor or on an input) is on
a task of smaller (planned start, planned finish, planning order), so the smallest unstarted
task can always go.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from dssoc.errors import SchedulerError
from dssoc.model import transfer_time
from dssoc.schedulers.base import Assignment, Scheduler
from dssoc.schedulers.ranks import Dag
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import CompiledApp, JobRun, TaskRun

Transfer = Callable[[float, int], np.ndarray]  # (volume, source PE) -> time to every PE
Chooser = Callable[[int, np.ndarray, np.ndarray], int]  # (task, starts, finishes) -> PE


class PlannableDag(Dag, Protocol):
    exec_pe: np.ndarray  # expected time of each task on each PE, inf where unsupported


def bandwidth_transfer(pe_bandwidth: np.ndarray, integer_times: bool = True) -> Transfer:
    """Transfer times from a PE bandwidth matrix, truncated to whole µs like DS3 if asked."""

    def transfer(volume: float, src_pe: int) -> np.ndarray:
        return np.asarray(transfer_time(volume, pe_bandwidth[src_pe], integer_times))

    return transfer


class PlanBook:
    """Planned busy intervals `[start, end)` of every PE, sorted and non-overlapping.

    A 0 µs task is booked as the instant `[start, start]` (`instants`, the default): the engine
    runs one task at a time even for 0 µs, so no task may be planned across it, or the plan could
    not run as planned. `instants=False` lets such tasks occupy nothing, as before plans were
    executed (kept by the `-wc` variants so that their schedules stay what they were).
    """

    def __init__(self, n_pes: int, instants: bool = True) -> None:
        self.busy: list[list[tuple[float, float]]] = [[] for _ in range(n_pes)]
        self.instants = instants

    def prune(self, now: float) -> None:
        """Forget intervals that ended by `now`; they can no longer delay anything."""
        for k, iv in enumerate(self.busy):
            if iv and iv[0][1] <= now:
                self.busy[k] = [x for x in iv if x[1] > now]

    def earliest_slot(self, pe: int, ready_time: float, duration: float) -> float:
        """Earliest start >= ready_time of an idle gap of `duration` on `pe` (insertion policy)."""
        start = ready_time
        for s, e in self.busy[pe]:
            if start + duration <= s:
                break
            if e > start:
                start = e
        return start

    def reserve(self, pe: int, start: float, end: float, what: object = "task") -> None:
        """Book `[start, end)` on `pe` (an instant if empty, see `instants`); raises if it overlaps
        an earlier booking."""
        if end <= start and not self.instants:
            return
        iv = self.busy[pe]
        k = bisect_left(iv, (start, end))
        if (k > 0 and iv[k - 1][1] > start) or (k < len(iv) and iv[k][0] < end):
            near = iv[max(k - 1, 0):k + 1]
            raise SchedulerError(
                f"planning {what} on PE {pe} at [{start:g}, {end:g}) overlaps the bookings {near}"
            )
        insort(iv, (start, end))


@dataclass(frozen=True)
class JobPlan:
    """Where and when every task of one job is planned to run (absolute µs)."""

    pe: tuple[int, ...]
    start: tuple[float, ...]
    finish: tuple[float, ...]
    order: tuple[int, ...]  # the order in which the tasks were planned

    @property
    def makespan(self) -> float:
        """Planned finish of the last task."""
        return max(self.finish)


def min_finish(task: int, start: np.ndarray, finish: np.ndarray) -> int:
    """HEFT's processor selection: the PE of minimum earliest finish time (first on ties)."""
    return int(np.argmin(finish))


def plan_job(
    app: PlannableDag,
    priority: Sequence[float] | np.ndarray,
    pe_bandwidth: np.ndarray,
    *,
    book: PlanBook | None = None,
    now: float = 0.0,
    transfer: Transfer | None = None,
    choose: Chooser = min_finish,
) -> JobPlan:
    """Plan every task of `app` into `book` (default: idle PEs): repeatedly take the
    highest-priority task whose predecessors are planned (lowest index on ties), compute its
    insertion-based start and finish on every PE, and reserve the PE picked by `choose`.
    Transfers default to DS3's truncated volume / bandwidth."""
    book = PlanBook(pe_bandwidth.shape[0]) if book is None else book
    transfer = bandwidth_transfer(pe_bandwidth) if transfer is None else transfer
    exec_pe = app.exec_pe
    n = app.n
    pe = [-1] * n
    start = [0.0] * n
    finish = [0.0] * n
    order: list[int] = []
    left = [len(p) for p in app.preds]
    # Priorities rounded to 9 decimals so that float noise in equal ranks (80 vs
    # 80.00000000000001) does not override the lowest-index tie-break.
    key = [-round(float(p), 9) for p in priority]
    heap = [(key[i], i) for i in range(n) if left[i] == 0]
    heapq.heapify(heap)
    n_pes = exec_pe.shape[1]
    while heap:
        _, t = heapq.heappop(heap)
        ready = np.full(n_pes, float(now))
        for p, vol in zip(app.preds[t], app.volumes[t], strict=True):
            np.maximum(ready, finish[p] + transfer(vol, pe[p]), out=ready)
        w = exec_pe[t]
        starts = np.full(n_pes, np.inf)
        for k in np.flatnonzero(np.isfinite(w)):
            starts[k] = book.earliest_slot(int(k), float(ready[k]), float(w[k]))
        finishes = starts + w
        q = choose(t, starts, finishes)
        if not np.isfinite(finishes[q]):
            raise SchedulerError(f"task {t} was planned on PE {q}, which cannot run it")
        pe[t], start[t], finish[t] = q, float(starts[q]), float(finishes[q])
        book.reserve(q, start[t], finish[t], what=f"task {t}")
        order.append(t)
        for s in app.succs[t]:
            left[s] -= 1
            if left[s] == 0:
                heapq.heappush(heap, (key[s], s))
    if len(order) != n:
        raise SchedulerError(f"planned {len(order)} of {n} tasks: the graph has a cycle")
    return JobPlan(tuple(pe), tuple(start), tuple(finish), tuple(order))


class PlanOrder:
    """The planned order of the not yet started tasks on every PE, handed to the engine as each
    task's plan predecessor (`SimView.hold_after`)."""

    def __init__(self, n_pes: int) -> None:
        self._keys: list[list[tuple[float, float, int]]] = [[] for _ in range(n_pes)]
        self._tasks: list[list[TaskRun]] = [[] for _ in range(n_pes)]
        self._count = 0

    def insert(self, task: TaskRun, pe: int, start: float, finish: float, system: SimView) -> None:
        """Put `task`, planned on `pe` over `[start, finish)`, into that PE's order: it waits for
        the task planned before it, and the task planned after it now waits for it."""
        keys, tasks = self._keys[pe], self._tasks[pe]
        done = 0  # started tasks form a prefix: each waits for the one before it
        while done < len(tasks) and tasks[done].start >= 0:
            done += 1
        if done:
            del keys[:done], tasks[:done]
        self._count += 1
        key = (start, finish, self._count)
        k = bisect_right(keys, key)
        keys.insert(k, key)
        tasks.insert(k, task)
        system.hold_after(task, tasks[k - 1] if k else None)
        if k + 1 < len(tasks):
            system.hold_after(tasks[k + 1], task)


class WholeJobPlanner(Scheduler):
    """DS3 semantics for static planners: plan the whole job at its arrival into the existing
    per-PE plans; bind each ready task to its planned PE, earliest planned start first, and
    (unless `follow_plan` is off: the work-conserving `-wc` variants) run each PE's tasks in
    planned order.

    The plans are the planner's own state (`plans`, by job id, kept until the job's last task
    is bound); the engine only hears of plan predecessors (`SimView.hold_after`)."""

    follow_plan: ClassVar[bool] = True
    observes_arrivals = True

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        self.book = PlanBook(system.n_pes, instants=self.follow_plan)
        self.order = PlanOrder(system.n_pes)
        self._per_app: dict[int, Any] = {}
        self.plans: dict[int, JobPlan] = {}
        self._unbound: dict[int, int] = {}  # job id -> tasks of its plan not bound yet

    def plan(self, app: CompiledApp, system: SimView) -> JobPlan:
        """Plan one job of `app` into `self.book` at `system.now`."""
        raise NotImplementedError

    def per_app(self, app: CompiledApp, compute: Callable[[], Any]) -> Any:
        """`compute()` once per application of the run (ranks, tables), then from the cache."""
        value = self._per_app.get(app.index)
        if value is None:
            value = self._per_app[app.index] = compute()
        return value

    def on_job_arrival(self, job: JobRun, system: SimView) -> None:
        self.book.prune(system.now)
        plan = self.plan(job.app, system)
        self.plans[job.id] = plan
        self._unbound[job.id] = job.app.n
        for i in plan.order:
            task = job.tasks[i]
            system.note_planned_start(task, plan.start[i])
            if self.follow_plan:
                self.order.insert(task, plan.pe[i], plan.start[i], plan.finish[i], system)

    def schedule(self, ready: Sequence[TaskRun], system: SimView) -> list[Assignment]:
        plans = self.plans
        for task in ready:
            if task.job.id not in plans:  # driven without the arrival hook: plan on first sight
                self.on_job_arrival(task.job, system)
        ordered = sorted(ready, key=lambda t: plans[t.job.id].start[t.index])
        out = [(t, plans[t.job.id].pe[t.index]) for t in ordered]
        unbound = self._unbound
        for t in ordered:  # forget a job's plan once all its tasks are bound
            jid = t.job.id
            unbound[jid] -= 1
            if not unbound[jid]:
                del unbound[jid], plans[jid]
        return out


class ListPlanner(WholeJobPlanner):
    """A list planner as two components, after SAGA's parametric schedulers: a task
    *priority* (computed once per application, with any data the choice needs) and a
    *processor choice* over the insertion-based starts and finishes (default: minimum finish
    time, HEFT's). HEFT, PEFT and CPOP are a few lines each on it; `plan_one` plans a job
    outside a simulation (tests, notebooks)."""

    def ranking(self, app: PlannableDag, pe_bandwidth: np.ndarray) -> tuple[np.ndarray, Any]:
        """(priority of every task, data for `chooser`) of one application."""
        raise NotImplementedError

    def chooser(self, data: Any) -> Chooser:
        """The processor choice, given `ranking`'s data."""
        return min_finish

    def plan(self, app: CompiledApp, system: SimView) -> JobPlan:
        bw = system.pe_bandwidth
        priority, data = self.per_app(app, lambda: self.ranking(app, bw))
        return plan_job(app, priority, bw, book=self.book, now=system.now,
                        transfer=system.transfer_times, choose=self.chooser(data))

    @classmethod
    def plan_one(cls, app: PlannableDag, pe_bandwidth: np.ndarray, *, book: PlanBook | None = None,
                 now: float = 0.0, transfer: Transfer | None = None) -> JobPlan:
        """This planner's plan of one job (into `book`, else onto idle PEs); transfers default to
        DS3's truncated volume / bandwidth."""
        planner = cls()
        priority, data = planner.ranking(app, pe_bandwidth)
        return plan_job(app, priority, pe_bandwidth, book=book, now=now, transfer=transfer,
                        choose=planner.chooser(data))

