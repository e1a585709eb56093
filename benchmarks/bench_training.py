"""End-to-end PPO training throughput (env steps per second) of the graph scheduler.

Two modes, both printing, as their last line, one JSON object with `env_steps_per_s`,
`env_steps`, `wall_time_s`, `iterations`, `build_s`, plus the settings:

- default: the default recipe's PPO (`soclab.rl.recipe.DEFAULT_RECIPE`: graph module, `task`
  mode on v0, the recipe's batch sizes) on one workload, training iterations only;
- `--spec SPEC`: the spec's first RL agent exactly as `soclab train` builds and runs it (its env,
  workload, first rate and noise, hyperparameters, behaviour cloning, curricula and validation).
  The loop's wall time then includes validation (end to end); behaviour cloning is timed apart
  as `recipe_start_s` and `ppo_steps_per_s` leaves validation out.

Ray start-up and the algorithm build are excluded and reported apart (`build_s`).

    python benchmarks/bench_training.py --seconds 30 [--env-runners 0] [--envs-per-runner 8]
    python benchmarks/bench_training.py --seconds 60 --spec experiments/learned_v1_wifi_tx_rx.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="training time to measure")
    p.add_argument("--spec", default=None,
                   help="measure this spec's first RL agent as `soclab train` runs it")
    p.add_argument("--workload", default="wifi-tx-rx")
    p.add_argument("--rate", type=float, default=6.0, help="jobs per ms")
    p.add_argument("--noise", default="gaussian:0.3")
    p.add_argument("--env-runners", type=int, default=None,
                   help="RLlib env runner actors (default: the recipe's)")
    p.add_argument("--envs-per-runner", type=int, default=None,
                   help="vectorised envs per env runner (default: the recipe's)")
    p.add_argument("--env-id", default=None, help="gymnasium id of the env (default: the recipe's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hyperparameter (JSON value), e.g. --set num_epochs=2")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's hyperparameter overrides (runners, envs, --set)."""
    hp: dict[str, Any] = {}
    if args.env_runners is not None:
        hp["num_env_runners"] = args.env_runners
    if args.envs_per_runner is not None:
        hp["num_envs_per_env_runner"] = args.envs_per_runner
    for item in args.set:
        k, _, v = item.partition("=")
        hp[k] = json.loads(v)
    return hp


def default_recipe_algo(args: argparse.Namespace) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(algorithm, hyperparameters, settings) of the default recipe on the command line's system."""
    from dssoc import SimConfig
    from soclab.rl.algos import build_config
    from soclab.rl.env import env_config_for
    from soclab.rl.recipe import DEFAULT_RECIPE

    hp = {**DEFAULT_RECIPE.hyperparameters, **overrides(args)}
    env_id = args.env_id or DEFAULT_RECIPE.env_id
    sim = SimConfig.build(args.workload, rate_jobs_per_ms=args.rate, duration_us=10_000,
                          noise=args.noise)
    env_config = env_config_for(sim, env_id=env_id, **DEFAULT_RECIPE.env_options)
    cfg = build_config("PPO", env_config, model="graph", hyperparameters=hp, seed=args.seed)
    settings = {"workload": args.workload, "rate": args.rate, "noise": args.noise,
                "env_id": env_id}
    return cfg.build_algo(), hp, settings


def spec_cell(path: str) -> Any:
    """The first cell of the spec's first RL agent (its first rate, noise and seed)."""
    from dssoc.errors import DssocError
    from soclab.cells import plan_cells
    from soclab.spec import load_spec

    try:
        cells = [c for c in plan_cells(load_spec(path)) if c.agent.kind == "rl"]
    except DssocError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if not cells:
        print(f"error: {path}: no RL agent to train", file=sys.stderr)
        raise SystemExit(2)
    return cells[0]


def main() -> None:
    args = parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    import torch

    torch.set_num_threads(1)
    cell = spec_cell(args.spec) if args.spec else None
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=150 * 2**20)
    t0 = time.perf_counter()
    start: Any = None
    if cell is None:
        algo, hp, settings = default_recipe_algo(args)
    else:
        from soclab.rl.recipe import RecipeStart
        from soclab.rl.train import agent_hyperparameters, build_algorithm, train_seed

        algo, env_config = build_algorithm(cell, overrides(args))
        hp = agent_hyperparameters(cell, overrides(args))
        settings = {"spec": args.spec, "workload": cell.simulation.get("workload"),
                    **dict(cell.point), "env_id": env_config.get("env_id")}
    build_s = time.perf_counter() - t0
    recipe_start_s = 0.0
    if cell is not None:  # behaviour cloning and the first validation, timed apart
        t1 = time.perf_counter()
        start = RecipeStart(algo, env_config, hp, cell, train_seed(cell),  # curricula ramp as in
                            iterations=int(cell.budget.get("rl_iterations", 10)))  # training
        recipe_start_s = time.perf_counter() - t1
    iterations = steps = 0
    validation_s = 0.0
    t_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        while time.perf_counter() - t_start < args.seconds or iterations == 0:
            result = algo.train()
            iterations += 1
            steps = int(result.get("num_env_steps_sampled_lifetime", 0))
            if start is not None:
                t1 = time.perf_counter()
                start.after_iteration(iterations, False, {})
                validation_s += time.perf_counter() - t1
    finally:
        wall = time.perf_counter() - t_start
        cpu = time.process_time() - cpu_start
        algo.stop()
        ray.shutdown()
    out = {"env_steps_per_s": round(steps / wall, 1), "env_steps": steps,
           "wall_time_s": round(wall, 2), "iterations": iterations,
           # this process's CPU time: on a loaded machine, steps per CPU-second say what the
           # code does when it gets a core (env runners' actors not included)
           "cpu_time_s": round(cpu, 2), "env_steps_per_cpu_s": round(steps / cpu, 1),
           "build_s": round(build_s, 2)}
    if cell is not None:
        out |= {"ppo_steps_per_s": round(steps / max(wall - validation_s, 1e-9), 1),
                "validation_s": round(validation_s, 2), "recipe_start_s": round(recipe_start_s, 2)}
    print(json.dumps(out | settings | {"hyperparameters": hp}, default=str))


if __name__ == "__main__":
    main()
