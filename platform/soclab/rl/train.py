"""Training an RL agent of a cell, and handing back a scheduler for evaluation.

`train_agent(cell, checkpoint_dir, on_progress)` builds the agent's RLlib algorithm on short
training episodes of the cell's system (same workload, SoC, rate and noise), seeded with
`budget.train_seed_offset + first evaluation seed` (the evaluation seeds themselves are never
drawn for a training episode), trains for `budget.rl_iterations` iterations or until
`budget.time_budget_s`, reports each iteration to `on_progress` (inside Tune this feeds
`tune.report`), saves an algorithm checkpoint plus `soclab_env.json`, and returns the greedy
policy as a dssoc scheduler loaded from that checkpoint.

It runs in-process (num_env_runners=0, local learner): inside a Tune trial Ray is already up; a
standalone call starts a small local Ray if none is running.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dssoc.schedulers.base import Scheduler
from soclab.rl.recipe import VALIDATION_CURVE, RecipeStart

#: RLlib's own curves: name -> path(s) in its result dict (the engine metrics come from
#: `curve_paths`); each curve becomes an MLflow metric series `train/<name>`.
RLLIB_CURVES: dict[str, tuple[str, ...] | list[tuple[str, ...]]] = {
    "episode_return_mean": ("env_runners", "episode_return_mean"),
    "episode_len_mean": ("env_runners", "episode_len_mean"),
    "num_episodes": ("env_runners", "num_episodes"),
    "invalid_actions": ("env_runners", "invalid_actions"),
    "policy_loss": [("learners", "default_policy", "policy_loss"),
                    ("learners", "default_policy", "pi_loss")],  # IMPALA's name
    "vf_loss": ("learners", "default_policy", "vf_loss"),
    "entropy": ("learners", "default_policy", "entropy"),
    "qf_loss": ("learners", "default_policy", "qf_loss"),
    "env_steps": ("num_env_steps_sampled_lifetime",),
    "iteration_s": ("time_this_iter_s",),
}


def curve_paths() -> dict[str, tuple[str, ...] | list[tuple[str, ...]]]:
    """Every training curve: RLlib's, and the training episodes' engine metrics (each figure of
    merit of `dssoc.metric_registry`, logged by `algos.metrics_callback` under `env_runners/`)."""
    from soclab import metrics

    engine = {k: ("env_runners", k) for k in metrics.rankable()}
    return {**RLLIB_CURVES, **engine}


CURVE_PREFIX = "train/"
CURVES_FILE = "training_curves.json"  # the curves, beside the checkpoint
TORCH_THREADS_ENV = "SOCLAB_TORCH_THREADS"


@dataclass
class TrainedAgent:
    """The result of `train_agent`."""

    scheduler: Scheduler
    curves: dict[str, list[float]]
    checkpoint_dir: Path
    algorithm: str
    iterations: int
    env_config: dict[str, Any] = field(default_factory=dict)
    train_seed: int = 0
    wall_s: float = 0.0


def _get(result: dict[str, Any], path: tuple[str, ...] | list[tuple[str, ...]]) -> float:
    if isinstance(path, list):
        for p in path:
            v = _get(result, p)
            if math.isfinite(v):
                return v
        return math.nan
    v: Any = result
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return math.nan
        v = v[k]
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def agent_hyperparameters(cell: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec's hyperparameters, then tuned values (`cell.tuned`), then `overrides`."""
    return {**cell.agent.hyperparameters, **(getattr(cell, "tuned", None) or {}),
            **(overrides or {})}


