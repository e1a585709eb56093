"""Built-in schedulers; `make_scheduler(name)` builds one, `scheduler_names()` lists them.

The registry is filled by `dssoc.schedulers.base.register` as the modules below are imported, so
looking a name up here always sees every built-in scheduler.
"""

from dssoc.errors import ConfigError, UnknownNameError
from dssoc.schedulers import (  # noqa: F401  (registration side effects)
    cpop,
    energy_aware,
    greedy,
    heft,
    heft_rt,
    late,
    peft,
    rollout,
    simple,
)
from dssoc.schedulers.base import _REGISTRY, Assignment, Scheduler, SystemView, register
from dssoc.view import SimView


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


def scheduler_binding(name: str | Scheduler) -> str:
    """The binding a registered scheduler (or scheduler object) runs under: "early" or "late"
    ("early" for schedulers that accept either)."""
    if isinstance(name, Scheduler):
        return name.binding or "early"
    cls = _REGISTRY.get(name.upper())
    if cls is None:
        raise UnknownNameError("scheduler", name, scheduler_names())
    return getattr(cls, "binding", None) or "early"


__all__ = ["Assignment", "Scheduler", "SimView", "SystemView", "make_scheduler", "register",
           "scheduler_binding", "scheduler_names"]
