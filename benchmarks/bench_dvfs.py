"""DVFS overhead benchmark (not a test): ETF jobs per CPU second per governor, and side by side
with another source tree (e.g. the commit before DVFS) for the default `performance` governor.

    .venv/bin/python benchmarks/bench_dvfs.py                       # governors, this tree
    git archive <commit> envs | tar -x -C /tmp/prev                 # an older tree ...
    .venv/bin/python benchmarks/bench_dvfs.py --compare /tmp/prev/envs --rounds 5   # ... vs this

Each measurement: `wifi-tx-rx` at 10 jobs/ms for 50 ms of simulated time under ETF, best of
`--repeats` CPU (process) times, in a fresh interpreter; with `--compare` the two trees alternate
for `--rounds` rounds so that machine load hits both alike, and the medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "envs"
CHILD = """
import json, sys, time
from dssoc import SimConfig, Simulation, make_scheduler
kw = {} if sys.argv[1] == "default" else {"governor": sys.argv[1]}
cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=10, duration_us=50_000, **kw)
best, jobs = float("inf"), 0
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    sim = Simulation(cfg, seed=1)
    r = sim.run(make_scheduler("ETF"))
    best, jobs = min(best, time.process_time() - t), sim.jobs_injected
print(json.dumps({"jobs_per_s": jobs / best, "latency": r.avg_latency_us, "energy": r.energy_j}))
"""


def measure(src: Path, governor: str, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, governor, str(repeats)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", type=Path, help="another tree's envs/ folder to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f}")
    if args.compare:
        runs: dict[str, list[float]] = {"this tree": [], str(args.compare): []}
        results = {}
        for _ in range(args.rounds):
            for name, src in (("this tree", HERE), (str(args.compare), args.compare)):
                m = measure(src, "default", args.repeats)
                runs[name].append(m["jobs_per_s"])
                results[name] = (m["latency"], m["energy"])
        print("| tree | ETF jobs/s (median) | runs | latency µs | energy J |\n|---|---|---|---|---|")
        for name, v in runs.items():
            lat, en = results[name]
            print(f"| {name} | {statistics.median(v):,.0f} | {', '.join(f'{x:,.0f}' for x in v)} | "
                  f"{lat:.2f} | {en:.6f} |")
        return
    print("| governor | ETF jobs/s | latency µs | energy J |\n|---|---|---|---|")
    for gov in ("default", "ondemand", "powersave", "constant-1000"):
        m = measure(HERE, gov if gov != "constant-1000" else "A7=constant-1000,A15=constant-1000",
                    args.repeats)
        print(f"| {gov} | {m['jobs_per_s']:,.0f} | {m['latency']:.1f} | {m['energy']:.5f} |")


if __name__ == "__main__":
    main()
