"""Baselines that ignore timing: uniformly random and round-robin over the supported PEs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dssoc.schedulers.base import Assignment, Scheduler, register
from dssoc.view import SimView


@register("random")
class RandomScheduler(Scheduler):
    """Each ready task to a uniformly random supported PE (the scheduler's own seeded stream)."""

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        self.rng = rng

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        out = []
        for task in ready:
            supported = np.flatnonzero(np.isfinite(system.exec_times(task)))
            out.append((task, int(supported[self.rng.integers(supported.size)])))
        return out


@register("round_robin")
class RoundRobinScheduler(Scheduler):
    """Cycles through the PEs: each task goes to the next PE after the last one used that
    supports it."""

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        self.last = -1

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        out = []
        n = system.n_pes
        for task in ready:
            ok = np.isfinite(system.exec_times(task))
            order = (self.last + 1 + np.arange(n)) % n
            pe = int(order[np.argmax(ok[order])])
            self.last = pe
            out.append((task, pe))
        return out
