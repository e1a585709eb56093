"""HEFT, Heterogeneous Earliest Finish Time (Topcuoglu, Hariri & Wu, IEEE TPDS 13(3), 2002).

Tasks in decreasing upward rank, each on the PE of minimum insertion-based earliest finish
time. DS3 semantics: a whole job is planned when it arrives, inserted into the plans of the
jobs before it; its tasks are bound to their planned PEs as they become ready and each PE runs
them in planned order (`HEFT-wc`: bound only, run work-conservingly).
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
from dssoc.schedulers.ranks import upward_rank

if TYPE_CHECKING:
    from dssoc.engine import CompiledApp


def plan_heft(
    app: PlannableDag,
    pe_bandwidth: np.ndarray,
    *,
    book: PlanBook | None = None,
    now: float = 0.0,
    transfer: Transfer | None = None,
    rank: np.ndarray | None = None,
) -> JobPlan:
    """HEFT plan of one job (into `book`, else onto idle PEs); transfers default to DS3's
    truncated volume / bandwidth."""
    if rank is None:
        rank = upward_rank(app, app.exec_pe, pe_bandwidth)
    return plan_job(
        app,
        rank,
        pe_bandwidth,
        book=book,
        now=now,
        transfer=transfer,
    )


@register("HEFT")
class HEFT(WholeJobPlanner):
    """Whole-job HEFT at arrival (DS3), executed as planned: planned PE and per-PE order."""

    def plan(self, app: CompiledApp, system: SystemView) -> JobPlan:
        bw = system.pe_bandwidth
        rank = self.per_app(app, lambda: upward_rank(app, app.exec_pe, bw))
        return plan_heft(app, bw, book=self.book, now=system.now,
                         transfer=system.transfer_times, rank=rank)


@register("HEFT-wc")
class HEFTWorkConserving(HEFT):
    """HEFT's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
