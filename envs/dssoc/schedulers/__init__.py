"""Built-in schedulers; `make_scheduler(name)` builds one, `scheduler_names()` lists them.

The registry is filled by `dssoc.schedulers.base.register` as the modules below are imported, so
looking a name up here always sees every built-in scheduler.
"""

from dssoc.errors import UnknownNameError
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
from dssoc.schedulers.base import (
    _REGISTRY,
    Assignment,
    Scheduler,
    SystemView,
    make_scheduler,
    register,
    scheduler_names,
)
from dssoc.view import SimView


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
