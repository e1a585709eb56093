"""Energy-aware schedulers: DS3's `ETF_LB` and an EDP-minimising HEFT (absolute or relative EDP).

* `ETF_LB` (DS3): ETF whose execution-time estimates follow the clusters' current frequency
  (profiled time x f_max / f), so under DVFS it prefers the PEs that are fast *now*; among PEs
  tied on the earliest finish it takes the one given the fewest tasks so far (load balancing).
  As in DS3, the counter persists over the run and counts every provisional choice made while
  scanning the ready list, not only the final bindings.
* `HEFT_EDP` / `HEFT_EDP_REL`: whole-job HEFT (upward ranks, insertion into the per-PE plans,
  DS3's planning at arrival), but each task goes to the PE minimising an energy-delay product
  instead of its finish time, after the processor-selection options of the HEFT package DS3
  uses. With E(q) = P(q) w(q) the task's energy on PE q (P: power of one busy core at the
  cluster's current operating point, `SimView.pe_power_w`; w: execution time):

  - absolute: ``E(q) * w(q)``, the task's own EDP; ignores queueing and transfers, so it favours
    efficient PEs (accelerators) even when they are busy;
  - relative: ``E(q) * (F(q) - S_min)`` with F the insertion-based finish on q and S_min the
    earliest start the task has on any PE: energy times the delay the choice adds, so queueing
    and transfers count and a busy efficient PE loses to an idle one when the wait dominates.

  Ties (e.g. PEs without power data, E = 0) go to the earliest finish, then the first PE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dssoc.schedulers.base import Assignment, Scheduler, register
from dssoc.schedulers.planning import JobPlan, WholeJobPlanner, plan_job
from dssoc.schedulers.ranks import upward_rank
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import CompiledApp


@register("ETF_LB")
class EtfLoadBalanced(Scheduler):
    """DS3's ETF_LB: frequency-aware ETF with load-balancing ties (see the module docstring)."""

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        self.available = np.zeros(system.n_pes)  # DS3's per-PE available_time (overwritten)
        self.assigned = np.zeros(system.n_pes, dtype=int)

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        now = system.now
        slow = system.pe_slowdown()
        remaining = list(ready)
        out = []
        while remaining:
            best = np.inf
            pick = None
            for task in remaining:
                start = np.maximum(np.maximum(system.data_ready_times(task), self.available), now)
                finish = system.exec_times(task) * slow + start
                low = float(finish.min())
                if low < best:
                    best = low
                    ties = np.flatnonzero(finish == low)
                    pe = int(ties[np.argmin(self.assigned[ties])]) if ties.size > 1 else int(ties[0])
                    self.assigned[pe] += 1
                    pick = (task, pe, float(finish[pe]))
            if pick is None:  # no PE can run any remaining task (cannot happen for valid configs)
                raise ValueError("ETF_LB: a ready task runs on no PE")
            task, pe, finish_at = pick
            self.available[pe] = finish_at
            out.append((task, pe))
            remaining.remove(task)
        return out


class _HeftEdp(WholeJobPlanner):
    """Whole-job HEFT with EDP processor selection; `relative` picks the formula."""

    relative = False

    def plan(self, app: CompiledApp, system: SimView) -> JobPlan:
        bw = system.pe_bandwidth
        rank = self.per_app(app, lambda: upward_rank(app, app.exec_pe, bw))
        power = system.pe_power_w()
        slow = system.pe_slowdown()
        exec_pe = app.exec_pe * slow  # planned at the current operating points
        relative = self.relative

        def choose(task: int, start: np.ndarray, finish: np.ndarray) -> int:
            ok = np.isfinite(finish)
            w = np.where(ok, exec_pe[task], 0.0)
            delay = np.where(ok, finish - start[ok].min(), 0.0) if relative else w
            edp = np.where(ok, power * w * delay, np.inf)
            return int(np.lexsort((finish, edp))[0])

        scaled = _Scaled(app, exec_pe)
        return plan_job(scaled, rank, bw, book=self.book, now=system.now,
                        transfer=system.transfer_times, choose=choose)


class _Scaled:
    """An application view whose execution times are scaled (DVFS slowdown) for planning."""

    def __init__(self, app: CompiledApp, exec_pe: np.ndarray) -> None:
        self.n, self.preds, self.succs, self.volumes = app.n, app.preds, app.succs, app.volumes
        self.exec_pe = exec_pe


@register("HEFT_EDP")
class HeftEdpAbsolute(_HeftEdp):
    """HEFT choosing the PE of minimum absolute EDP, E(q) * w(q)."""


@register("HEFT_EDP_REL")
class HeftEdpRelative(_HeftEdp):
    """HEFT choosing the PE of minimum relative EDP, E(q) * (F(q) - S_min)."""

    relative = True


@register("EDP_DVFS")
class EdpDvfs(Scheduler):
    """Chooses each ready task's PE *and* its cluster's operating point (OPP) for the least
    relative EDP, E * (F - now), where at OPP level l a task of profiled time w takes
    w * f_max / f_l and costs P_l * w * f_max / f_l (P_l: one busy core's power at that OPP).

    Ready tasks are taken in list order (EFT-style, with DS3's per-PE availability estimate).
    Only an idle cluster (nothing running or queued on it) may be retuned, so a choice never
    slows tasks already committed; the requested OPP holds from the next 10 us sampling instant
    (`SimView.request_opp`), so the estimate is optimistic for the first window. Clusters
    without operating points keep their speed and cost 0.
    """

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        from dssoc.energy import opp_power_table

        soc = system.soc
        system.enable_dvfs()  # before any task starts
        self.available = np.zeros(system.n_pes)
        self.power = opp_power_table(soc)  # [cluster][level] W
        self.fmax = [c.power.max_opp[0] if c.power is not None and c.power.opps else 0
                     for c in soc.clusters]
        self.freqs = [[f for f, _ in c.power.opps] if c.power is not None else [] for c in soc.clusters]
        self.pc = [int(c) for c in system.pe_cluster]

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        now = system.now
        slow = system.pe_slowdown()
        queued = system.pe_queue_lengths()
        busy = ~system.pe_idle()
        cluster_busy = {self.pc[p] for p in np.flatnonzero(busy | (queued > 0))}
        out = []
        for task in ready:
            w = system.exec_times(task)
            start = np.maximum(np.maximum(system.data_ready_times(task), self.available), now)
            best = (np.inf, np.inf, -1, -1)
            for q in map(int, np.flatnonzero(np.isfinite(w))):
                c = self.pc[q]
                levels = range(len(self.freqs[c])) if c not in cluster_busy and self.freqs[c] else [None]
                for lv in levels:
                    ratio = float(slow[q]) if lv is None else self.fmax[c] / self.freqs[c][lv]
                    dur = float(w[q]) * ratio
                    finish = float(start[q]) + dur
                    p = 0.0 if not self.power[c] else (
                        self.power[c][lv] if lv is not None else float(system.pe_power_w()[q]))
                    key = (p * dur * (finish - now), finish, int(q), -1 if lv is None else lv)
                    if key < best:
                        best = key
            _, finish, q, lv = best
            if q < 0:
                raise ValueError("EDP_DVFS: a ready task runs on no PE")
            c = self.pc[q]
            if lv >= 0:
                system.request_opp(c, lv)
                cluster_busy.add(c)
            self.available[q] = finish
            out.append((task, q))
        return out
