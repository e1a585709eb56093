"""The engine's implementation of `dssoc.view.SimView`: expected times, transfers, data-ready
times, and the live system state (what is running, what is queued, what is left of each job).

DS3's heuristics keep their own per-PE estimate (`available_time`, the planned finish of the last
task given to a PE), which real completions never correct. The methods here read the engine's
actual state instead, with *expected* durations only (a scheduler never sees the noisy actual
ones), and are available under both bindings:

- per PE: the running task, its elapsed time and expected remaining time (0 once it overran its
  expectation), the expected work bound to it and waiting, whether it is free (nothing running,
  nothing bound), and the live availability (when it is expected to have finished everything
  bound to it);
- per job: remaining critical path (expected), age, tasks done;
- per (ready task, PE): the data-ready time (`Simulation.data_ready_times`).

`LiveState` is a mixin of `dssoc.engine.Simulation`; it only reads the engine's fields (the
engine itself answers the requests that change something: `hold_after`, `request_opp`,
`enable_dvfs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dssoc.model import transfer_time
from dssoc.schedulers.ranks import mean_exec

if TYPE_CHECKING:
    from dssoc.config import SimConfig
    from dssoc.dvfs import DvfsController
    from dssoc.model import SoC
    from dssoc.runtime import CompiledApp, JobRun, TaskRun


def reverse_topological(app: CompiledApp) -> tuple[int, ...]:
    """Task indices of `app` with every task before its predecessors (Kahn on the successors)."""
    indeg = [len(app.succs[i]) for i in range(app.n)]
    stack = [i for i in range(app.n) if indeg[i] == 0]
    out: list[int] = []
    while stack:
        i = stack.pop()
        out.append(i)
        for p in app.preds[i]:
            indeg[p] -= 1
            if indeg[p] == 0:
                stack.append(p)
    return tuple(out)


def best_time_rank(app: CompiledApp) -> np.ndarray:
    """Upward rank on best-case times, no communication: best(i) + max over successors.

    `rank[i]` is the critical path from task i (included) to the job's end on the fastest PEs.
    """
    best = app.exec_pe.min(axis=1)
    rank = np.zeros(app.n)
    for i in reverse_topological(app):
        rank[i] = best[i] + max((rank[s] for s in app.succs[i]), default=0.0)
    return rank


class LiveCache:
    """Per-application constants for the live-state queries (computed once per simulation)."""

    def __init__(self, apps: list[CompiledApp]) -> None:
        # plain lists: the hot paths index them with Python ints
        self.rank = [best_time_rank(a).tolist() for a in apps]
        self.best = [a.exec_pe.min(axis=1).tolist() for a in apps]
        self.mean = [mean_exec(a.exec_pe).tolist() for a in apps]
        # bit p set when PE p supports the task: a decision-point test without numpy
        self.support_mask = [
            tuple(sum(1 << int(p) for p in np.flatnonzero(np.isfinite(a.exec_pe[i]))) for i in range(a.n))
            for a in apps
        ]


class LiveState:
    """`SimView` queries, mixed into `Simulation` (reads `now`, `pe_running`, `pe_queue`, ...)."""

    # the engine's fields the queries read (set by `Simulation.__init__`)
    now: float
    config: SimConfig
    soc: SoC
    n_pes: int
    pe_cluster: np.ndarray
    pe_bandwidth: np.ndarray
    ready: list[TaskRun]
    pe_running: list[TaskRun | None]
    pe_queue: list[list[tuple[int, int, TaskRun]]]
    active_jobs: dict[int, JobRun]
    dvfs: DvfsController | None
    tasks_done: int
    _held: dict[int, list[TaskRun]]
    _live: LiveCache
    _transfer_rows: dict[tuple[float, int], np.ndarray]
    _power_cache: dict[tuple[int, ...] | None, np.ndarray]

    # ------------------------------------------------------- expected times
    def exec_times(self, task: TaskRun) -> np.ndarray:
        """Expected execution time of `task` on every PE (inf where unsupported); read-only."""
        return task.job.app.exec_pe[task.index]

    def mean_exec_time(self, task: TaskRun) -> float:
        """Mean expected execution time of `task` over the PEs that support it."""
        return self._live.mean[task.job.app.index][task.index]

    def best_time(self, task: TaskRun) -> float:
        """Expected execution time of `task` on its fastest PE."""
        return self._live.best[task.job.app.index][task.index]

    def best_time_rank(self, task: TaskRun) -> float:
        """Critical path from `task` (included) to its job's end on the fastest PEs, no transfers."""
        return self._live.rank[task.job.app.index][task.index]

    def transfer_times(self, volume: float, src_pe: int) -> np.ndarray:
        """Time to move `volume` from `src_pe` to every PE (cached per volume and source)."""
        key = (volume, src_pe)
        row = self._transfer_rows.get(key)
        if row is None:
            row = np.asarray(transfer_time(volume, self.pe_bandwidth[src_pe], self.config.integer_times))
            row.setflags(write=False)
            self._transfer_rows[key] = row
        return row

    def data_ready_times(self, task: TaskRun) -> np.ndarray:
        """Earliest time the inputs of a *ready* task are on each PE (cached on the task, read-only)."""
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
        assert out is not None
        out.setflags(write=False)  # shared with the scheduler and reused when binding
        task.dr_cache = out
        return out

    # --------------------------------------------------------- PEs (DS3's)
    def pe_idle(self) -> np.ndarray:
        """True for PEs that run nothing right now."""
        return np.array([r is None for r in self.pe_running])

    def pe_expected_free(self) -> np.ndarray:
        """Expected time each PE finishes its running task (now if idle)."""
        now = self.now
        return np.array(
            [now if r is None else max(now, r.start + r.expected) for r in self.pe_running]
        )

    def pe_queue_lengths(self) -> np.ndarray:
        """Number of bound tasks waiting for each PE (not counting the running one)."""
        lengths = np.array([len(q) for q in self.pe_queue])
        for held in self._held.values():  # bound tasks waiting for their plan predecessor
            for task in held:
                lengths[task.pe] += 1
        return lengths

    def note_planned_start(self, task: TaskRun, start: float) -> None:
        """Record when the scheduler plans `task` to start (traces' `planned_start`, plan drift)."""
        task.planned_start = start

    # ----------------------------------------------------------------- DVFS
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

    # ------------------------------------------------------------ live state
    def pe_waiting(self) -> list[list[TaskRun]]:
        """Per PE, the bound tasks waiting for it: its queue in order, then any task held behind a
        plan predecessor that has not started yet (plan execution, early binding)."""
        return self._bound_waiting()

    def _bound_waiting(self) -> list[list[TaskRun]]:
        """Per PE, the tasks bound to it and not started: its queue in order, then any task held
        behind a plan predecessor that has not started yet (plan execution, early binding)."""
        out = [[task for _, _, task in q] for q in self.pe_queue]
        for held in self._held.values():
            for task in held:
                out[task.pe].append(task)
        return out

    # ------------------------------------------------------------------ PEs
    def pe_running_tasks(self) -> list[TaskRun | None]:
        """The task running on each PE (None if idle); a copy."""
        return list(self.pe_running)

    def pe_elapsed(self) -> np.ndarray:
        """Time the running task of each PE has run so far (0 if idle)."""
        now = self.now
        return np.array([0.0 if r is None else now - r.start for r in self.pe_running])

    def pe_expected_remaining(self) -> np.ndarray:
        """Expected time left of each PE's running task: max(start + expected - now, 0); 0 if idle."""
        now = self.now
        return np.array([0.0 if r is None else max(r.start + r.expected - now, 0.0)
                         for r in self.pe_running])

    def pe_queued_work(self) -> np.ndarray:
        """Expected execution time bound to each PE and waiting (not counting the running task)."""
        return np.array([sum(task.expected for task in q) for q in self._bound_waiting()])

    def pe_free(self) -> np.ndarray:
        """True for PEs with nothing running and nothing bound: the PEs late binding may bind to."""
        return np.array([r is None and not q for r, q in zip(self.pe_running, self._bound_waiting(),
                                                             strict=True)])

    def pe_live_available(self) -> np.ndarray:
        """When each PE is expected to have finished everything bound to it, from the live state:
        now + expected remaining of the running task, then its queue in order, each queued task
        starting no earlier than its data-ready time. `now` for a free PE."""
        now = self.now
        out = np.empty(self.n_pes)
        waiting = self._bound_waiting()
        for pe in range(self.n_pes):
            r = self.pe_running[pe]
            t = now if r is None else max(r.start + r.expected, now)
            for task in waiting[pe]:
                t = max(t, task.data_at) + task.expected
            out[pe] = t
        return out

    # ----------------------------------------------------------------- jobs
    def job_age(self, job: JobRun) -> float:
        """Time since the job arrived."""
        return self.now - job.arrival

    def job_tasks_done(self, job: JobRun) -> int:
        """Number of the job's tasks that have finished."""
        return job.app.n - job.remaining

    def jobs_remaining_critical_path(self) -> dict[int, float]:
        """Expected remaining critical path of every job in the system, by job id.

        The longest path through the job's unfinished tasks, each counted with its expected time
        left: a running task its expected remaining time, a bound task its expected time on its
        PE, an unbound task its best-case time; no communication. Every unfinished task descends
        from a *frontier* task (ready, bound or running), so the path is the max over the frontier
        of (own time left + best-time rank of its successors): O(frontier), not O(tasks).
        """
        cache = self._live
        rank, best = cache.rank, cache.best
        now = self.now
        out = dict.fromkeys(self.active_jobs, 0.0)
        # (task, its own expected time left): ready at best, running what is left, bound as bound
        frontier = [(t, best[t.job.app.index][t.index]) for t in self.ready]
        frontier += [(r, max(r.start + r.expected - now, 0.0)) for r in self.pe_running if r is not None]
        frontier += [(t, t.expected) for q in self._bound_waiting() for t in q]
        for task, own in frontier:
            a = task.job.app.index
            value = own + rank[a][task.index] - best[a][task.index]
            jid = task.job.id
            if value > out.get(jid, 0.0):
                out[jid] = value
        return out

    def job_remaining_critical_path(self, job: JobRun) -> float:
        """Expected remaining critical path of one job (see `jobs_remaining_critical_path`)."""
        return self.jobs_remaining_critical_path().get(job.id, 0.0)

    # ---------------------------------------------------------------- tasks
    def data_ready_matrix(self, tasks: list[TaskRun]) -> np.ndarray:
        """Data-ready time of each ready task (rows) on each PE (columns). Data is pushed at each
        producer's finish, so the times are known as soon as a task is ready (both bindings)."""
        if not tasks:
            return np.empty((0, self.n_pes))
        return np.array([self.data_ready_times(t) for t in tasks])

    def has_decision(self) -> bool:
        """A late-binding decision point: an unbound ready task and a free PE that can run it."""
        if not self.ready:
            return False
        free = 0
        for pe, (r, q) in enumerate(zip(self.pe_running, self.pe_queue, strict=True)):
            if r is None and not q:
                free |= 1 << pe
        if not free:
            return False
        masks = self._live.support_mask
        return any(masks[t.job.app.index][t.index] & free for t in self.ready)
