"""`PolicyScheduler`: run any `policy(obs) -> action` as an ordinary dssoc scheduler.

`PolicyScheduler` (v0) and `LatePolicyScheduler` (v1) also decide stepwise (`decisions`, a
coroutine yielding observations and taking actions), so that `simulate_lockstep` can run several
simulations together and answer all their pending observations with one batched policy call.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dssoc.env.actions import invalid_action_mode, resolve_action
from dssoc.env.late_observation import LateObservation
from dssoc.env.observation import ObservationBuilder, default_time_scale
from dssoc.errors import SchedulerError
from dssoc.runtime import JobRun
from dssoc.schedulers.base import Assignment, Scheduler
from dssoc.view import SimDriver, SimView

if TYPE_CHECKING:
    from dssoc.config import SimConfig
    from dssoc.metrics import SimResult

Policy = Callable[[dict[str, Any]], "int | np.integer"]
#: a scheduler's decisions at one decision point as a coroutine: yields each observation, takes
#: the action chosen for it, returns the assignments (none for late binding: it binds as it goes)
Decisions = Generator[dict[str, Any], "int | np.integer", list[Assignment]]
#: actions for several observations at once (one batched forward pass of a network)
BatchPolicy = Callable[[list[dict[str, Any]]], Sequence["int | np.integer"]]


def answer(decisions: Decisions, policy: Policy) -> list[Assignment]:
    """Run a `Decisions` coroutine to its end, asking `policy` for every action."""
    try:
        obs = next(decisions)
        while True:
            obs = decisions.send(policy(obs))
    except StopIteration as end:
        return end.value


def simulate_lockstep(config: SimConfig, schedulers: Sequence[Any], seeds: Sequence[int],
                      act: BatchPolicy) -> list[SimResult]:
    """Simulate `config` once per seed, each with its own policy scheduler (`PolicyScheduler` or
    `LatePolicyScheduler`, whose policy is not called), all in lockstep: at each step the pending
    observations of every simulation still running go to `act` together, and a simulation that
    ended drops out. Each result is what `dssoc.simulate(config, scheduler, seed)` gives with a
    policy answering as `act` does."""
    from dssoc.engine import Simulation

    if len(schedulers) != len(seeds):
        raise ValueError(f"{len(schedulers)} schedulers for {len(seeds)} seeds")
    if len({id(s) for s in schedulers}) != len(schedulers):
        raise ValueError("each simulation needs its own scheduler (they hold its observation state)")
    runs = [Simulation(config, int(seed)).steps(s) for s, seed in zip(schedulers, seeds, strict=True)]
    results: list[Any] = [None] * len(runs)
    pending: dict[int, dict[str, Any]] = {}

    def step(i: int, action: Any = None) -> None:
        try:
            pending[i] = runs[i].send(action)
        except StopIteration as end:
            pending.pop(i, None)
            results[i] = end.value

    for i in range(len(runs)):
        step(i)  # the first send must be None: it starts the run
    while pending:
        live = list(pending)
        for i, a in zip(live, act([pending[i] for i in live]), strict=True):
            step(i, a)
    return results


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

    def decisions(self, ready: Sequence, system: SimView) -> Decisions:
        """`schedule` as a coroutine (`Decisions`): one observation per ready task."""
        b = self.builder
        assert b is not None, "reset() was not called"
        b.sync()
        out: list[Assignment] = []
        for _ in range(len(ready)):
            task, pe, _ = b.act((yield b.observe()))
            out.append((task, pe))
        return out

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        return answer(self.decisions(ready, system), self.policy)


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

    def decisions(self, ready: Sequence, system: SimView) -> Decisions:
        """`schedule` as a coroutine (`Decisions`): binds each pair as it is chosen, until
        `wait` or no decision point is left; returns no pairs."""
        b = self.builder
        assert b is not None, "reset() was not called"
        sim = self._driver
        b.collect()
        while True:
            a, valid = resolve_action((yield b.observe()), b.mask, self.invalid_action)
            if not valid:
                b.invalid_actions += 1
            pair = b.decode(a)
            if pair is None:
                return []
            sim.assign(*pair)
            b.bound(pair[0])
            if not sim.has_decision():
                return []

    def schedule(self, ready: Sequence, system: SimView) -> list[Assignment]:
        return answer(self.decisions(ready, system), self.policy)