def cell_env_config(cell: Any, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The training env config of a cell (see `soclab.rl.env.env_config_for`)."""
    from soclab.rl.env import env_config_for

    a = cell.agent
    extra = {k: hyperparameters[k] for k in ("reserved_seeds_below", "warm_start_us",
                                             "warm_start_teacher", "max_ready", "ratio_window")
             if k in hyperparameters}
    return env_config_for(
        cell, a.action_mode, a.reward,
        duration_us=hyperparameters.get("episode_us"),
        max_jobs=hyperparameters.get("episode_jobs"),
        max_tasks=hyperparameters.get("max_tasks"),
        reward_scale=hyperparameters.get("reward_scale"),
        env_id=hyperparameters.get("env_id"),
        **extra,
    )


#: seed distance between an agent's training copies (budget.training_seeds): RLlib seeds env
#: runner w's vector env i with seed + w + i, so adjacent seeds would share episodes; 1000 keeps
#: copies apart for < 1000 envs (demonstration seeds, seed·1000 + i, and group seeds, seed·10^8
#: + n, are then 10^6 and 10^11 apart). Every cell of a spec has the same min(seeds), so copy K
#: of every agent and point trains with the same seed (common random numbers across agents).
TRAIN_COPY_STRIDE = 1000


def train_seed(cell: Any) -> int:
    """offset + first evaluation seed, + TRAIN_COPY_STRIDE · K for training copy K."""
    k = int(getattr(cell, "training_seed_index", None) or 0)
    return (int(cell.budget.get("train_seed_offset", 10_000)) + int(min(cell.seeds, default=0))
            + TRAIN_COPY_STRIDE * k)


#: loggers whose start-up notices say nothing actionable ("running PPO on the new API stack",
#: RLlib's internal RLModuleConfig deprecation, "install gputil")
QUIET_LOGGERS = ("ray._common.deprecation", "ray.rllib.algorithms.algorithm_config",
                 "ray.tune.utils.util")


def quiet_rllib() -> None:
    import logging

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def build_algorithm(cell: Any, hyperparameters: dict[str, Any] | None = None) -> tuple[Any, dict]:
    """(RLlib Algorithm, env config) for the cell's agent (Ray must be up, or is started)."""
    from soclab.rl.algos import build_config

    quiet_rllib()
    hp = agent_hyperparameters(cell, hyperparameters)
    env_config = cell_env_config(cell, hp)
    config = build_config(cell.agent.algorithm, env_config, model=cell.agent.model,
                          hyperparameters=hp, seed=train_seed(cell))
    from soclab.ray_session import init_ray

    init_ray()
    return config.build_algo(), env_config


def env_settings(env_config: dict[str, Any], cell: Any, hyperparameters: dict[str, Any],
                 iterations: int) -> dict[str, Any]:
    """What `soclab_env.json` records: enough to rebuild the observation of the policy."""
    from soclab.rl.env import json_env_config, make_env
    from soclab.rl.late_nets import dims_from_spaces

    env = make_env(env_config)
    inner = env.unwrapped
    b = inner.builder
    if hasattr(b, "max_ready"):  # v1, late binding: ready slots x PEs + wait
        observation = {"binding": "late", "max_ready": b.max_ready, "ratio_window": b.ratio_window,
                       "env_id": env_config.get("env_id")}
    else:
        observation = {"binding": "early", "action_mode": b.action_mode, "max_tasks": b.max_tasks,
                       "graph": b.graph}
    return {
        "format": 1,
        "agent": cell.agent.name,
        "algorithm": cell.agent.algorithm,
        "model": cell.agent.model,
        **observation,
        "time_scale_us": b.time_scale,
        "reward": cell.agent.reward,
        "workload": cell.settings["workload"],
        "soc": inner.config.soc.name,
        "obs_dims": dims_from_spaces(env.observation_space, env.action_space).to_dict(),
        "env_config": json_env_config(env_config),
        "hyperparameters": hyperparameters,
        "iterations": iterations,
        "train_seed": train_seed(cell),
        "training_seed_index": int(getattr(cell, "training_seed_index", None) or 0),
        "noise": cell.noise,
        "rate_jobs_per_ms": cell.rate_jobs_per_ms,
    }


def progress_metrics(iteration: int, result: dict[str, Any], last: dict[str, float]
                     ) -> dict[str, Any]:
    """The per-iteration report: every curve, missing values carried over from the last
    iteration that had them (so a metric is always present once it has been seen)."""
    out: dict[str, Any] = {"training_iteration": iteration}
    for name, path in curve_paths().items():
        v = _get(result, path)
        if math.isfinite(v):
            last[name] = v
        out[name] = last.get(name, math.nan)
    return out


def train_agent(
    cell: Any,
    checkpoint_dir: str | Path,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    *,
    hyperparameters: dict[str, Any] | None = None,
    iterations: int | None = None,
    time_budget_s: float | None = None,
    on_status: Callable[[str], None] | None = None,
) -> TrainedAgent:
    """Train the cell's RL agent, checkpoint it and return it as a scheduler (see module doc).

    `hyperparameters` override the spec's (and tuned) ones; `iterations` / `time_budget_s`
    override the cell's budget; `on_status` gets lines of progress before RL starts (behaviour
    cloning, validation baselines)."""
    import torch

    from soclab.rl.policy import ENV_FILE, load_policy_scheduler

    torch.set_num_threads(int(os.environ.get(TORCH_THREADS_ENV, "1")))
    checkpoint_dir = Path(checkpoint_dir).resolve()
    n_iter = int(iterations or cell.budget.get("rl_iterations", 10))
    budget_s = time_budget_s if time_budget_s is not None else cell.budget.get("time_budget_s")
    hp = agent_hyperparameters(cell, hyperparameters)
    t0 = time.perf_counter()
    algo, env_config = build_algorithm(cell, hyperparameters)
    names = (*curve_paths(), VALIDATION_CURVE)
    curves: dict[str, list[float]] = {CURVE_PREFIX + k: [] for k in names}
    last: dict[str, float] = {}
    done = 0
    try:
        start = RecipeStart(algo, env_config, hp, cell, train_seed(cell), iterations=n_iter,
                            on_status=on_status)
        while done < n_iter:
            result = algo.train()
            done += 1
            metrics = progress_metrics(done, result, last)
            stop = start.after_iteration(done, done == n_iter, metrics)
            for k in names:
                curves[CURVE_PREFIX + k].append(float(metrics.get(k, math.nan)))
            metrics["time_total_s"] = time.perf_counter() - t0
            if on_progress is not None:
                on_progress(metrics)
            if stop or (budget_s is not None and time.perf_counter() - t0 >= float(budget_s)):
                break
        start.finish()
        hp = {**hp, **start.record()}
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        algo.save_to_path(checkpoint_dir.as_posix())
        settings = env_settings(env_config, cell, hp, done)
        settings["env_steps"] = last.get("env_steps")  # the budget actually trained
        (checkpoint_dir / ENV_FILE).write_text(json.dumps(settings, indent=1, default=str))
        (checkpoint_dir / CURVES_FILE).write_text(json.dumps(
            {k: [None if math.isnan(x) else x for x in v] for k, v in curves.items()}))
    finally:
        algo.stop()
    curves = {k: v for k, v in curves.items() if any(math.isfinite(x) for x in v)}
    return TrainedAgent(load_policy_scheduler(checkpoint_dir), curves, checkpoint_dir,
                        str(cell.agent.algorithm), done, env_config, train_seed(cell),
                        time.perf_counter() - t0)
