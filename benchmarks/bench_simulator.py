"""Simulator speed benchmark (not a test): simulated jobs per wall-clock second on one core.

    .venv/bin/python benchmarks/bench_simulator.py            # full run, ~1-2 minutes
    .venv/bin/python benchmarks/bench_simulator.py --quick    # smoke run, a few seconds
    .venv/bin/python benchmarks/bench_simulator.py --schedulers ETF --throughput-only
        # one scheduler's throughput only: what a side-by-side timing of two code versions runs
        # (the same script under each version's PYTHONPATH=.../envs)

Three measurements, printed as Markdown tables (docs/benchmarks.md, section "Simulator"):

1. throughput: MET, ETF and HEFT on `wifi-tx-rx` at 10 jobs/ms for 100 ms of simulated time,
   traces off, best of 3 wall times; jobs = all jobs injected in the run;
2. scaling: the same run (ETF) for 1x and 10x the simulated time; the cost ratio should be
   about 10 (linear) and must not be much above it;
3. memory: tracemalloc peak of the run (traces off) for 1x, 10x (and 50x) the simulated time,
   and what is still held after a full garbage collection; with traces off the engine keeps
   only O(jobs in flight) state plus ~20 bytes per completed job (latency, slowdown, app), so
   the held memory should stay nearly flat (finished jobs wait for the cyclic collector).

The simulator is single-threaded; BLAS threads are limited to 1 and `--pin` pins the process to
one CPU. Wall times depend on what else runs on the machine, so CPU (process) times are shown too
and the load average is printed with the results.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

from dssoc import SimConfig, Simulation, make_scheduler  # noqa: E402

WORKLOAD = "wifi-tx-rx"
RATE_JOBS_PER_MS = 10.0
DS3_JOBS_PER_S = 15.0  # DS3 itself: ~12 s wall for 20 ms at scale 100 with ETF (issue text)
TARGET_JOBS_PER_S = 2000.0  # the target for ETF: >= 100x DS3


def config(duration_us: float) -> SimConfig:
    return SimConfig.build(WORKLOAD, rate_jobs_per_ms=RATE_JOBS_PER_MS, duration_us=duration_us)


def timed_run(cfg: SimConfig, scheduler: str, seed: int = 0) -> tuple[float, float, int, float]:
    """(wall s, CPU s, jobs injected, average latency) of one run with traces off."""
    sim = Simulation(cfg, seed, trace=False)
    sched = make_scheduler(scheduler)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    result = sim.run(sched)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, result.total_injected, result.avg_latency_us


def best_of(cfg: SimConfig, scheduler: str, repeats: int) -> tuple[float, float, int, float]:
    """Best wall and best CPU time of `repeats` identical runs (same seed: same work)."""
    runs = [timed_run(cfg, scheduler) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2], runs[0][3]


def peak_memory(cfg: SimConfig, scheduler: str) -> tuple[int, int, int]:
    """(tracemalloc peak bytes during the run, bytes still held after a full garbage collection
    at the end, jobs injected). Finished jobs are reference cycles (job <-> tasks), so between
    full collections they count in the peak."""
    sim = Simulation(cfg, 0, trace=False)
    sched = make_scheduler(scheduler)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    result = sim.run(sched)
    _, peak = tracemalloc.get_traced_memory()
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base, held - base, result.total_injected


def pin_one_cpu(pin: bool) -> str:
    if pin and hasattr(os, "sched_setaffinity"):
        try:
            cpu = sorted(os.sched_getaffinity(0))[-1]
            os.sched_setaffinity(0, {cpu})
            return f"pinned to CPU {cpu}"
        except OSError:
            pass
    return "not pinned"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    ap.add_argument("--repeats", type=int, default=3, help="best of N wall times")
    ap.add_argument("--duration-ms", type=float, default=100.0, help="simulated time of a run")
    ap.add_argument("--schedulers", default="MET,ETF,HEFT",
                    help="comma-separated schedulers of the throughput table")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only the throughput table (no scaling or memory measurements)")
    ap.add_argument("--pin", action="store_true",
                    help="pin the process to one CPU (best on an otherwise idle machine)")
    args = ap.parse_args()
    duration_ms = 10.0 if args.quick else args.duration_ms
    repeats = 1 if args.quick else args.repeats
    pinned = pin_one_cpu(args.pin)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3

    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {pinned}; Python "
          f"{platform.python_version()}; load average before: {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}\n")

    # 1. throughput
    print(f"### Throughput: {WORKLOAD} at {RATE_JOBS_PER_MS:g} jobs/ms, {duration_ms:g} ms "
          f"simulated, traces off, best of {repeats}\n")
    print("| scheduler | jobs | wall (s) | jobs / wall-s | jobs / CPU-s | simulated ms / wall-s |"
          " vs DS3 (~15 jobs/s) | avg latency (µs) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    cfg = config(duration_ms * 1000)
    speeds = {}
    for name in args.schedulers.split(","):
        wall, cpu, jobs, lat = best_of(cfg, name, repeats)
        speeds[name] = jobs / wall
        print(f"| {name} | {jobs} | {wall:.3f} | {jobs / wall:,.0f} | {jobs / cpu:,.0f} | "
              f"{duration_ms / wall:,.1f} | {jobs / wall / DS3_JOBS_PER_S:,.0f}x | {lat:.1f} |")
    if "ETF" in speeds:
        verdict = "meets" if speeds["ETF"] >= TARGET_JOBS_PER_S else "MISSES"
        print(f"\nETF {verdict} the target of >= {TARGET_JOBS_PER_S:,.0f} jobs per wall-second "
              f"(about 100x DS3).\n")
    if args.throughput_only:
        return

    # 2. scaling with simulated time
    short_ms = duration_ms / 5 if not args.quick else duration_ms
    print(f"### Scaling with simulated time (ETF, best of {repeats})\n")
    print("| simulated ms | jobs | wall (s) | CPU (s) | cost ratio (CPU) | jobs / wall-s |")
    print("|---:|---:|---:|---:|---:|---:|")
    base_cpu = None
    for mult in (1, 10):
        wall, cpu, jobs, _ = best_of(config(short_ms * mult * 1000), "ETF", repeats)
        base_cpu = base_cpu or cpu
        print(f"| {short_ms * mult:g} | {jobs} | {wall:.3f} | {cpu:.3f} | {cpu / base_cpu:.2f} | "
              f"{jobs / wall:,.0f} |")

    # 3. memory, traces off
    print("\n### Peak memory (tracemalloc, ETF, traces off)\n")
    print("| simulated ms | jobs | peak (KiB) | held after gc.collect() (KiB) |")
    print("|---:|---:|---:|---:|")
    mults = (1, 10) if args.quick else (1, 10, 50)
    for mult in mults:
        peak, held, jobs = peak_memory(config(short_ms * mult * 1000), "ETF")
        print(f"| {short_ms * mult:g} | {jobs} | {peak / 1024:,.0f} | {held / 1024:,.0f} |")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
