"""PEFT, Predict Earliest Finish Time (Arabnejad & Barbosa, "List scheduling algorithm for
heterogeneous systems by an optimistic cost table", IEEE TPDS 25(3), 2014).

Priority = mean optimistic cost (OCT) over the PEs; among the tasks whose predecessors are
planned, the highest goes to the PE minimising insertion-based EFT + OCT. Planned per whole
job at arrival, like DS3's HEFT.
"""

from __future__ import annotations

import numpy as np

from dssoc.schedulers.base import register
from dssoc.schedulers.planning import Chooser, ListPlanner, PlannableDag
from dssoc.schedulers.ranks import oct_rank, optimistic_cost_table


@register("PEFT")
class PEFT(ListPlanner):
    """Whole-job PEFT at arrival, executed as planned: planned PE and per-PE order.
    Priority: mean optimistic cost (OCT rank); processor: minimum finish + OCT."""

    def ranking(self, app: PlannableDag, pe_bandwidth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        table = optimistic_cost_table(app, app.exec_pe, pe_bandwidth)
        return oct_rank(table, app.exec_pe), table

    def chooser(self, table: np.ndarray) -> Chooser:
        return lambda task, start, finish: int(np.argmin(finish + table[task]))


plan_peft = PEFT.plan_one


@register("PEFT-wc")
class PEFTWorkConserving(PEFT):
    """PEFT's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
