"""`PolicyScheduler`: run any `policy(obs) -> action` as an ordinary dssoc scheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dssoc.engine import JobRun, Simulation
from dssoc.env.observation import ObservationBuilder
from dssoc.errors import SchedulerError
from dssoc.schedulers.base import Assignment, Scheduler, SystemView

Policy = Callable[[dict[str, Any]], "int | np.integer"]


class PolicyScheduler(Scheduler):
    """Wraps a policy trained on `SoCSchedEnv` (same options, same observations) into a
    `Scheduler` for `dssoc.simulate`. At each decision instant it asks the policy once per ready
    task, exactly as the environment does, so env rollouts and simulations coincide.

    The system must be a `dssoc.Simulation` driven by `Simulation.run` (which installs the
    arrival hook). A masked-out action raises `InvalidActionError`, as in the environment, unless
    `invalid_action="replace"` (then the first valid action is taken; `invalid_actions` counts).
    """

    name = "policy"

    def __init__(
        self,
        policy: Policy,
        *,
        action_mode: str = "task",
        max_tasks: int | None = None,
        graph: str = "children",
        time_scale_us: float | None = None,
        invalid_action: str = "raise",
    ) -> None:
        self.policy = policy
        self.options = {"action_mode": action_mode, "max_tasks": max_tasks, "graph": graph,
                        "time_scale_us": time_scale_us, "invalid_action": invalid_action}
        self.builder: ObservationBuilder | None = None

    @property
    def invalid_actions(self) -> int:
        return self.builder.invalid_actions if self.builder else 0

    def reset(self, system: SystemView, rng: np.random.Generator) -> None:
        if not isinstance(system, Simulation):
            raise SchedulerError(f"PolicyScheduler needs a dssoc Simulation, got {type(system)}")
        b = self.builder
        if b is None or b.config is not system.config:
            b = self.builder = ObservationBuilder(system.config, **self.options)  # type: ignore[arg-type]
        b.reset(system)

    def on_job_arrival(self, job: JobRun, system: SystemView) -> None:
        assert self.builder is not None
        self.builder.on_arrival(job)

    def schedule(self, ready: Sequence, system: SystemView) -> list[Assignment]:
        b = self.builder
        assert b is not None, "reset() was not called"
        b.sync()
        out: list[Assignment] = []
        for _ in range(len(ready)):
            task, pe, _ = b.act(self.policy(b.observe()))
            out.append((task, pe))
        return out
