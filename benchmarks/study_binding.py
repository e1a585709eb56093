"""Early vs late binding: heuristics that read the live state, as paired ratios to DS3-style ETF.

For each workload, ETF's saturation rate is measured first, with the project's definition
(`soclab.stats.saturation_point`): the injection rate at which ETF's mean latency (no noise, 3
seeds, on a geometric grid of rates) first exceeds twice its latency at the lowest rate. Every
scheduler then runs at 30/60/90% of that rate under each noise level on the same seeds (common
random numbers: same arrivals and noise draws per seed), and each cell reports mean latency
relative to ETF, mean(latency) / mean(latency of ETF) over the seeds, with a 95% paired
bootstrap CI (soclab.stats.paired_ratio_ci, seeds resampled jointly). `LB` is the contention-free
lower bound (each completed job's critical path on the fastest PEs, no transfers, no queueing)
relative to ETF's latency.

    .venv/bin/python benchmarks/study_binding.py [--seeds 15] [--duration 5000] [--procs 2]
        [--out table.md] [--json results.json] [--run HEFT,HEFT_RT --reuse results.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

import dssoc
from soclab.stats import paired_ratio_ci, saturation_point

WORKLOADS = ("wifi-tx-rx", "wifi-rx-tx", "synthetic-top")
LOADS = (0.3, 0.6, 0.9)
NOISES = {"none": "none", "gauss 0.3": "gaussian:0.3", "gauss 0.5": "gaussian:0.5",
          "persistent": "persistent:pe:3:1000:4000"}
EARLY = ("ETF", "ETF-live", "HEFT", "HEFT_RT")
LATE = ("late-ETF", "late-HEFT_RT", "late-MET", "late-CP")
SATURATION_GRID = tuple(float(r) for r in np.geomspace(0.5, 64.0, 22))  # jobs/ms


def _config(workload: str, rate: float, noise: str, binding: str, duration: float) -> dssoc.SimConfig:
    return dssoc.SimConfig.build(workload, rate_jobs_per_ms=rate, noise=noise, binding=binding,
                                 duration_us=duration, warmup_us=duration / 10, energy=False)


def _run(job: tuple) -> tuple:
    """One simulation: returns the key and (mean latency, mean lower bound of completed jobs)."""
    workload, load, noise_name, scheduler, seed, rate, duration = job
    binding = dssoc.scheduler_binding(scheduler)
    cfg = _config(workload, rate, NOISES[noise_name], binding, duration)
    sim = dssoc.Simulation(cfg, seed)
    r = sim.run(dssoc.make_scheduler(scheduler))
    bounds = [sim.apps[a].lower_bound for a in sim.completed_apps]
    lb = float(np.mean(bounds)) if bounds else float("nan")
    return (workload, load, noise_name, scheduler, seed), (r.avg_latency_us, lb)


def saturation(workload: str, duration: float) -> float:
    """ETF's saturation rate (jobs/ms): latency first exceeds 2x its low-rate latency."""
    rates, lats = [], []
    for rate in SATURATION_GRID:
        cfg = _config(workload, rate, "none", "early", duration)
        for s in range(3):
            rates.append(rate)
            lats.append(dssoc.simulate(cfg, "ETF", seed=s).avg_latency_us)
    sat = saturation_point(rates, lats, factor=2.0)
    if sat is None:
        raise SystemExit(f"{workload}: ETF does not saturate below {SATURATION_GRID[-1]:g} jobs/ms")
    return sat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=15)
    p.add_argument("--duration", type=float, default=5_000.0, help="µs per run (10%% warm-up)")
    p.add_argument("--procs", type=int, default=2, help="worker processes (at most 2 here)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--out", type=Path, default=None, help="write the markdown tables here")
    p.add_argument("--json", type=Path, default=None, help="write every estimate as JSON here")
    p.add_argument("--run", default=None,
                   help="comma-separated schedulers to (re)run, the others taken from --reuse")
    p.add_argument("--reuse", type=Path, default=None,
                   help="a previous --json output whose runs fill in the schedulers not rerun")
    args = p.parse_args()
    workloads = args.workloads.split(",")
    t0 = time.perf_counter()
    sat = {w: saturation(w, args.duration) for w in workloads}
    schedulers = EARLY + LATE
    to_run = args.run.split(",") if args.run else list(schedulers)
    if "ETF" not in to_run:
        to_run.insert(0, "ETF")  # the baseline of every ratio
    jobs = [(w, load, n, s, seed, load * sat[w], args.duration)
            for w in workloads for load in LOADS for n in NOISES for s in to_run
            for seed in range(args.seeds)]
    results: dict[tuple, tuple[float, float]] = {}
    if args.reuse:
        old = json.loads(args.reuse.read_text())
        for k, v in old["runs"].items():
            w, load, n, sched, seed = k.split("|")
            if sched not in to_run:
                results[(w, float(load), n, sched, int(seed))] = tuple(v)
    with mp.get_context("fork").Pool(min(max(args.procs, 1), 2)) as pool:
        for k, (key, value) in enumerate(pool.imap_unordered(_run, jobs, chunksize=8), 1):
            results[key] = value
            if k % max(len(jobs) // 20, 1) == 0:
                print(f"  {k}/{len(jobs)} runs, {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                      flush=True)
    wall = time.perf_counter() - t0

    estimates: dict[tuple, dict] = {}
    lines = ["ETF saturation (jobs/ms): " + ", ".join(f"{w} {sat[w]:.2f}" for w in workloads),
             f"{args.seeds} seeds, {args.duration:g} µs per run, {len(jobs)} runs in {wall:.0f} s", ""]
    for w in workloads:
        lines += [f"#### {w}", "",
                  "| load | noise | " + " | ".join(schedulers[1:]) + " | LB | ETF latency (µs) |",
                  "|---|---|" + "---|" * (len(schedulers) + 1)]
        for load in LOADS:
            for n in NOISES:
                base = [results[(w, load, n, "ETF", s)][0] for s in range(args.seeds)]
                cells = []
                for sched in schedulers[1:]:
                    lat = [results[(w, load, n, sched, s)][0] for s in range(args.seeds)]
                    e = paired_ratio_ci(lat, base)
                    estimates[(w, load, n, sched)] = e.to_dict()
                    cells.append(f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]")
                lb = [results[(w, load, n, "ETF", s)][1] for s in range(args.seeds)]
                e = paired_ratio_ci(lb, base)
                estimates[(w, load, n, "LB")] = e.to_dict()
                cells.append(f"{e.value:.2f}")
                lines.append(f"| {load:.0%} | {n} | " + " | ".join(cells)
                             + f" | {np.mean(base):.0f} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        payload = {"saturation_jobs_per_ms": sat, "seeds": args.seeds, "duration_us": args.duration,
                   "noise": NOISES, "wall_s": wall,
                   "estimates": {"|".join(map(str, k)): v for k, v in estimates.items()},
                   "runs": {"|".join(map(str, k)): v for k, v in results.items()}}
        args.json.write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
