"""The one scheduler interface, shared by heuristics and learned policies, and its registry.

A scheduler is called whenever tasks are ready (DS3 semantics: once per instant, with the whole
ready list) and binds every ready task to a PE, returning the bindings in the order it decided
them (that order breaks ties between tasks of the same job in the PE queues). It sees the system
through `SystemView` (expected execution times only, never the noisy actual ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from dssoc.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from dssoc.engine import JobRun, TaskRun

Assignment = tuple["TaskRun", int]


class SystemView(Protocol):
    """What a scheduler may look at; implemented by `dssoc.engine.Simulation`."""

    now: float
    n_pes: int
    pe_cluster: np.ndarray  # cluster index per PE
    pe_bandwidth: np.ndarray  # PE x PE bandwidth

    def exec_times(self, task: TaskRun) -> np.ndarray:
        """Expected execution time of `task` on every PE (inf where unsupported)."""
        ...

    def data_ready_times(self, task: TaskRun) -> np.ndarray:
        """Earliest time the inputs of a *ready* task could be on each PE."""
        ...

    def transfer_times(self, volume: float, src_pe: int) -> np.ndarray:
        """Time to move `volume` from `src_pe` to every PE (DS3 truncation when integer_times)."""
        ...

    def pe_idle(self) -> np.ndarray:
        """True for PEs that run nothing right now."""
        ...

    def pe_expected_free(self) -> np.ndarray:
        """Expected time each PE finishes its running task (now if idle); expected, not actual."""
        ...

    def request_opp(self, cluster: int, level: int) -> None:
        """Set a cluster's operating point (OPP index) from the next sampling instant (the run's
        DVFS controller must exist from the start: `enable_dvfs()` in `reset`)."""
        ...

    def pe_slowdown(self) -> np.ndarray:
        """f_max / f of each PE's cluster now (DVFS; ones at the performance governor)."""
        ...

    def pe_power_w(self) -> np.ndarray:
        """Power (W) of one busy core of each PE at its current operating point."""
        ...

    def pe_queue_lengths(self) -> np.ndarray:
        """Number of bound tasks waiting for each PE (not counting the running one)."""
        ...

    def hold_after(self, task: TaskRun, after: TaskRun | None) -> None:
        """Let `task` start only after `after` has started (its plan predecessor; None: free)."""
        ...


class Scheduler:
    """Base class: override `schedule`; `reset` and `on_job_arrival` are optional hooks."""

    name: ClassVar[str] = "base"

    def reset(self, system: SystemView, rng: np.random.Generator) -> None:
        """Called once before a run with the system and the scheduler's own random stream."""

    def on_job_arrival(self, job: JobRun, system: SystemView) -> None:
        """Called when a job is injected, before its head tasks are scheduled."""

    def schedule(self, ready: Sequence[TaskRun], system: SystemView) -> list[Assignment]:
        """Bind every task of `ready` to a PE; return (task, pe) pairs in decision order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_REGISTRY: dict[str, Callable[..., Scheduler]] = {}


def register(name: str) -> Callable[[type[Scheduler]], type[Scheduler]]:
    """Class decorator adding a scheduler to the registry under `name` (case-insensitive)."""

    def deco(cls: type[Scheduler]) -> type[Scheduler]:
        cls.name = name
        _REGISTRY[name.upper()] = cls
        return cls

    return deco


def scheduler_names() -> list[str]:
    _load_builtins()
    return sorted(cls.name for cls in _REGISTRY.values())  # type: ignore[attr-defined]


def make_scheduler(name: str | Scheduler, **kwargs: object) -> Scheduler:
    """Instantiate a registered scheduler by name (`MET`, `etf`, `heft_rt`, ...)."""
    if isinstance(name, Scheduler):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"expected a scheduler name or a Scheduler, got {type(name).__name__}",
                          "scheduler")
    _load_builtins()
    cls = _REGISTRY.get(name.upper())
    if cls is None:
        raise UnknownNameError("scheduler", name, scheduler_names())
    return cls(**kwargs)


def _load_builtins() -> None:
    import dssoc.schedulers  # noqa: F401  (registers the built-in schedulers)


def earliest_finish(task: TaskRun, system: SystemView, pe_available: np.ndarray) -> np.ndarray:
    """DS3's EFT estimate on every PE: exec + max(data ready - now, available - now, 0) + now."""
    start = np.maximum(system.data_ready_times(task), pe_available)
    np.maximum(start, system.now, out=start)
    start += system.exec_times(task)
    return start
