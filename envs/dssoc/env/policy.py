"""`PolicyScheduler`: run any `policy(obs) -> action` as an ordinary dssoc scheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dssoc.env.actions import invalid_action_mode, resolve_action
from dssoc.env.late_observation import LateObservation
from dssoc.env.observation import ObservationBuilder, default_time_scale
from dssoc.errors import SchedulerError
from dssoc.runtime import JobRun
from dssoc.schedulers.base import Assignment, Scheduler
from dssoc.view import SimDriver, SimView

Policy = Callable[[dict[str, Any]], "int | np.integer"]


class PolicyScheduler(Scheduler):
    """Wraps a policy trained on `SoCSchedEnv` (same options, same observations) into a
    `Scheduler` for `dssoc.simulate`. At each decision instant it asks the policy once per ready
    task, exactly as the environment does, so env rollouts and simulations coincide.

    It sees the run through `dssoc.view.SimView` only, and hears of arrivals through the
    scheduler arrival hook (`observes_arrivals`), which `Simulation.run` installs. A masked-out
    action raises `InvalidActionError`, as in the environment, unless
    `invalid_action="replace"` (then the first valid action is taken; `invalid_actions` counts).
    """

    name = "policy"
    observes_arrivals = True

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

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        b = self.builder
        if b is None or b.config is not system.config:
            b = self.builder = ObservationBuilder(system.config, **self.options)  # type: ignore[arg-type]
        b.reset(system)

    def on_job_arrival(self, job: JobRun, system: SimView) -> None:
        assert self.builder is not None
        self.builder.on_arrival(job)

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        b = self.builder
        assert b is not None, "reset() was not called"
        b.sync()
        out: list[Assignment] = []
        for _ in range(len(ready)):
            task, pe, _ = b.act(self.policy(b.observe()))
            out.append((task, pe))
        return out


class LatePolicyScheduler(Scheduler):
    """Runs a policy trained on `dssoc/SoCSched-v1` (late binding) as a late-binding scheduler.

    At each decision point it asks the policy for one action at a time, exactly as the
    environment steps: a pair is bound at once (so the next observation sees it) and the policy is
    asked again while a decision point remains; `wait` ends the call. Because it binds through the
    simulation itself, as the environment does, it returns no pairs to the engine. Actions are
    checked as the environment checks them: a masked-out one raises unless
    `invalid_action="replace"` (then the first valid action is taken; `invalid_actions` counts).
    """

    name = "late-policy"
    binding = "late"

    def __init__(self, policy: Policy, *, max_ready: int | None = None,
                 time_scale_us: float | None = None, ratio_window: int | None = None,
                 invalid_action: str = "raise") -> None:
        self.policy = policy
        self.invalid_action = invalid_action_mode(invalid_action)
        self.options: dict[str, Any] = {"max_ready": max_ready, "time_scale_us": time_scale_us,
                                        "ratio_window": ratio_window}
        self.builder: LateObservation | None = None

    @property
    def invalid_actions(self) -> int:
        return self.builder.invalid_actions if self.builder else 0

    def reset(self, system: SimView, rng: np.random.Generator) -> None:
        if not all(callable(getattr(system, m, None)) for m in ("assign", "has_decision")):
            raise SchedulerError("LatePolicyScheduler binds as it decides: it needs a simulation it "
                                 f"can drive (dssoc.view.SimDriver), got {type(system).__name__}")
        self._driver: SimDriver = system  # type: ignore[assignment]
        b = self.builder
        if b is None or b.config is not system.config:
            scale = self.options["time_scale_us"] or default_time_scale(system.config)
            b = self.builder = LateObservation(system.config, max_ready=self.options["max_ready"],
                                               time_scale=float(scale),
                                               ratio_window=self.options["ratio_window"])
        b.reset(system)

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        b = self.builder
        assert b is not None, "reset() was not called"
        sim = self._driver
        b.collect()
        while True:
            a, valid = resolve_action(self.policy(b.observe()), b.mask, self.invalid_action)
            if not valid:
                b.invalid_actions += 1
            pair = b.decode(a)
            if pair is None:
                return []
            sim.assign(*pair)
            b.bound(pair[0])
            if not sim.has_decision():
                return []
