"""PEFT, Predict Earliest Finish Time (Arabnejad & Barbosa, "List scheduling algorithm for
heterogeneous systems by an optimistic cost table", IEEE TPDS 25(3), 2014).

Priority = mean optimistic cost (OCT) over the PEs; among the tasks whose predecessors are
planned, the highest goes to the PE minimising insertion-based EFT + OCT. Planned per whole
job at arrival, like DS3's HEFT.
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
from dssoc.schedulers.ranks import oct_rank, optimistic_cost_table

if TYPE_CHECKING:
    from dssoc.engine import CompiledApp


def plan_peft(
    app: PlannableDag,
    pe_bandwidth: np.ndarray,
    *,
    book: PlanBook | None = None,
    now: float = 0.0,
    transfer: Transfer | None = None,
    oct_table: np.ndarray | None = None,
) -> JobPlan:
    """PEFT plan of one job (into `book`, else onto idle PEs)."""
    table = (optimistic_cost_table(app, app.exec_pe, pe_bandwidth) if oct_table is None
             else oct_table)

    def choose(task: int, start: np.ndarray, finish: np.ndarray) -> int:
        return int(np.argmin(finish + table[task]))

    return plan_job(
        app,
        oct_rank(table, app.exec_pe),
        pe_bandwidth,
        book=book,
        now=now,
        transfer=transfer,
        choose=choose,
    )


@register("PEFT")
class PEFT(WholeJobPlanner):
    """Whole-job PEFT at arrival, executed as planned: planned PE and per-PE order."""

    def plan(self, app: CompiledApp, system: SystemView) -> JobPlan:
        bw = system.pe_bandwidth
        table = self.per_app(app, lambda: optimistic_cost_table(app, app.exec_pe, bw))
        return plan_peft(app, bw, book=self.book, now=system.now,
                         transfer=system.transfer_times, oct_table=table)


@register("PEFT-wc")
class PEFTWorkConserving(PEFT):
    """PEFT's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
