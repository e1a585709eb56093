"""Steps per second of `dssoc/SoCSched-v0` under a random valid (masked) policy.

    .venv/bin/python benchmarks/bench_env.py [--workload wifi-tx-rx] [--rate 10] [--mode task]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dssoc.env import SoCSchedEnv


def bench(workload: str, rate: float, duration_us: float, mode: str, episodes: int,
          seed: int) -> tuple[int, float, float]:
    """Run `episodes` episodes; return (steps, env seconds, policy seconds)."""
    env = SoCSchedEnv({"workload": workload, "rate_jobs_per_ms": rate,
                       "duration_us": duration_us}, action_mode=mode)
    rng = np.random.default_rng(seed)
    steps, t_env, t_pol = 0, 0.0, 0.0
    for ep in range(episodes):
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed + ep)
        t_env += time.perf_counter() - t0
        done = False
        while not done:
            t0 = time.perf_counter()
            valid = np.flatnonzero(obs["action_mask"])
            action = int(valid[rng.integers(valid.size)])
            t1 = time.perf_counter()
            obs, _, term, trunc, _ = env.step(action)
            t_env += time.perf_counter() - t1
            t_pol += t1 - t0
            done = term or trunc
            steps += 1
    return steps, t_env, t_pol


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="wifi-tx-rx")
    p.add_argument("--rate", type=float, default=10.0, help="jobs per ms")
    p.add_argument("--duration", type=float, default=20_000.0, help="µs per episode")
    p.add_argument("--mode", choices=("task", "task_pe", "both"), default="both")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    modes = ("task", "task_pe") if args.mode == "both" else (args.mode,)
    for mode in modes:
        steps, t_env, t_pol = bench(args.workload, args.rate, args.duration, mode,
                                    args.episodes, args.seed)
        print(f"{args.workload} rate={args.rate:g}/ms mode={mode}: {steps} steps, "
              f"{steps / t_env:,.0f} env steps/s ({steps / (t_env + t_pol):,.0f} with the "
              f"random policy)")


if __name__ == "__main__":
    main()
