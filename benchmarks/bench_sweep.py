"""Quickstart sweep wall time and the share of it spent simulating (vs Tune/MLflow overhead).

Runs `experiments/quickstart.yaml` (or the spec given) in a fresh temporary directory with a local
Ray and a fresh SQLite store, and prints a Markdown table. Not a test: numbers go to
docs/benchmarks.md.

    python benchmarks/bench_sweep.py [SPEC] [--num-cpus 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from soclab.cells import plan_cells, plan_units
from soclab.spec import load_spec
from soclab.sweep import run_sweep

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(REPO / "experiments" / "quickstart.yaml"))
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    spec = load_spec(args.spec)
    cells = plan_cells(spec)
    with tempfile.TemporaryDirectory(prefix="soclab-bench-") as tmp:
        os.chdir(tmp)
        t0 = time.perf_counter()
        s = run_sweep(spec, num_cpus=args.num_cpus, show_progress=False)
        total = time.perf_counter() - t0
    print("| spec | cells | trials | wall s | Tune phase s | compute s | slots | "
          "compute share (whole) | compute share (Tune phase) | cells/min |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {spec.name} | {len(cells)} | {len(plan_units(spec, cells))} | {total:.1f} | "
          f"{s.tune_wall_s:.1f} | {s.compute_s:.1f} | {s.slots} | {s.compute_share:.0%} | "
          f"{s.tune_compute_share:.0%} | {len(cells) / total * 60:.0f} |")


if __name__ == "__main__":
    main()
