"""CPOP, Critical-Path-on-a-Processor (Topcuoglu, Hariri & Wu, IEEE TPDS 13(3), 2002).

Priority = rank_u + rank_d. The critical-path tasks (priority equal to the entry's) all go to
the one PE minimising their summed execution time; the others to the PE of minimum
insertion-based EFT. Tasks are taken from a priority queue of the tasks whose predecessors are
planned, highest priority first. Planned per whole job at arrival, like DS3's HEFT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dssoc.schedulers.base import SystemView, register
from dssoc.schedulers.planning import (
    JobPlan,
    PlanBook,
    PlannableDag,
    Transfer,
    WholeJobPlanner,
    plan_job,
)
from dssoc.schedulers.ranks import critical_path, downward_rank, upward_rank

if TYPE_CHECKING:
    from dssoc.engine import CompiledApp


def cpop_priorities(
    app: PlannableDag, pe_bandwidth: np.ndarray
) -> tuple[np.ndarray, frozenset[int], int | None]:
    """(priority, critical-path tasks, critical-path PE or None if no PE runs them all)."""
    w = app.exec_pe
    prio = upward_rank(app, w, pe_bandwidth) + downward_rank(app, w, pe_bandwidth)
    heads = [i for i in range(app.n) if not app.preds[i]]
    cp = critical_path(prio, heads)
    total = w[cp].sum(axis=0)
    cp_pe = int(np.argmin(total)) if np.isfinite(total).any() else None
    return prio, frozenset(cp), cp_pe


def plan_cpop(
    app: PlannableDag,
    pe_bandwidth: np.ndarray,
    *,
    book: PlanBook | None = None,
    now: float = 0.0,
    transfer: Transfer | None = None,
    priorities: tuple[np.ndarray, frozenset[int], int | None] | None = None,
) -> JobPlan:
    """CPOP plan of one job (into `book`, else onto idle PEs); without a PE able to run the
    whole critical path, critical tasks fall back to minimum EFT like the others."""
    prio, cp, cp_pe = cpop_priorities(app, pe_bandwidth) if priorities is None else priorities

    def choose(task: int, start: np.ndarray, finish: np.ndarray) -> int:
        if cp_pe is not None and task in cp:
            return cp_pe
        return int(np.argmin(finish))

    return plan_job(
        app,
        prio,
        pe_bandwidth,
        book=book,
        now=now,
        transfer=transfer,
        choose=choose,
    )


@register("CPOP")
class CPOP(WholeJobPlanner):
    """Whole-job CPOP at arrival, executed as planned: planned PE and per-PE order."""

    def plan(self, app: CompiledApp, system: SystemView) -> JobPlan:
        bw = system.pe_bandwidth
        prio = self.per_app(app, lambda: cpop_priorities(app, bw))
        return plan_cpop(app, bw, book=self.book, now=system.now,
                         transfer=system.transfer_times, priorities=prio)


@register("CPOP-wc")
class CPOPWorkConserving(CPOP):
    """CPOP's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
