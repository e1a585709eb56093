"""The one scheduler interface, shared by heuristics and learned policies, and its registry.

A scheduler is called whenever tasks are ready (DS3 semantics: once per instant, with the whole
ready list) and binds every ready task to a PE, returning the bindings in the order it decided
them (that order breaks ties between tasks of the same job in the PE queues). It sees the system
through `SystemView` (expected execution times only, never the noisy actual ones).

Each scheduler declares the binding it is written for (`Scheduler.binding`): "early" (DS3, the
default: bind every ready task, to any PE) or "late" (called at decision points; binds some ready
tasks to *free* PEs and may leave others waiting). Running one under the other binding is refused
by `check_binding` with a message naming both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from dssoc.errors import ConfigError, SchedulerError, UnknownNameError

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

    # live state (dssoc.live), under both bindings
    def pe_free(self) -> np.ndarray:
        """True for PEs with nothing running and nothing bound (late binding binds only there)."""
        ...

    def pe_elapsed(self) -> np.ndarray:
        """Time the running task of each PE has run so far (0 if idle)."""
        ...

    def pe_expected_remaining(self) -> np.ndarray:
        """Expected time left of each PE's running task (0 if idle or overrun)."""
        ...

    def pe_queued_work(self) -> np.ndarray:
        """Expected execution time bound to each PE and waiting."""
        ...

    def pe_live_available(self) -> np.ndarray:
        """When each PE is expected to have finished all its bound work, from the live state."""
        ...

    def jobs_remaining_critical_path(self) -> dict[int, float]:
        """Expected remaining critical path of every job in the system, by job id."""
        ...


class Scheduler:
    """Base class: override `schedule`; `reset` and `on_job_arrival` are optional hooks."""

    name: ClassVar[str] = "base"
    #: the binding this scheduler is written for: "early" (DS3), "late", or None for either
    binding: ClassVar[str | None] = "early"

    def reset(self, system: SystemView, rng: np.random.Generator) -> None:
        """Called once before a run with the system and the scheduler's own random stream."""

    def on_job_arrival(self, job: JobRun, system: SystemView) -> None:
        """Called when a job is injected, before its head tasks are scheduled."""

    def schedule(self, ready: Sequence[TaskRun], system: SystemView) -> list[Assignment]:
        """Bind every task of `ready` to a PE; return (task, pe) pairs in decision order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def check_binding(scheduler: Scheduler, binding: str) -> None:
    """Refuse a scheduler written for the other binding, naming both (and the way out)."""
    needs = getattr(scheduler, "binding", "early")
    if needs is not None and needs != binding:
        name = getattr(scheduler, "name", type(scheduler).__name__)
        raise SchedulerError(
            f"scheduler {name!r} needs binding {needs!r} but the simulation uses binding "
            f"{binding!r}: set binding: {needs} (CLI --binding {needs}) or pick a scheduler "
            f"written for {binding} binding"
        )


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


def scheduler_binding(name: str | Scheduler) -> str:
    """The binding a registered scheduler (or scheduler object) runs under: "early" or "late"
    ("early" for schedulers that accept either)."""
    if isinstance(name, Scheduler):
        return name.binding or "early"
    _load_builtins()
    cls = _REGISTRY.get(name.upper())
    if cls is None:
        raise UnknownNameError("scheduler", name, scheduler_names())
    return getattr(cls, "binding", None) or "early"


def _load_builtins() -> None:
    import dssoc.schedulers  # noqa: F401  (registers the built-in schedulers)


def earliest_finish(task: TaskRun, system: SystemView, pe_available: np.ndarray) -> np.ndarray:
    """DS3's EFT estimate on every PE: exec + max(data ready - now, available - now, 0) + now."""
    start = np.maximum(system.data_ready_times(task), pe_available)
    np.maximum(start, system.now, out=start)
    start += system.exec_times(task)
    return start
