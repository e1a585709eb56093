"""End-to-end PPO training throughput (env steps per second) of the graph scheduler.

Trains the default recipe's PPO (graph module, `task` mode, the recipe's batch sizes) on one
workload for about `--seconds` seconds of training iterations (Ray start-up and the algorithm
build are excluded and reported apart) and prints, as its last line, one JSON object:
`env_steps_per_s`, `env_steps`, `wall_time_s`, `iterations`, `build_s`, plus the settings.

    python benchmarks/bench_training.py --seconds 30 [--env-runners 0] [--envs-per-runner 8]
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="training time to measure")
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
    args = p.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    import torch

    from dssoc import SimConfig
    from soclab.rl.algos import build_config
    from soclab.rl.env import env_config_for
    from soclab.rl.recipe import DEFAULT_RECIPE

    torch.set_num_threads(1)
    hp = dict(DEFAULT_RECIPE.hyperparameters)
    if args.env_runners is not None:
        hp["num_env_runners"] = args.env_runners
    if args.envs_per_runner is not None:
        hp["num_envs_per_env_runner"] = args.envs_per_runner
    for item in args.set:
        k, _, v = item.partition("=")
        hp[k] = json.loads(v)
    env_id = args.env_id or DEFAULT_RECIPE.env_id
    sim = SimConfig.build(args.workload, rate_jobs_per_ms=args.rate, duration_us=10_000,
                          noise=args.noise)
    env_config = env_config_for(sim, env_id=env_id,
                                **DEFAULT_RECIPE.env_options)
    cfg = build_config("PPO", env_config, model="graph", hyperparameters=hp, seed=args.seed)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=150 * 2**20)
    t0 = time.perf_counter()
    algo = cfg.build_algo()
    build_s = time.perf_counter() - t0
    steps0 = 0
    iterations = 0
    t_start, cpu_start = time.perf_counter(), time.process_time()
    steps = 0
    try:
        while time.perf_counter() - t_start < args.seconds or iterations == 0:
            result = algo.train()
            iterations += 1
            steps = int(result.get("num_env_steps_sampled_lifetime", 0)) - steps0
    finally:
        wall = time.perf_counter() - t_start
        cpu = time.process_time() - cpu_start
        algo.stop()
        ray.shutdown()
    print(json.dumps({"env_steps_per_s": round(steps / wall, 1), "env_steps": steps,
                      "wall_time_s": round(wall, 2), "iterations": iterations,
                      # this process's CPU time: on a loaded machine, steps per CPU-second say
                      # what the code does when it gets a core (env runners' actors not included)
                      "cpu_time_s": round(cpu, 2), "env_steps_per_cpu_s": round(steps / cpu, 1),
                      "build_s": round(build_s, 2), "workload": args.workload, "rate": args.rate,
                      "env_id": env_id, "hyperparameters": hp}))


if __name__ == "__main__":
    main()
