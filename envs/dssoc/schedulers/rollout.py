"""`late-rollout`: one-step lookahead over a base late-binding rule (Bertsekas' rollout).

At each decision point the scheduler lists candidate actions for the instant: the base rule's own
bindings; for each of the `top_k` other (ready task, free PE) pairs with the earliest expected
finish, that pair first and then whatever the base rule binds after it; and binding nothing
(waiting, if `wait` and some PE is busy, so time can advance). Each candidate is scored by
simulating ahead with the base rule for `horizon_us` on `samples` sampled futures: copies of the
run (`copy.deepcopy` of the engine) whose unrevealed randomness (arrivals, noise draws of tasks
not started, the remaining time of running tasks) is re-drawn (`Simulation.resample_future`), so
the policy never sees the true future and is implementable online. The cost of a candidate on a
sample is the jobs' time in system accumulated over the horizon (the `time_in_system` reward of
`dssoc.env.rewards`, summed) plus, with `terminal`, the expected remaining critical path of each
job still in the system at its end (a cost-to-go estimate: without it a short horizon ignores the
work left behind). The same sampled futures score every candidate (common random numbers); a
candidate replaces the base rule's bindings only if its mean paired difference to them is below
`-margin_z` standard errors (0: any mean gain), so a zero horizon, or no alternatives (`top_k=0`,
`wait=False`), reproduces the base rule exactly.

Cost: (candidates x samples) copies of the run and horizon simulations per decision with a choice.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dssoc.errors import ConfigError, SchedulerError
from dssoc.schedulers.base import Assignment, Scheduler, make_scheduler, register
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import JobRun, TaskRun

Plan = tuple[tuple[int, int, int], ...]  # (job id, task index, PE) per binding, in order


def _plan(assignments: Sequence[Assignment]) -> Plan:
    return tuple((t.job.id, t.index, int(pe)) for t, pe in assignments)


def _apply(sim: Any, plan: Plan) -> None:
    """Bind `plan` in `sim` (a copy of the run the plan was made in)."""
    jobs = sim.active_jobs
    for job_id, index, pe in plan:
        sim.assign(jobs[job_id].tasks[index], pe)


def time_in_system(jobs: Sequence[JobRun], t0: float, t1: float) -> float:
    """Sum over `jobs` of the time each spent in the system within [t0, t1] (µs)."""
    total = 0.0
    for job in jobs:
        end = job.done_at if job.remaining == 0 and job.done_at < t1 else t1
        start = job.arrival if job.arrival > t0 else t0
        if end > start:
            total += end - start
    return total


@register("late-rollout")
class LateRollout(Scheduler):
    """One-step lookahead over `base` (a late-binding rule): of the base rule's bindings, its
    `top_k` alternative first bindings and waiting, take the one whose sampled `horizon_us` of
    base-rule continuation costs the least time in system, mean over `samples` futures."""

    binding = "late"
    simulates_ahead = True

    def __init__(self, base: str = "late-ETF", horizon_us: float = 500.0, samples: int = 4,
                 top_k: int = 3, wait: bool = True, terminal: bool = True,
                 margin_z: float = 0.0) -> None:
        self.base = make_scheduler(base)
        if getattr(self.base, "binding", None) != "late" or isinstance(self.base, LateRollout):
            raise ConfigError(f"base must be a late-binding rule, got {base!r}", "base")
        if not horizon_us >= 0:
            raise ConfigError(f"must be >= 0 (µs), got {horizon_us}", "horizon_us")
        if int(samples) < 1:
            raise ConfigError(f"must be >= 1, got {samples}", "samples")
        if int(top_k) < 0:
            raise ConfigError(f"must be >= 0, got {top_k}", "top_k")
        self.horizon_us = float(horizon_us)
        self.samples = int(samples)
        self.top_k = int(top_k)
        self.wait = bool(wait)
        if not margin_z >= 0:
            raise ConfigError(f"must be >= 0, got {margin_z}", "margin_z")
        if margin_z > 0 and self.samples < 2:
            raise ConfigError("a margin needs samples >= 2 (it tests paired differences)",
                              "margin_z")
        self.terminal = bool(terminal)
        self.margin_z = float(margin_z)
        self.rng = np.random.default_rng(0)
        self.stats = {"decisions": 0, "choices": 0, "deviations": 0, "waits": 0, "rollouts": 0}

    def __repr__(self) -> str:
        return (f"LateRollout(base={self.base.name!r}, horizon_us={self.horizon_us:g}, "
                f"samples={self.samples}, top_k={self.top_k}, wait={self.wait}, "
                f"terminal={self.terminal}, margin_z={self.margin_z:g})")

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        """Take the run's scheduler stream (it seeds the sampled futures) and reset the base."""
        self.rng = rng
        self.base.reset(system, np.random.default_rng(rng.integers(2**63)))
        self.stats = dict.fromkeys(self.stats, 0)

    # ------------------------------------------------------------ candidates
    def _alternatives(self, ready: Sequence[TaskRun], system: SimView) -> list[Assignment]:
        """The `top_k` valid (ready task, free PE) pairs of earliest expected finish."""
        free = system.pe_free()
        now = system.now
        pairs: list[tuple[float, int, Assignment]] = []
        for i, task in enumerate(ready):
            finish = system.exec_times(task) + np.maximum(system.data_ready_times(task), now)
            for pe in np.flatnonzero(free & np.isfinite(finish)):
                pairs.append((float(finish[pe]), i * len(free) + int(pe), (task, int(pe))))
        pairs.sort(key=lambda p: (p[0], p[1]))
        return [p[2] for p in pairs[: self.top_k]]

    def _completed(self, system: Any, first: Assignment) -> Plan:
        """`first`, then the bindings the base rule adds at this instant once it is bound."""
        twin = copy.deepcopy(system)
        head = _plan([first])
        _apply(twin, head)
        if not twin.ready or not twin.pe_free().any():
            return head
        return head + _plan(self.base.schedule(list(twin.ready), twin))

    # -------------------------------------------------------------- scoring
    def _cost(self, system: Any, plan: Plan, seed: int) -> float:
        """Time in system over the horizon after binding `plan`, on one sampled future."""
        twin = copy.deepcopy(system)
        twin.resample_future(np.random.default_rng(seed))
        t0 = twin.now
        t1 = min(twin.end_time, t0 + self.horizon_us)
        twin.end_time = t1
        jobs = list(twin.active_jobs.values())
        twin.subscribe("arrival", jobs.append)
        _apply(twin, plan)
        schedule, assign = self.base.schedule, twin.assign
        while twin.advance():
            for task, pe in schedule(list(twin.ready), twin):
                assign(task, pe)
        self.stats["rollouts"] += 1
        cost = time_in_system(jobs, t0, t1)
        if self.terminal and twin.active_jobs:  # cost-to-go beyond t1: remaining critical paths
            cost += sum(twin.jobs_remaining_critical_path().values())
        return cost

    def _pick(self, costs: np.ndarray) -> int:
        """The plan of least mean cost among those beating the base plan (row 0) by more than
        `margin_z` standard errors of the paired difference; 0 (the base plan) if none does."""
        diff = costs - costs[0]
        mean = diff.mean(axis=1)
        if self.margin_z > 0:
            se = diff.std(axis=1, ddof=1) / np.sqrt(diff.shape[1])
            ok = mean < -self.margin_z * se
        else:
            ok = mean < 0
        ok[0] = True
        return int(np.flatnonzero(ok)[np.argmin(mean[ok])])

    def schedule(self, ready: Sequence[TaskRun], system: SimView) -> list[Assignment]:
        self.stats["decisions"] += 1
        base_bindings = self.base.schedule(ready, system)
        if not hasattr(system, "resample_future"):
            raise SchedulerError("late-rollout needs the simulation itself (dssoc.engine."
                                 "Simulation) to copy, not only a view of it")
        if self.horizon_us == 0:
            return base_bindings
        plans = [_plan(base_bindings)]
        for first in self._alternatives(ready, system):
            if plans[0][:1] != _plan([first]):
                plans.append(self._completed(system, first))
        if self.wait and not system.pe_free().all():
            plans.append(())
        plans = list(dict.fromkeys(plans))  # the base plan stays first
        if len(plans) == 1:
            return base_bindings
        self.stats["choices"] += 1
        seeds = [int(s) for s in self.rng.integers(2**63, size=self.samples)]
        costs = np.array([[self._cost(system, plan, s) for s in seeds] for plan in plans])
        best = self._pick(costs)
        if best == 0:
            return base_bindings
        self.stats["deviations"] += 1
        self.stats["waits"] += not plans[best]
        by_key = {(t.job.id, t.index): t for t in ready}
        return [(by_key[(j, i)], pe) for j, i, pe in plans[best]]
