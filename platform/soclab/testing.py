"""Fault-injection schedulers for testing the platform's failure handling (retries, reports).

Use them in a spec as `scheduler: soclab.testing:FlakyScheduler` (fails once per process, then
works like ETF) or `soclab.testing:BrokenScheduler` (always fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from dssoc.schedulers.base import Assignment, SystemView
from dssoc.schedulers.greedy import EarliestTaskFirst


class InjectedFailure(RuntimeError):
    """The failure these schedulers raise on purpose."""


class FlakyScheduler(EarliestTaskFirst):
    """ETF that raises on its first decision in each process: a transient fault to be retried."""

    name = "flaky"
    failures_left: ClassVar[int] = 1

    def schedule(self, ready: Sequence, system: SystemView) -> list[Assignment]:
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise InjectedFailure("injected transient failure (soclab.testing.FlakyScheduler)")
        return super().schedule(ready, system)


class BrokenScheduler(EarliestTaskFirst):
    """Always raises: a permanent fault that must be reported without stopping the sweep."""

    name = "broken"

    def schedule(self, ready: Sequence, system: SystemView) -> list[Assignment]:
        raise InjectedFailure("injected permanent failure (soclab.testing.BrokenScheduler)")
