"""HEFT_RT, gym-ds3's run-time HEFT (Sung et al., DS3Gym / DeepSoCS 2020-21): it plans only
the current ready set. Rank = mean expected execution time over the supported PEs (no edges);
ready tasks in decreasing rank, each to the PE of earliest finish time given the actual data
arrival times and DS3's per-PE `available_time` estimate (as EFT in `greedy`).

As in gym-ds3, which gives each task a dynamic dependency on the task assigned before it to the
same PE, each PE runs its HEFT_RT tasks in assignment order, so with exact execution times every
task starts when HEFT_RT planned it. `HEFT_RT-wc` only binds (the PE's queue then runs in job
order whatever has its data first, which can put a later assignment ahead of an earlier one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dssoc.schedulers.base import Assignment, earliest_finish, register
from dssoc.schedulers.greedy import _AvailabilityTracking
from dssoc.schedulers.planning import PlanOrder
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import TaskRun


@register("HEFT_RT")
class HEFTRT(_AvailabilityTracking):
    """Ready tasks by decreasing mean execution time (stable), each to its earliest-finish PE,
    run on that PE in assignment order."""

    follow_plan: ClassVar[bool] = True

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        super().reset(system, rng)
        self.order = PlanOrder(system.n_pes)

    def schedule(self, ready: Sequence[TaskRun], system: SimView) -> list[Assignment]:
        out = []
        for task in sorted(ready, key=lambda t: -system.mean_exec_time(t)):
            finish = earliest_finish(task, system, self.available)
            pe = int(np.argmin(finish))
            end = float(finish[pe])
            self.commit(pe, end)
            # planned start >= the PE's previous planned finish: always appended to its order
            start = end - float(system.exec_times(task)[pe])
            system.note_planned_start(task, start)
            if self.follow_plan:
                self.order.insert(task, pe, start, end, system)
            out.append((task, pe))
        return out


@register("HEFT_RT-wc")
class HEFTRTWorkConserving(HEFTRT):
    """HEFT_RT's bindings only: each PE runs its bound tasks work-conservingly (data arrived,
    job order), not in assignment order."""

    follow_plan = False
