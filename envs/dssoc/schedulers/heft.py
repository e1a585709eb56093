"""HEFT, Heterogeneous Earliest Finish Time (Topcuoglu, Hariri & Wu, IEEE TPDS 13(3), 2002).

Tasks in decreasing upward rank, each on the PE of minimum insertion-based earliest finish
time. DS3 semantics: a whole job is planned when it arrives, inserted into the plans of the
jobs before it; its tasks are bound to their planned PEs as they become ready and each PE runs
them in planned order (`HEFT-wc`: bound only, run work-conservingly).
"""

from __future__ import annotations

import numpy as np

from dssoc.schedulers.base import register
from dssoc.schedulers.planning import ListPlanner, PlannableDag
from dssoc.schedulers.ranks import upward_rank


@register("HEFT")
class HEFT(ListPlanner):
    """Whole-job HEFT at arrival (DS3), executed as planned: planned PE and per-PE order.
    Priority: upward rank; processor: minimum insertion-based finish time."""

    def ranking(self, app: PlannableDag, pe_bandwidth: np.ndarray) -> tuple[np.ndarray, None]:
        return upward_rank(app, app.exec_pe, pe_bandwidth), None


plan_heft = HEFT.plan_one


@register("HEFT-wc")
class HEFTWorkConserving(HEFT):
    """HEFT's plan, bound only: each PE runs its bound tasks work-conservingly (data arrived,
    job order) instead of in planned order, so the executed schedule may differ from the plan."""

    follow_plan = False
