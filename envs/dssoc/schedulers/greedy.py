"""DS3's list heuristics: MET, EFT, ETF and STF, with DS3's tie-breaking (domain.md section 5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dssoc.schedulers.base import Assignment, Scheduler, earliest_finish, register
from dssoc.view import SimView


@register("MET")
class MinimumExecutionTime(Scheduler):
    """Each ready task to a PE of minimum execution time. Ties: idle PEs first, then the PE given
    the fewest tasks in this call. Ignores communication and queueing.

    DS3 drops busy PEs from the tied set by position, which removes the wrong ones when busy and
    idle PEs interleave; `ds3_tie_quirk=True` (default) reproduces that for fidelity.
    """

    def __init__(self, ds3_tie_quirk: bool = True) -> None:
        self.ds3_tie_quirk = ds3_tie_quirk

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        idle = system.pe_idle()
        assigned = np.zeros(system.n_pes, dtype=int)
        out = []
        for task in ready:
            times = system.exec_times(task)
            ties = np.flatnonzero(times == times.min()).tolist()
            if len(ties) > 1:
                busy = [not idle[p] for p in ties]
                n_busy = sum(busy)
                if 0 < n_busy < len(ties):
                    if self.ds3_tie_quirk:
                        k = busy.index(True)
                        del ties[k:k + n_busy]
                    else:
                        ties = [p for p, b in zip(ties, busy, strict=True) if not b]
                counts = [assigned[p] for p in ties]
                pe = ties[counts.index(min(counts))]
            else:
                pe = ties[0]
            assigned[pe] += 1
            out.append((task, pe))
        return out


class _AvailabilityTracking(Scheduler):
    """Keeps DS3's per-PE `available_time`: the planned finish of the last task given to the PE
    (overwritten at each assignment, not summed over its queue)."""

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        self.available = np.zeros(system.n_pes)

    def commit(self, pe: int, finish: float) -> None:
        """Record that `pe` is planned busy until `finish` (DS3 overwrites, never sums)."""
        self.available[pe] = finish


@register("EFT")
class EarliestFinishTime(_AvailabilityTracking):
    """Per ready task, in list order, the PE minimising exec + max(data ready, PE available)."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        out = []
        for task in ready:
            finish = earliest_finish(task, system, self.available)
            pe = int(finish.argmin())
            self.commit(pe, finish[pe])
            out.append((task, pe))
        return out


@register("ETF")
class EarliestTaskFirst(_AvailabilityTracking):
    """Repeatedly bind the globally earliest-finishing (task, PE) pair among the ready tasks
    (first task and first PE win ties, as in DS3)."""

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        if len(ready) == 1:  # the common case: no matrix needed
            task = ready[0]
            finish = earliest_finish(task, system, self.available)
            pe = int(finish.argmin())
            self.commit(pe, finish[pe])
            return [(task, pe)]
        # finish[i, p] = exec + max(data ready, now, available); after each pick only the chosen
        # PE's column changes. Row-major argmin = DS3's ties: first task, then first PE.
        execs = np.array([system.exec_times(t) for t in ready])
        starts = np.array([system.data_ready_times(t) for t in ready])
        np.maximum(starts, system.now, out=starts)
        finish = execs + np.maximum(starts, self.available)
        n_pes = finish.shape[1]
        taken = np.zeros(len(ready), dtype=bool)
        out = []
        for _ in range(len(ready)):
            i, pe = divmod(int(finish.argmin()), n_pes)
            best = float(finish[i, pe])
            self.commit(pe, best)
            out.append((ready[i], pe))
            taken[i] = True
            finish[i] = np.inf
            column = execs[:, pe] + np.maximum(starts[:, pe], best)
            column[taken] = np.inf
            finish[:, pe] = column
        return out


@register("STF")
class ShortestTaskFirst(Scheduler):
    """Repeatedly bind the ready task with the shortest best-case time to its fastest PE.

    As in DS3, PE ties go to the first PE (strict <), so all work lands on the first core of
    the fastest cluster; a deliberate imitation of DS3 (domain.md section 5).
    """

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        remaining = list(ready)
        out = []
        while remaining:
            best = [float(system.exec_times(t).min()) for t in remaining]
            k = best.index(min(best))
            task = remaining.pop(k)
            out.append((task, int(np.argmin(system.exec_times(task)))))
        return out
