"""`SoCSchedEnv`: learn to order (and optionally place) ready tasks on a heterogeneous SoC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from dssoc import checks
from dssoc.checks import known_keys
from dssoc.config import CONFIG_KEYS, SimConfig
from dssoc.engine import JobRun, Simulation
from dssoc.env.observation import ObservationBuilder
from dssoc.env.rewards import DEFAULT_ENERGY_WEIGHT, VECTOR_OBJECTIVES, RewardTracker
from dssoc.errors import ConfigError

ENV_KEYS = ("action_mode", "reward", "max_tasks", "seed", "max_steps", "graph", "time_scale_us",
            "invalid_action", "energy_weight", "frequency_action")
#: The env-config key holding a whole `SimConfig` (what soclab's RL configs carry).
SIM_CONFIG_KEY = "sim_config"


def split_env_config(config: Mapping[str, Any] | None,
                     env_keys: tuple[str, ...] = ENV_KEYS) -> tuple[SimConfig, dict[str, Any]]:
    """Turn a flat dict (e.g. RLlib's `env_config`) into a `SimConfig` and the env options.

    `sim_config` holds a SimConfig; any other simulation key (a SimConfig field or input such
    as `rate_jobs_per_ms`, see `dssoc.config.CONFIG_KEYS`) overrides its field by name. Without
    `sim_config` the simulation keys are the SimConfig's inputs (workload, soc, noise spec, ...);
    giving only max_jobs means no duration limit. Env keys: `env_keys` (v0's `ENV_KEYS` by
    default).
    """
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"expected a mapping of options, got {type(config).__name__}", "env_config")
    raw = dict(config or {})
    known_keys(raw, (SIM_CONFIG_KEY, *CONFIG_KEYS, *env_keys), "env_config", "key")
    env_opts = {k: raw.pop(k) for k in env_keys if k in raw}
    base = raw.pop(SIM_CONFIG_KEY, None)
    if "max_jobs" in raw and "duration_us" not in raw:
        raw["duration_us"] = None
    if base is None:
        return SimConfig.model_validate(raw), env_opts
    if not isinstance(base, SimConfig):
        raise ConfigError(f"expected a SimConfig, got {type(base).__name__}", f"env_config.{SIM_CONFIG_KEY}")
    return (base.replace(**raw) if raw else base), env_opts


def resolve_env_config(config: SimConfig | Mapping[str, Any] | None, sim_options: Mapping[str, Any],
                       given: Mapping[str, Any], env_keys: tuple[str, ...],
                       where: str) -> tuple[SimConfig, dict[str, Any]]:
    """An env's simulation config and options from its arguments (shared by v0 and v1): a SimConfig
    as is (extra simulation keywords refused), else a dict split by `split_env_config`; the
    explicit keyword options (`given`, None = not given) override those in the dict."""
    opts: dict[str, Any]
    if isinstance(config, SimConfig):
        if sim_options:
            raise ConfigError(f"simulation options {sorted(sim_options)} given with a "
                              "SimConfig: put them in the SimConfig", where)
        sim_config, opts = config, {}
    else:
        sim_config, opts = split_env_config({**(config or {}), **sim_options}, env_keys)
    opts.update({k: v for k, v in given.items() if v is not None})
    return sim_config, opts


class SoCSchedEnv(gym.Env):
    """Schedule the ready tasks of DAG jobs streaming onto a heterogeneous SoC (DS3 semantics).

    A step is one scheduling decision. Decision points are the instants at which ready tasks
    await a PE (`Simulation.advance()` returns True); several ready tasks at one instant are
    decided one step at a time without advancing time.

    ## Action Space
    `Discrete(n_actions)`, masked by `obs["action_mask"]`:

    - `action_mode="task"` (DeepSoCS): `n_actions = max_tasks`; the action is the slot of the
      ready task to schedule next; it goes to the PE with the earliest finish time (DS3's EFT with
      its per-PE availability estimate, `dssoc.schedulers.greedy.EarliestFinishTime`).
    - `action_mode="task_pe"`: `n_actions = max_tasks * n_pes`; action = slot * n_pes + pe, valid
      for ready slots and PEs that can run the task.

    An action outside the action space (not an integer, negative, too large, `None`) raises
    `dssoc.InvalidActionError`. An action the mask rules out raises too (strict, the default);
    with `invalid_action="replace"` it is replaced by the first valid one, flagged in
    `info["invalid_action"]` and counted in `info["invalid_actions"]`. Every observation has at
    least one valid action: when no task is ready (the terminal observation) action 0 is marked
    valid as a dummy.

    ## Observation Space
    `Dict(action_mask=Box(0, 1, (n_actions,)), observations=Dict(...))`, all float32, with
    `observations`: `tasks` (max_tasks, F) per-slot task features (see
    `ObservationBuilder.task_features`), `children` (max_tasks, max_children) child slot indices
    (-1 = none; or `adjacency` (max_tasks, max_tasks) 0/1 parent->child with `graph="adjacency"`),
    `task_mask` (max_tasks,), `job_index` (max_tasks,) rank of the slot's job by age (0 = oldest),
    `pes` (n_pes, 5 + n_clusters) and `global` (6,). Times are divided by `time_scale_us`
    (default: the mean critical path of a job on the fastest PEs). Slots hold the unfinished tasks
    of the jobs in the system ordered by (job id, task index); on overflow the ready tasks and the
    oldest jobs' tasks are kept (`info["overflow_tasks"]` counts the dropped ones).

    ## Rewards
    `reward="time_in_system"` (default, Decima/DeepSoCS): minus the job-time spent in the system
    since the previous step, / time_scale; the return is -(total job time in system) / time_scale.
    `"latency"`: minus the latencies of the jobs completed since the previous step / time_scale.
    `"throughput"`: the number of jobs completed since the previous step. All jobs count,
    warm-up included (see `dssoc.env.rewards`). Energy-aware: `"latency_energy"` (latency plus
    `energy_weight` µs per mJ of energy) and `"edp"` (the run's energy-delay product, telescoped).
    Every step's `info["vector_reward"]` is the float32 pair (latency objective, energy objective)
    of `dssoc.env.rewards.VECTOR_OBJECTIVES`, both to maximise, as MO-Gymnasium's `LinearReward`
    leaves it; `MultiObjectiveReward` makes it the reward itself (with a `reward_space`).

    ## Frequency action
    With `frequency_action=True` the action also picks an operating point: action =
    base + n_base * k, where base is the task (or task x PE) action above and k = 0 keeps the
    frequencies, k >= 1 sets cluster c to OPP level l for the k-th pair of
    `self.frequency_options` [(cluster, level), ...]. The cluster keeps it (its governor is
    replaced by the agent, as Linux's `userspace`) from the next 10 µs sampling instant. The
    observation then has `observations["frequency"]` (n_clusters,) = f / f_max.

    ## Episode End
    `terminated` when the simulation ends (`duration_us` reached, or all `max_jobs` done);
    `truncated` only after `max_steps` steps if given. The final `info` holds the engine's metrics
    (`SimResult.metrics()`: avg_latency_us, throughput_jobs_per_ms, completed_jobs, energy_j,
    mean_slowdown, ...) plus the episode totals `episode_time_in_system_us`,
    `episode_latency_us`, `episode_completed_jobs`.

    ## Arguments
    `config`: a `SimConfig`, or a flat dict (see `split_env_config`) that may also carry the env
    options; keyword options override it, and simulation keys may also come as keywords (so
    RLlib's `gym.make(id, **env_config)` works). `action_mode` ("task" | "task_pe"), `reward`,
    `max_tasks` (default: max_jobs_in_flight x largest application, capped at 256), `graph`
    ("children" | "adjacency"), `time_scale_us` (> 0), `max_steps`, `seed` (used by the first
    `reset()` when it gets no seed), `invalid_action` ("raise" | "replace"). Unknown options are
    refused with the closest valid name. `reset(seed=s)` seeds `self.np_random`, from which the
    simulation seed is drawn: the same seed gives the same episode.

    ## Version History
    - v0: initial version; masked-out actions raise unless `invalid_action="replace"` (earlier
      builds always replaced them).
    """

    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium convention)

    def __init__(
        self,
        config: SimConfig | Mapping[str, Any] | None = None,
        *,
        action_mode: str | None = None,
        reward: str | None = None,
        max_tasks: int | None = None,
        graph: str | None = None,
        time_scale_us: float | None = None,
        max_steps: int | None = None,
        seed: int | None = None,
        invalid_action: str | None = None,
        render_mode: str | None = None,
        **sim_options: Any,
    ) -> None:
        given = {"action_mode": action_mode, "reward": reward, "max_tasks": max_tasks,
                 "graph": graph, "time_scale_us": time_scale_us, "max_steps": max_steps,
                 "seed": seed, "invalid_action": invalid_action,
                 "energy_weight": sim_options.get("energy_weight"),
                 "frequency_action": sim_options.get("frequency_action")}
        sim_config, opts = resolve_env_config(config, sim_options, given, ENV_KEYS, "SoCSchedEnv")
        self.config = sim_config
        self.builder = ObservationBuilder(
            sim_config,
            action_mode=opts.get("action_mode", "task"),
            max_tasks=opts.get("max_tasks"),
            graph=opts.get("graph", "children"),
            time_scale_us=opts.get("time_scale_us"),
            invalid_action=opts.get("invalid_action", "raise"),
        )
        self.rewards = RewardTracker(opts.get("reward", "time_in_system"), self.builder.time_scale,
                                     float(opts.get("energy_weight", DEFAULT_ENERGY_WEIGHT)))
        self.max_steps = opts.get("max_steps")
        if self.max_steps is not None:
            self.max_steps = checks.integer(self.max_steps, "max_steps", ge=1)
        self._default_seed = opts.get("seed")
        if self._default_seed is not None:
            self._default_seed = checks.seed(self._default_seed, "seed")
        self.frequency = FrequencyAction(sim_config, self.builder) if opts.get("frequency_action") else None
        if self.frequency is not None:
            self.observation_space = self.frequency.observation_space
            self.action_space = self.frequency.action_space
        else:
            self.observation_space = self.builder.observation_space
            self.action_space = self.builder.action_space
        self.render_mode = render_mode
        self.sim: Simulation | None = None
        self._steps = 0
        self._over = True

    @property
    def time_scale(self) -> float:
        return self.builder.time_scale

    def _on_arrival(self, job: JobRun) -> None:
        self.builder.on_arrival(job)
        self.rewards.on_arrival(job)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is None and self._np_random is None and self._default_seed is not None:
            seed = int(self._default_seed)
        super().reset(seed=seed)
        sim_seed = int(self.np_random.integers(2**31 - 1))
        self.sim = Simulation(self.config, sim_seed, on_arrival=self._on_arrival)
        if self.frequency is not None:
            self.frequency.attach(self.sim)
        self.builder.reset(self.sim)
        self.rewards.reset()
        self._steps = 0
        running = self.sim.advance()
        self.builder.sync()
        self.rewards.update(self.sim.now, self.sim.energy_j)  # no job before the first arrival
        self._over = not running
        return self._observe(), self._info(invalid=False)

    def _observe(self) -> dict[str, Any]:
        obs = self.builder.observe()
        return obs if self.frequency is None else self.frequency.observe(obs)

    def step(
        self, action: int | np.integer
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        sim = self.sim
        if sim is None or self._over:
            raise RuntimeError("the episode is over: call reset()")
        if self.frequency is not None:
            action = self.frequency.apply(action, sim)
        task, pe, valid = self.builder.act(action)
        sim.assign(task, pe)
        self._steps += 1
        reward = 0.0
        vector = (0.0, 0.0)
        terminated = False
        if not sim.ready:  # the instant is fully decided: run to the next decision point
            terminated = not sim.advance()
            self.builder.sync()
            reward = self.rewards.update(sim.now, sim.energy_j)
            vector = self.rewards.last_vector
        obs = self._observe()
        truncated = (not terminated and self.max_steps is not None
                     and self._steps >= int(self.max_steps))
        self._over = terminated or truncated
        info = self._info(invalid=not valid)
        info["vector_reward"] = np.asarray(vector, dtype=np.float32)
        if self._over:
            info.update(self.episode_metrics())
        return obs, float(reward), terminated, truncated, info

    def _info(self, invalid: bool) -> dict[str, Any]:
        b = self.builder
        return {"time_us": float(self.sim.now) if self.sim else 0.0,
                "overflow_tasks": b.overflow_tasks, "overflow_steps": b.overflow_steps,
                "invalid_action": invalid, "invalid_actions": b.invalid_actions}

    def episode_metrics(self) -> dict[str, Any]:
        """The engine's metrics for the run so far plus the exact episode reward totals."""
        assert self.sim is not None
        out: dict[str, Any] = dict(self.sim.result("policy").metrics())
        out["episode_time_in_system_us"] = self.rewards.time_in_system_us
        out["episode_latency_us"] = self.rewards.latency_us
        out["episode_completed_jobs"] = self.rewards.completed
        out["episode_energy_mj"] = self.rewards.energy_mj
        out["episode_steps"] = self._steps
        return out


class FrequencyAction:
    """The optional frequency part of the action (see `SoCSchedEnv`, "Frequency action")."""

    def __init__(self, config: SimConfig, builder: ObservationBuilder) -> None:
        from gymnasium import spaces

        clusters = config.soc.clusters
        self.options = [(c, lv) for c, cl in enumerate(clusters)
                        for lv in range(len(cl.power.opps) if cl.power is not None else 0)]
        if not self.options:
            raise ConfigError("frequency_action needs clusters with operating points", "frequency_action")
        self.fmax = [cl.power.max_opp[0] if cl.power is not None and cl.power.opps else 0 for cl in clusters]
        self.n_base = builder.n_actions
        self.n_actions = self.n_base * (1 + len(self.options))
        base = builder.observation_space
        observations = base["observations"]
        assert isinstance(observations, spaces.Dict)
        inner = dict(observations.spaces)
        inner["frequency"] = spaces.Box(0.0, 1.0, (len(clusters),), np.float32)
        self.observation_space = spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (self.n_actions,), np.float32),
            "observations": spaces.Dict(inner)})
        self.action_space: spaces.Discrete = spaces.Discrete(self.n_actions)
        self.sim: Simulation | None = None

    def attach(self, sim: Simulation) -> None:
        """Give the run a DVFS controller (even if every cluster is at performance)."""
        sim.enable_dvfs()
        self.sim = sim

    def apply(self, action: int | np.integer, sim: Simulation) -> int:
        """Act on the frequency part of `action`; return its base (task / task x PE) part."""
        k, base = divmod(int(action), self.n_base)
        if 1 <= k <= len(self.options):
            cluster, level = self.options[k - 1]
            sim.dvfs.set_policy_level(cluster, level, sim.now)  # type: ignore[union-attr]
        return base

    def observe(self, obs: dict[str, Any]) -> dict[str, Any]:
        dvfs = self.sim.dvfs if self.sim is not None else None
        freq = np.array([dvfs.frequency_mhz(c) / f if dvfs is not None and f else 1.0
                         for c, f in enumerate(self.fmax)], dtype=np.float32)
        # a new dict: the builder may reuse its own observation buffers
        return {"action_mask": np.tile(obs["action_mask"], 1 + len(self.options)),
                "observations": {**obs["observations"], "frequency": freq}}


class MultiObjectiveReward(gym.Wrapper):
    """MO-Gymnasium convention: `step` returns the vector reward (`info["vector_reward"]`,
    objectives `VECTOR_OBJECTIVES`) as a float32 array and the env has `reward_space`
    and `reward_dim`; the scalar reward moves to `info["scalar_reward"]`."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.reward_dim = len(VECTOR_OBJECTIVES)
        self.reward_space = gym.spaces.Box(-np.inf, np.inf, (self.reward_dim,), np.float32)

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info, scalar_reward=reward)
        return obs, info["vector_reward"], terminated, truncated, info
