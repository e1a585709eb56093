"""Steps per second of `dssoc/SoCSched-v0` and `-v1` under a random valid (masked) policy.

    .venv/bin/python benchmarks/bench_env.py [--workload wifi-tx-rx] [--rate 10] [--mode task]
        [--env v0|v1|both]

v1 (late binding) is timed in wall-clock and in process CPU time (`time.process_time`, the
number to read on a shared, loaded machine: it counts only this process's own core time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dssoc.env import LateSoCSchedEnv, SoCSchedEnv, valid_actions


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


def bench_v1(workload: str, rate: float, duration_us: float, episodes: int,
             seed: int) -> tuple[int, float, float]:
    """v1 with a random valid action per step (waits included); returns (steps, wall s, CPU s)."""
    env = LateSoCSchedEnv({"workload": workload, "rate_jobs_per_ms": rate,
                           "duration_us": duration_us})
    rng = np.random.default_rng(seed)
    steps = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            valid = valid_actions(obs)
            obs, _, term, trunc, _ = env.step(int(valid[rng.integers(valid.size)]))
            done = term or trunc
            steps += 1
    return steps, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="wifi-tx-rx")
    p.add_argument("--rate", type=float, default=10.0, help="jobs per ms")
    p.add_argument("--duration", type=float, default=20_000.0, help="µs per episode")
    p.add_argument("--mode", choices=("task", "task_pe", "both"), default="both")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env", choices=("v0", "v1", "both"), default="both")
    args = p.parse_args()
    modes = ("task", "task_pe") if args.mode == "both" else (args.mode,)
    if args.env in ("v1", "both"):
        steps, wall, cpu = bench_v1(args.workload, args.rate, args.duration, args.episodes, args.seed)
        print(f"{args.workload} rate={args.rate:g}/ms v1 (late binding): {steps} steps, "
              f"{steps / wall:,.0f} steps/s wall, {steps / cpu:,.0f} steps/s CPU, random policy "
              "included")
    if args.env == "v1":
        return
    for mode in modes:
        steps, t_env, t_pol = bench(args.workload, args.rate, args.duration, mode,
                                    args.episodes, args.seed)
        print(f"{args.workload} rate={args.rate:g}/ms mode={mode}: {steps} steps, "
              f"{steps / t_env:,.0f} env steps/s ({steps / (t_env + t_pol):,.0f} with the "
              f"random policy)")


if __name__ == "__main__":
    main()
