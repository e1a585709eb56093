"""`LateSoCSchedEnv` (`dssoc/SoCSched-v1`): late binding, one (ready task, free PE) pair per step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from dssoc.config import SimConfig
from dssoc.engine import Simulation
from dssoc.env.actions import invalid_action_mode, resolve_action
from dssoc.env.late_observation import LateObservation
from dssoc.env.observation import default_time_scale
from dssoc.env.rewards import V1_REWARDS, RewardTracker
from dssoc.env.soc_sched import resolve_env_config
from dssoc.errors import ConfigError

V1_ENV_KEYS = ("reward", "max_ready", "seed", "max_steps", "time_scale_us", "ratio_window",
               "invalid_action")


class LateSoCSchedEnv(gym.Env):
    """Dispatch ready tasks of streaming DAG jobs to free PEs of a heterogeneous SoC (late binding).

    The simulation runs with `binding="late"` (see `dssoc.engine`): a ready task stays unbound
    until the agent binds it to a *free* PE (nothing running, nothing bound). A step is one
    decision at a decision point, an instant where an unbound ready task and a free PE that can
    run it coexist. After a binding the env stays at the same instant while a decision point
    remains; `wait` (or the last possible binding) runs the simulation to the next one. Transfer
    model: each producer pushes its output at its finish, so data-ready times are known.

    ## Action Space
    `Discrete(max_ready * n_pes + 1)`, masked by `obs["action_mask"]`: `r * n_pes + p` binds ready
    slot r to PE p (valid for occupied slots, PEs that can run the task and are free); the last
    action is `wait`, valid only when some PE is busy or has a bound task, so time always
    advances. An action outside the action space raises `dssoc.InvalidActionError`; one the mask
    rules out raises too (strict, the default), or with `invalid_action="replace"` is replaced by
    the first valid one, flagged in `info["invalid_action"]` and counted in
    `info["invalid_actions"]`. `dssoc.env.valid_actions(obs)` lists the valid actions;
    `env.decode(action)` gives the (task, PE) pair or None for wait.

    ## Observation Space
    `Dict(action_mask=Box(0, 1, (A,)), observations=Dict(pairs, ready, pes, clusters, global))`,
    float32, fixed size (the layout RLlib's action-masking modules accept). The layout, with
    feature names, is documented in `dssoc.env.late_observation` and docs/rl.md; it carries the
    live state (running tasks' elapsed and expected remaining time, bound work, live
    availability, jobs' remaining critical path, data-ready time per pair) and the per-cluster
    realized/expected duration ratio over the last `ratio_window` completions.

    ## Rewards
    As v0 (`time_in_system` default, `latency`, `throughput`) plus `differential`, the
    average-reward form of time_in_system (see `dssoc.env.rewards`). Steps that do not advance
    time earn 0.

    ## Episode End
    `terminated` when the simulation ends; `truncated` after `max_steps` steps if given. The final
    `info` holds the engine's metrics plus episode totals, as v0.

    ## Arguments
    `config`: a `SimConfig` (its binding is set to late) or a flat dict of simulation keys (see
    `dssoc.env.split_env_config`) and env options; env options: `reward`, `max_ready` (ready
    slots, default 32), `time_scale_us` (default: mean critical path of a job on the fastest PEs),
    `ratio_window` (completions per cluster in the duration-ratio window, default 16),
    `max_steps`, `seed`, `invalid_action` ("raise" | "replace"). `reset(seed=s)` gives the same
    episode for the same s.

    ## Version History
    - v1: late binding, pair actions with `wait`, live-state observations (v0 unchanged).
      Masked-out actions raise unless `invalid_action="replace"`, as in v0.
    """

    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium convention)

    def __init__(
        self,
        config: SimConfig | Mapping[str, Any] | None = None,
        *,
        reward: str | None = None,
        max_ready: int | None = None,
        time_scale_us: float | None = None,
        ratio_window: int | None = None,
        max_steps: int | None = None,
        seed: int | None = None,
        invalid_action: str | None = None,
        render_mode: str | None = None,
        **sim_options: Any,
    ) -> None:
        given = {"reward": reward, "max_ready": max_ready, "time_scale_us": time_scale_us,
                 "ratio_window": ratio_window, "max_steps": max_steps, "seed": seed,
                 "invalid_action": invalid_action}
        sim_config, opts = resolve_env_config(config, sim_options, given, V1_ENV_KEYS,
                                              "LateSoCSchedEnv")
        self.config = sim_config if sim_config.binding == "late" else sim_config.replace(binding="late")
        scale = opts.get("time_scale_us") or default_time_scale(self.config)
        if not float(scale) > 0:
            raise ConfigError(f"must be > 0, got {scale}", "time_scale_us")
        self.builder = LateObservation(self.config, max_ready=opts.get("max_ready"),
                                       time_scale=float(scale), ratio_window=opts.get("ratio_window"))
        self.rewards = RewardTracker(opts.get("reward", "time_in_system"), float(scale), valid=V1_REWARDS)
        self.invalid_action = invalid_action_mode(opts.get("invalid_action", "raise"))
        self.max_steps = opts.get("max_steps")
        if self.max_steps is not None and int(self.max_steps) < 1:
            raise ConfigError(f"must be >= 1, got {self.max_steps}", "max_steps")
        self._default_seed = opts.get("seed")
        self.observation_space = self.builder.observation_space
        self.action_space = self.builder.action_space
        self.render_mode = render_mode
        self.sim: Simulation | None = None
        self._steps = 0
        self._over = True

    @property
    def time_scale(self) -> float:
        return self.builder.time_scale

    @property
    def wait_action(self) -> int:
        return self.builder.wait_action

    def action_mask(self) -> np.ndarray:
        """Boolean mask of the valid actions at the current observation."""
        return self.builder.mask.copy()

    def decode(self, action: int | np.integer) -> tuple[Any, int] | None:
        """The (task, PE) a valid pair action binds, or None for `wait`."""
        return self.builder.decode(action)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is None and self._np_random is None and self._default_seed is not None:
            seed = int(self._default_seed)
        super().reset(seed=seed)
        sim_seed = int(self.np_random.integers(2**31 - 1))
        self.sim = Simulation(self.config, sim_seed, on_arrival=self.rewards.on_arrival)
        self.builder.reset(self.sim)
        self.rewards.reset()
        self._steps = 0
        running = self.sim.advance()
        self.rewards.update(self.sim.now)
        self._over = not running
        return self.builder.observe(terminal=not running), self._info(False)

    def step(
        self, action: int | np.integer
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        sim = self.sim
        if sim is None or self._over:
            raise RuntimeError("the episode is over: call reset()")
        b = self.builder
        a, valid = resolve_action(action, b.mask, self.invalid_action)
        if not valid:
            b.invalid_actions += 1
        self._steps += 1
        pair = b.decode(a)
        advance = pair is None
        if pair is not None:
            task, pe = pair
            sim.assign(task, pe)
            b.bound(task)
            advance = not sim.has_decision()
        reward = 0.0
        terminated = False
        if advance:
            terminated = not sim.advance()
            b.collect()
            reward = self.rewards.update(sim.now)
        obs = b.observe(terminal=terminated)
        truncated = (not terminated and self.max_steps is not None
                     and self._steps >= int(self.max_steps))
        self._over = terminated or truncated
        info = self._info(not valid)
        if self._over:
            info.update(self.episode_metrics())
        return obs, float(reward), terminated, truncated, info

    def _info(self, invalid: bool) -> dict[str, Any]:
        b = self.builder
        return {"time_us": float(self.sim.now) if self.sim else 0.0,
                "overflow_ready": b.overflow_ready, "invalid_action": invalid,
                "invalid_actions": b.invalid_actions}

    def episode_metrics(self) -> dict[str, Any]:
        """The engine's metrics for the run so far plus the exact episode reward totals."""
        assert self.sim is not None
        out: dict[str, Any] = dict(self.sim.result("policy").metrics())
        out["episode_time_in_system_us"] = self.rewards.time_in_system_us
        out["episode_latency_us"] = self.rewards.latency_us
        out["episode_completed_jobs"] = self.rewards.completed
        out["episode_steps"] = self._steps
        return out
