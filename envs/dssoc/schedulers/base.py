"""The one scheduler interface, shared by heuristics and learned policies, and its registry.

A scheduler is called whenever tasks are ready (DS3 semantics: once per instant, with the whole
ready list) and binds every ready task to a PE, returning the bindings in the order it decided
them (that order breaks ties between tasks of the same job in the PE queues). It sees the system
through `dssoc.view.SimView` (expected execution times only, never the noisy actual ones).
A scheduler that wants to hear of each job's injection (a planner planning the whole job at its
arrival) opts in with `observes_arrivals = True`; the engine then calls `on_job_arrival`.

Each scheduler declares the binding it is written for (`Scheduler.binding`): "early" (DS3, the
default: bind every ready task, to any PE) or "late" (called at decision points; binds some ready
tasks to *free* PEs and may leave others waiting). Running one under the other binding is refused
by `check_binding` with a message naming both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dssoc.errors import ConfigError, SchedulerError, UnknownNameError
from dssoc.view import SimView

if TYPE_CHECKING:
    from dssoc.runtime import JobRun, TaskRun

Assignment = tuple["TaskRun", int]


SystemView = SimView  # the name schedulers were first written against


class Scheduler:
    """Base class: override `schedule`; `reset` is an optional hook, and so is `on_job_arrival`
    for schedulers that set `observes_arrivals`."""

    name: ClassVar[str] = "base"
    #: the binding this scheduler is written for: "early" (DS3), "late", or None for either
    binding: ClassVar[str | None] = "early"
    #: True: the engine calls `on_job_arrival` at every injection (explicit opt-in)
    observes_arrivals: ClassVar[bool] = False
    #: True: it copies and simulates the run ahead at each decision (needs the engine itself, not
    #: only `SimView`, and costs many simulations per run; see dssoc.schedulers.rollout)
    simulates_ahead: ClassVar[bool] = False

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        """Called once before a run with the system and the scheduler's own random stream."""

    def on_job_arrival(self, job: JobRun, system: SimView) -> None:
        """Called when a job is injected, before its head tasks are scheduled (only when
        `observes_arrivals` is set)."""

    def schedule(self, ready: Sequence[TaskRun], system: SimView) -> list[Assignment]:
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


_REGISTRY: dict[str, Callable[..., Scheduler]] = {}  # filled by `register`, read by dssoc.schedulers


def register(name: str) -> Callable[[type[Scheduler]], type[Scheduler]]:
    """Class decorator adding a scheduler to the registry under `name` (case-insensitive)."""

    def deco(cls: type[Scheduler]) -> type[Scheduler]:
        cls.name = name
        _REGISTRY[name.upper()] = cls
        return cls

    return deco


def earliest_finish(task: TaskRun, system: SimView, pe_available: np.ndarray) -> np.ndarray:
    """DS3's EFT estimate on every PE: exec + max(data ready - now, available - now, 0) + now."""
    start = np.maximum(system.data_ready_times(task), pe_available)
    np.maximum(start, system.now, out=start)
    start += system.exec_times(task)
    return start


def scheduler_names() -> list[str]:
    """The registered scheduler names, sorted."""
    return sorted(cls.name for cls in _REGISTRY.values())  # type: ignore[attr-defined]


def make_scheduler(name: str | Scheduler, **kwargs: object) -> Scheduler:
    """Instantiate a registered scheduler by name (`MET`, `etf`, `heft_rt`, ...)."""
    if isinstance(name, Scheduler):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"expected a scheduler name or a Scheduler, got {type(name).__name__}",
                          "scheduler")
    cls = _REGISTRY.get(name.upper())
    if cls is None:
        raise UnknownNameError("scheduler", name, scheduler_names())
    return cls(**kwargs)
