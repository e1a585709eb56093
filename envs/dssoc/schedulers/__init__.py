"""Built-in schedulers; `make_scheduler(name)` builds one, `scheduler_names()` lists them."""

from dssoc.schedulers import (  # noqa: F401  (registration side effects)
    cpop,
    energy_aware,
    greedy,
    heft,
    heft_rt,
    late,
    peft,
    simple,
)
from dssoc.schedulers.base import (
    Assignment,
    Scheduler,
    SystemView,
    make_scheduler,
    register,
    scheduler_binding,
    scheduler_names,
)

__all__ = ["Assignment", "Scheduler", "SystemView", "make_scheduler", "register", "scheduler_binding",
           "scheduler_names"]
