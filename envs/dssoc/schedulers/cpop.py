"""CPOP, Critical-Path-on-a-Processor (Topcuoglu, Hariri & Wu, IEEE TPDS 13(3), 2002).

Priority = rank_u + rank_d. The critical-path tasks (priority equal to the entry's) all go to
the one PE minimising their summed execution time; the others to the PE of minimum
insertion-based EFT. Tasks are taken from a priority queue of the tasks whose predecessors are
planned, highest priority first. Planned per whole job at arrival, like DS3's HEFT.
"""

from __future__ import annotations

import numpy as np

from dssoc.schedulers.base import register
from dssoc.schedulers.planning import Chooser, ListPlanner, PlannableDag
from dssoc.schedulers.ranks import critical_path, downward_rank, upward_rank


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


@register("CPOP")
class CPOP(ListPlanner):
    """Whole-job CPOP at arrival, executed as planned: planned PE and per-PE order. Priority:
    upward + downward rank; processor: the critical-path PE for critical tasks (when one PE runs
    the whole critical path), minimum finish time otherwise."""

    def ranking(self, app: PlannableDag, pe_bandwidth: np.ndarray
                ) -> tuple[np.ndarray, tuple[frozenset[int], int | None]]:
        prio, cp, cp_pe = cpop_priorities(app, pe_bandwidth)
        return prio, (cp, cp_pe)

    def chooser(self, data: tuple[frozenset[int], int | None]) -> Chooser:
        cp, cp_pe = data

        def choose(task: int, start: np.ndarray, finish: np.ndarray) -> int:
            if cp_pe is not None and task in cp:
                return cp_pe
            return int(np.argmin(finish))

        return choose


plan_cpop = CPOP.plan_one


@register("CPOP-wc")
class CPOPWorkConserving(CPOP):
    """CPOP's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
