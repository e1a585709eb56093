"""Heuristics that read the live system state (`dssoc.live`), for both bindings.

- `ETF-live` (early binding): DS3's ETF, but each call starts from the live availability of every
  PE (expected finish of its running task, then its queue) instead of DS3's `available_time`,
  which real completions never correct (domain.md section 5).
- `late-ETF` (late binding): the globally earliest-finishing (task, PE) pair on live availability;
  bound if that PE is free, otherwise the task waits for it (a task binds only when no busy PE
  would finish it earlier; ties go to the free PE).
- `late-HEFT_RT` (late binding): gym-ds3's HEFT_RT order (decreasing mean execution time), each
  task with late-ETF's rule (min-finish PE on live availability; bind if free, else wait).
- `late-MET` (late binding): each ready task, oldest job first, to a free PE among its
  minimum-execution-time PEs; it waits while all of those are busy.
- `late-CP` (late binding): jobs in order of shortest expected remaining critical path, each
  job's tasks in decreasing best-time rank, each to its min-finish *free* PE (pure priority
  dispatch: never waits while a free PE can run the task, so it trades locality for priority).

Finish estimates: exec + max(data ready, now, PE live availability), with the data-ready times of
the engine's transfer model (data pushed at each producer's finish).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dssoc.schedulers.base import Assignment, Scheduler, register
from dssoc.schedulers.greedy import EarliestTaskFirst
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import TaskRun


@register("ETF-live")
class LiveEarliestTaskFirst(EarliestTaskFirst):
    """ETF (early binding) whose per-PE availability is recomputed from the live state at every
    call (`pe_live_available`), so a task that ran shorter or longer than expected corrects it."""

    binding = "early"

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        self.available = system.pe_live_available()
        return super().schedule(ready, system)


def _matrices(ready: Sequence[TaskRun], system: SimView) -> tuple[np.ndarray, np.ndarray]:
    """(exec, start) matrices over ready tasks x PEs; start = max(data ready, now)."""
    execs = np.array([system.exec_times(t) for t in ready])
    starts = np.array([system.data_ready_times(t) for t in ready])
    np.maximum(starts, system.now, out=starts)
    return execs, starts


class _LateScheduler(Scheduler):
    binding = "late"


@register("late-ETF")
class LateEarliestTaskFirst(_LateScheduler):
    """Late-binding ETF: repeatedly take the ready task whose earliest finish on a free PE is
    smallest, among the tasks no busy PE would finish earlier (those wait); bind it there; that PE
    is then busy until the planned finish. First task and first PE win ties."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        free = system.pe_free()
        if not free.any():
            return []
        execs, starts = _matrices(ready, system)
        avail = system.pe_live_available()
        finish = execs + np.maximum(starts, avail)
        busy_best = np.where(free, np.inf, finish).min(axis=1)  # best finish on a busy PE
        on_free = np.where(free, finish, np.inf)
        out: list[Assignment] = []
        alive = np.ones(len(ready), dtype=bool)
        while True:
            best_free = on_free.min(axis=1)
            ok = alive & (best_free <= busy_best) & np.isfinite(best_free)
            if not ok.any():
                return out
            i = int(np.flatnonzero(ok)[np.argmin(best_free[ok])])
            pe = int(on_free[i].argmin())
            planned = float(on_free[i, pe])
            out.append((ready[i], pe))
            alive[i] = False
            on_free[:, pe] = np.inf  # no longer free: finishing there now means after `planned`
            np.minimum(busy_best, execs[:, pe] + np.maximum(starts[:, pe], planned), out=busy_best)


@register("late-HEFT_RT")
class LateHEFTRT(_LateScheduler):
    """Late-binding HEFT_RT: ready tasks by decreasing mean execution time (stable); each to its
    min-finish PE on live availability if that PE is free (ties go to free PEs), else it waits."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        free = system.pe_free()
        if not free.any():
            return []
        avail = system.pe_live_available()
        out = []
        for task in sorted(ready, key=lambda t: -system.mean_exec_time(t)):
            start = np.maximum(system.data_ready_times(task), system.now)
            finish = system.exec_times(task) + np.maximum(start, avail)
            best_busy = float(np.where(free, np.inf, finish).min())
            on_free = np.where(free, finish, np.inf)
            pe = int(on_free.argmin())
            if np.isfinite(on_free[pe]) and on_free[pe] <= best_busy:
                out.append((task, pe))
                free[pe] = False
                avail[pe] = on_free[pe]
                if not free.any():
                    break
        return out


@register("late-MET")
class LateMinimumExecutionTime(_LateScheduler):
    """Late-binding MET: each ready task (oldest job first) to the first free PE among its
    minimum-execution-time PEs; it waits while they are all busy. Ignores communication."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        free = system.pe_free()
        out = []
        for task in sorted(ready, key=lambda t: (t.job.id, t.index)):
            times = system.exec_times(task)
            candidates = np.flatnonzero((times == times.min()) & free)
            if candidates.size:
                pe = int(candidates[0])
                out.append((task, pe))
                free[pe] = False
        return out


@register("late-CP")
class LateCriticalPath(_LateScheduler):
    """Late-binding priority dispatch: the job with the shortest expected remaining critical path
    first (ties: older job), its tasks by decreasing best-time rank, each to its min-finish free
    PE (exec + max(data ready, now)); never waits while a free PE can run the task."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        free = system.pe_free()
        if not free.any():
            return []
        remaining = system.jobs_remaining_critical_path()
        order = sorted(ready, key=lambda t: (remaining.get(t.job.id, 0.0), t.job.id,
                                             -system.best_time_rank(t), t.index))
        now = system.now
        out = []
        for task in order:
            finish = system.exec_times(task) + np.maximum(system.data_ready_times(task), now)
            finish = np.where(free, finish, np.inf)
            pe = int(finish.argmin())
            if np.isfinite(finish[pe]):
                out.append((task, pe))
                free[pe] = False
                if not free.any():
                    break
        return out
