"""The scheduling environment under RLlib: registration by name and JSON-able env configs.

RLlib builds environments from a registered name and an `env_config` dict that crosses process
boundaries (pickled by Ray). It carries the simulation as one `SimConfig` under `sim_config`
(other SimConfig field names override its fields, as a curriculum's `rate_jobs_per_ms` does),
the `dssoc.env.SoCSchedEnv` options (action_mode, reward, max_tasks, graph, time_scale_us,
seed, ...) and soclab's own; `json_env_config` is its JSON form for checkpoints and model
cards. soclab's keys:

- `reward_scale`: multiplies every reward (value targets of order 1 train better);
- `exclude_seeds`: simulation seeds never used for training episodes (the evaluation seeds): an
  episode whose drawn simulation seed is excluded is redrawn, deterministically;
- `reserved_seeds_below`: simulation seeds below this bound are never drawn for training (they
  are kept for validation and evaluation; `soclab evaluate` refuses seeds at or above it);
- `env_id`: the Gymnasium id of the scheduling env (default `dssoc/SoCSched-v0`); the rest of
  the config goes to that env's constructor, so the same code trains on any version;
- `group_seeds`: an int base: the n-th episode of every env built with this config (in one env
  runner: every env of its vector env) is reset with the same seed, `base + 10^6 · worker_index
  + n`, so the envs of a runner roll out groups on the same input (arrivals and noise) for the
  grouped advantage (`soclab.rl.grouped`). Every info then carries `sim_seed`, the group key;
- `warm_start_us`, `warm_start_teacher` (default ETF): the teacher heuristic schedules the first
  `warm_start_us` of every episode before the agent's first decision (`soclab.rl.curriculum`);
- `episode_mean_us`: each episode's length after the warm start is drawn from an exponential
  distribution of this mean (Decima's stochastic episode lengths; `soclab.rl.curriculum`).

`_SoclabEnv.set_curriculum(rate_jobs_per_ms=..., episode_mean_us=...)` changes the load and the
mean episode length from the next reset on (the load and length curricula drive it).

Call `register()` in every process before building or restoring an Algorithm (`Algorithm.
from_checkpoint` in a fresh process needs it too); it is idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from dssoc import SimConfig
from dssoc.env.soc_sched import SIM_CONFIG_KEY
from dssoc.errors import ConfigError

ENV_NAME = "soclab-sched"
SOCLAB_ENV_KEYS = ("reward_scale", "exclude_seeds", "reserved_seeds_below", "env_id", "group_seeds",
                   "warm_start_us", "warm_start_teacher", "episode_mean_us")
GROUP_STRIDE = 1_000_000  # seeds of one env runner's groups: base + GROUP_STRIDE * worker_index + n
DEFAULT_ENV_ID = "dssoc/SoCSched-v0"
V1_IDS = ("dssoc/SoCSched-v1",)  # the late-binding env: no action_mode, max_tasks or graph
V0_ONLY_KEYS = ("action_mode", "graph", "max_tasks")
DEFAULT_EPISODE_STEPS = 400  # target decisions per training episode (see `training_duration_us`)


class _SoclabEnv(gym.Wrapper):
    """Reward scaling, held-out simulation seeds, grouped seeds, warmed-up starts and the
    curricula's load and episode length around `SoCSchedEnv` (module doc)."""

    def __init__(self, env: gym.Env, reward_scale: float = 1.0,
                 exclude_seeds: tuple[int, ...] = (), reserved_below: int = 0,
                 group_base: int | None = None, warm_start_us: float = 0.0,
                 warm_start_teacher: str = "ETF", episode_mean_us: float | None = None) -> None:
        super().__init__(env)
        from soclab.rl.bc import TEACHERS, teacher

        if warm_start_teacher not in TEACHERS:
            raise ConfigError(f"unknown warm-start teacher {warm_start_teacher!r}; valid: "
                              f"{', '.join(TEACHERS)}", "warm_start_teacher")
        if warm_start_us < 0:
            raise ConfigError(f"must be >= 0, got {warm_start_us}", "warm_start_us")
        self.warm_start_us = float(warm_start_us)
        self.teacher = teacher(warm_start_teacher)
        self.episode_mean_us = None if episode_mean_us is None else float(episode_mean_us)
        self._base_config = env.unwrapped.config
        self._rate: float | None = None
        self._rng = np.random.default_rng(0)
        self.reward_scale = float(reward_scale)
        self.exclude_seeds = frozenset(int(s) for s in exclude_seeds)
        self.reserved_below = int(reserved_below)
        self.group_base = None if group_base is None else int(group_base)
        self._episode = 0

    def _held_out(self, seed: int) -> bool:
        return seed in self.exclude_seeds or seed < self.reserved_below

    def set_curriculum(self, rate_jobs_per_ms: float | None = None,
                       episode_mean_us: float | None = None) -> None:
        """New load and / or mean episode length, used from the next reset on."""
        if rate_jobs_per_ms is not None:
            self._rate = float(rate_jobs_per_ms)
        if episode_mean_us is not None:
            self.episode_mean_us = float(episode_mean_us)

    def _configure(self, seed: int | None) -> None:
        """Set the inner env's simulation config for the next episode: the curriculum's load,
        the drawn episode length (deterministic in the reset seed) and the warm start."""
        from soclab.rl.curriculum import MIN_EPISODE_US

        if seed is not None:
            self._rng = np.random.default_rng([int(seed), 0x5EED])
        if self._rate is None and self.episode_mean_us is None and not self.warm_start_us:
            return
        base = self._base_config
        changes: dict[str, Any] = {}
        if self._rate is not None:
            changes["rate_jobs_per_ms"] = self._rate
        if self.episode_mean_us is not None:
            agent_us = max(MIN_EPISODE_US, float(self._rng.exponential(self.episode_mean_us)))
            changes["duration_us"] = float(round(self.warm_start_us + agent_us))
        elif self.warm_start_us and base.duration_us is not None:
            changes["duration_us"] = base.duration_us + self.warm_start_us
        if self.warm_start_us:
            changes["warmup_us"] = self.warm_start_us
        inner = self.env.unwrapped
        inner.config = inner.builder.config = base.replace(**changes)

    def _warm_up(self, obs: Any, info: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        """The teacher decides until `warm_start_us` of simulated time have passed; None if the
        episode ended meanwhile (no decision left for the agent: the caller draws another)."""
        inner = self.env.unwrapped
        while self.warm_start_us and inner.sim.now < self.warm_start_us:
            obs, _, term, trunc, info = self.env.step(int(self.teacher(obs, self)[0]))
            if term or trunc:
                return None
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self.group_base is not None:
            return self._reset_grouped(options)
        for _ in range(100):
            self._configure(seed)
            obs, info = self.env.reset(seed=seed, options=options)
            seed = None  # a redraw continues the same np_random
            inner = self.env.unwrapped
            for _ in range(100):
                if inner.sim is None or not self._held_out(inner.sim.seed):
                    break
                obs, info = self.env.reset(options=options)  # next draw of the same np_random
            started = self._warm_up(obs, info)
            if started is not None:
                return started
        raise ConfigError(f"every episode ended during the {self.warm_start_us:g} µs warm start: "
                          "lengthen the episodes", "warm_start_us")

    def _reset_grouped(self, options: dict[str, Any] | None):
        """Reset with the group's seed sequence (ignoring RLlib's per-env seeds); a held-out
        draw moves every env of the group on to the next seed alike."""
        assert self.group_base is not None
        for _ in range(100):
            seed = self.group_base + self._episode
            self._configure(seed)
            obs, info = self.env.reset(seed=seed, options=options)
            self._episode += 1
            if self._held_out(self.env.unwrapped.sim.seed):
                continue
            started = self._warm_up(obs, info)
            if started is not None:
                obs, info = started
                return obs, {**info, "sim_seed": int(self.env.unwrapped.sim.seed)}
        raise ConfigError("no usable group seed in 100 draws (held out, or the episode ended "
                          "during the warm start)", "group_seeds")

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.group_base is not None:
            info = {**info, "sim_seed": int(self.env.unwrapped.sim.seed)}
        return obs, float(reward) * self.reward_scale, terminated, truncated, info


def env_class(env_id: str) -> type[gym.Env]:
    """The env class registered under a Gymnasium id (`dssoc/SoCSched-v0`, ...), unwrapped."""
    from gymnasium.envs.registration import load_env_creator, registry

    import dssoc.env  # noqa: F401  (registers the dssoc ids)

    if env_id not in registry:
        known = sorted(k for k in registry if k.startswith("dssoc/"))
        raise ConfigError(f"unknown env id {env_id!r}; registered: {', '.join(known)}", "env_id")
    entry = registry[env_id].entry_point
    return load_env_creator(entry) if isinstance(entry, str) else entry  # type: ignore[return-value]


def make_env(env_config: Mapping[str, Any] | None = None) -> gym.Env:
    """Build the (wrapped) scheduling env from a JSON-able env config (RLlib's env creator)."""
    worker = int(getattr(env_config, "worker_index", 0) or 0)  # an RLlib EnvContext
    cfg = dict(env_config or {})
    cfg.pop("num_envs", None)  # added by RLlib's vector entry point
    scale = float(cfg.pop("reward_scale", 1.0))
    exclude = tuple(cfg.pop("exclude_seeds", ()) or ())
    reserved = int(cfg.pop("reserved_seeds_below", 0) or 0)
    group = cfg.pop("group_seeds", None)
    warm = float(cfg.pop("warm_start_us", 0.0) or 0.0)
    teacher = str(cfg.pop("warm_start_teacher", "ETF"))
    mean = cfg.pop("episode_mean_us", None)
    klass = env_class(str(cfg.pop("env_id", DEFAULT_ENV_ID)))
    return _SoclabEnv(klass(cfg), scale, exclude, reserved,
                      None if group is None else int(group) + GROUP_STRIDE * worker,
                      warm, teacher, None if mean is None else float(mean))


def soclab_envs(env: Any) -> list[_SoclabEnv]:
    """The soclab wrappers inside an env, a gymnasium vector env or RLlib's wrappers of one."""
    out: list[_SoclabEnv] = []
    stack = [env]
    while stack:
        e = stack.pop()
        if isinstance(e, _SoclabEnv):
            out.append(e)
        elif hasattr(e, "envs"):
            stack.extend(e.envs)
        elif hasattr(e, "env"):
            stack.append(e.env)
    return out


def register() -> str:
    """Register `ENV_NAME` with Ray Tune's registry (idempotent); returns the name."""
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    return ENV_NAME


def json_env_config(env_config: Mapping[str, Any]) -> dict[str, Any]:
    """The env config as JSON for records (`soclab_env.json`, model cards): its SimConfig as
    flat inputs (`SimConfig.json_inputs`: workload, soc, rate, noise, run length, ...), the
    rest as is."""
    out = dict(env_config)
    sim = out.pop(SIM_CONFIG_KEY, None)
    if isinstance(sim, SimConfig):
        out = {**sim.json_inputs(), **out}
    return out


def env_sim_config(env_config: Mapping[str, Any]) -> SimConfig:
    """The simulation an env built from `env_config` runs (its SimConfig with any field
    overrides, e.g. a curriculum's rate, applied)."""
    from dssoc.env.late_env import V1_ENV_KEYS
    from dssoc.env.soc_sched import ENV_KEYS, split_env_config

    cfg = {k: v for k, v in env_config.items() if k not in SOCLAB_ENV_KEYS and k != "num_envs"}
    return split_env_config(cfg, tuple(dict.fromkeys((*ENV_KEYS, *V1_ENV_KEYS))))[0]


def training_duration_us(config: SimConfig, target_steps: int = DEFAULT_EPISODE_STEPS) -> float:
    """Simulated time whose episodes take about `target_steps` decisions (one per task) at the
    configuration's injection rate, rounded to 100 µs, at least 500 µs, at most the run length."""
    wl = config.workload
    tasks_per_job = sum(p * len(a.tasks) for p, a in zip(wl.probabilities, wl.applications,
                                                          strict=True))
    per_us = config.rate_jobs_per_ms / 1000.0 * max(tasks_per_job, 1.0)
    dur = max(500.0, math.ceil(target_steps / per_us / 100.0) * 100.0)
    return min(dur, config.duration_us) if config.duration_us else dur


def env_config_for(
    source: Any,
    action_mode: str = "task",
    reward: str = "time_in_system",
    *,
    duration_us: float | None = None,
    max_jobs: int | None = None,
    warmup_us: float = 0.0,
    max_tasks: int | None = None,
    graph: str = "children",
    time_scale_us: float | None = None,
    reward_scale: float | None = None,
    exclude_seeds: tuple[int, ...] | list[int] = (),
    seed: int | None = None,
    env_id: str | None = None,
    **env_options: Any,
) -> dict[str, Any]:
    """An RLlib env config for training on a cell (`soclab.cells.Cell`) or a SimConfig: the
    SimConfig itself under `sim_config` (the run length set for training; Ray pickles it to the
    env runners) plus the env options; `json_env_config` gives its JSON form for records.

    Training episodes are short so that every training iteration completes some: by default
    `training_duration_us(config)` (~400 decisions), with no warm-up (all jobs count in the
    reward). `time_scale_us` defaults to the env's (mean critical path of the workload) and is
    pinned in the config, so evaluation on a longer run observes in the same units; `reward_scale`
    defaults to 1 for `throughput` and 0.1 otherwise. `env_id` names the env version (default
    v0; for v1 the v0-only `action_mode`, `graph` and `max_tasks` are dropped); `env_options` are
    further constructor keys of that env (v1: `max_ready`, `ratio_window`), passed through.
    """
    from dssoc.env.observation import default_time_scale

    if hasattr(source, "sim_config") and hasattr(source, "simulation"):  # a Cell
        config = source.sim_config()
        exclude_seeds = tuple(exclude_seeds) or tuple(source.seeds)
    elif isinstance(source, SimConfig):
        config = source
    else:
        raise ConfigError(f"expected a Cell or a SimConfig, got {type(source).__name__}",
                          "env_config_for")
    changes: dict[str, Any] = {"warmup_us": float(warmup_us)}
    if max_jobs is not None:
        changes.update(max_jobs=int(max_jobs),
                       duration_us=float(duration_us) if duration_us is not None else None)
    else:
        changes.update(max_jobs=None, duration_us=float(
            duration_us if duration_us is not None else training_duration_us(config)))
    cfg: dict[str, Any] = {SIM_CONFIG_KEY: config.replace(**changes)}
    cfg.update(action_mode=action_mode, reward=reward, graph=graph,
               time_scale_us=float(time_scale_us or default_time_scale(config)),
               reward_scale=float(reward_scale if reward_scale is not None
                                  else (1.0 if reward == "throughput" else 0.1)),
               exclude_seeds=sorted(int(s) for s in exclude_seeds))
    if max_tasks is not None:
        cfg["max_tasks"] = int(max_tasks)
    if seed is not None:
        cfg["seed"] = int(seed)
    if env_id is not None and env_id != DEFAULT_ENV_ID:
        env_class(env_id)  # fail early on an unknown id
        cfg["env_id"] = env_id
        if env_id in V1_IDS:  # late binding: pair actions over ready slots, no task graph
            for k in V0_ONLY_KEYS:
                cfg.pop(k, None)
    cfg.update(env_options)
    return cfg
