"""Cluster throughput and per-trial overheads on this machine (for docs/benchmarks.md "## Cluster"
and the capacity plan in cluster/README.md).

    .venv/bin/python cluster/bench_cluster.py [--spec experiments/quickstart.yaml]
        [--backend-store-uri postgresql://...] [--out bench-cluster.json]

For each layout (1 node x 1 CPU, 2 nodes x 1 CPU, 1 node x 2 CPUs) it starts a real local
cluster (`soclab cluster local`, token auth, tracking server), runs the spec as a subprocess
driver (`soclab sweep --address ... --tracking-uri ...`, fresh experiment), and records wall
time, cells/minute, the driver's CPU seconds and the tracking server's CPU seconds. It then
measures per-cell tracking overhead (execute_cell vs. evaluate_cell against the server) and
per-trial Tune overhead (one-cell trials of near-zero work). Every process it starts is stopped
(`stop_local_cluster`), also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from soclab.cluster import ClusterState, session_processes, start_local_cluster, stop_local_cluster

SOCLAB = str(Path(sys.executable).with_name("soclab"))
LAYOUTS = (("1 node x 1 CPU", 0, 1), ("2 nodes x 1 CPU", 1, 1), ("1 node x 2 CPUs", 0, 2))


def _cpu(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:
            continue
    return total


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_spec(state: ClusterState, spec_doc: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """One sweep of `spec_doc` (fresh experiment) through a subprocess driver; measurements."""
    import mlflow

    doc = json.loads(json.dumps(spec_doc))
    experiment = f"bench-cluster/{doc['name']}-{uuid.uuid4().hex[:8]}"
    doc.setdefault("tracking", {})["experiment_name"] = experiment
    spec = workdir / f"{doc['name']}-{uuid.uuid4().hex[:6]}.yaml"
    spec.write_text(yaml.safe_dump(doc))
    assert state.tracking
    server = session_processes(state.tracking["pid"], state.tracking["started_at"])
    cpu_server0, cpu_driver0 = _cpu(server), _children_cpu()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | state.client_env()
    t0 = time.perf_counter()
    out = subprocess.run([SOCLAB, "sweep", str(spec), "--address", state.address,
                          "--tracking-uri", str(state.tracking_uri), "--no-report",
                          "--output-dir", str(workdir / "out")], env=env, capture_output=True,
                         text=True, timeout=3600, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"sweep failed: {out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    cpu_driver = _children_cpu() - cpu_driver0
    cpu_server = _cpu(server) - cpu_server0
    client = mlflow.MlflowClient(str(state.tracking_uri))
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=50_000)
    cells = [r for r in runs if r.data.tags.get("soclab.kind") == "cell"]
    sweep = next(r for r in runs if r.data.tags.get("soclab.kind") == "sweep")
    n = len(cells)
    import re

    tune = re.search(r"([\d.]+) s in Tune", " ".join(out.stdout.split()))
    sweep_wall = float(sweep.data.metrics["wall_s"])
    return {"cells": n, "wall_s": wall, "sweep_wall_s": sweep_wall,
            "tune_wall_s": float(tune.group(1)) if tune else sweep_wall,
            "cells_per_min": 60.0 * n / wall,
            "compute_s": sum(r.data.metrics.get("compute_s", 0.0) for r in cells),
            "driver_cpu_s": cpu_driver, "server_cpu_s": cpu_server,
            "nodes_used": len({r.data.tags.get("soclab.node") for r in cells})}


def tracking_overhead(uri: str, spec_doc: dict[str, Any], n: int = 20) -> dict[str, float]:
    """Per-cell cost of the MLflow ledger (skip check, run, params, metrics, artifacts) against
    the server: execute_cell minus evaluate_cell on the same tiny cells."""
    from soclab.cellrun import evaluate_cell, execute_cell
    from soclab.cells import plan_cells
    from soclab.spec import spec_from_dict
    from soclab.tracking import Tracker

    doc = json.loads(json.dumps(spec_doc))
    doc["name"] = "overhead"
    doc["simulation"] = {**doc.get("simulation", {}), "duration_us": 1000, "warmup_us": 100}
    doc["axes"] = {"noise": ["none"], "rates_jobs_per_ms": [1 + i for i in range(n)],
                   "seeds": [0]}
    doc["agents"] = [{"name": "MET"}]
    doc["baselines"] = ["MET"]
    doc["tracking"] = {"experiment_name": f"bench-cluster/overhead-{uuid.uuid4().hex[:8]}"}
    doc["report"] = {"gantt": False}
    spec = spec_from_dict(doc)
    cells = plan_cells(spec)
    tracker = Tracker(uri, spec.experiment_name)
    t0 = time.perf_counter()
    for c in cells:
        evaluate_cell(c, None, None)
    sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in cells:
        execute_cell(c, tracker, None, retries=0, gantt=False)
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in cells:  # the resume path: every cell already finished -> one query each
        execute_cell(c, tracker, None, retries=0, gantt=False)
    skip = time.perf_counter() - t0
    return {"cells": len(cells), "tracking_ms_per_cell": 1000 * (full - sim) / len(cells),
            "skip_check_ms_per_cell": 1000 * skip / len(cells)}


def driver_scaling(state: ClusterState, tiny: dict[str, Any], work: Path) -> dict[str, float]:
    """Driver (Tune controller + MLflow ledger) CPU per trial: the slope between a 4-trial and a
    24-trial sweep of near-zero one-cell trials; and the size of a cell in the trial configs."""
    from soclab.cells import plan_cells
    from soclab.spec import spec_from_dict

    small = json.loads(json.dumps(tiny))
    small["axes"]["rates_jobs_per_ms"] = [1, 2, 3, 4]
    big = json.loads(json.dumps(tiny))
    big["axes"]["rates_jobs_per_ms"] = list(range(1, 25))
    a, b = run_spec(state, small, work), run_spec(state, big, work)
    payload = [len(json.dumps(c.to_payload())) for c in plan_cells(spec_from_dict(big))]
    return {"driver_cpu_s_4_trials": a["driver_cpu_s"], "driver_cpu_s_24_trials": b["driver_cpu_s"],
            "driver_cpu_s_per_trial": (b["driver_cpu_s"] - a["driver_cpu_s"]) / 20,
            "tune_wall_s_4": a["tune_wall_s"], "tune_wall_s_24": b["tune_wall_s"],
            "server_cpu_s_per_cell": (b["server_cpu_s"] - a["server_cpu_s"]) / 20,
            "cell_payload_bytes": sum(payload) / len(payload)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="experiments/quickstart.yaml")
    ap.add_argument("--backend-store-uri", default=os.environ.get("SOCLAB_TEST_POSTGRES_URI"))
    ap.add_argument("--out", default="bench-cluster.json")
    ap.add_argument("--layouts", default="all", help="comma-separated indexes into LAYOUTS")
    args = ap.parse_args()
    spec_doc = yaml.safe_load(Path(args.spec).read_text())
    spec_doc.setdefault("name", Path(args.spec).stem)
    picks = range(len(LAYOUTS)) if args.layouts == "all" else [int(i) for i in args.layouts.split(",")]
    results: dict[str, Any] = {"spec": args.spec, "backend": "postgresql" if args.backend_store_uri
                               else "sqlite (via the tracking server)",
                               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                           "loadavg_start": os.getloadavg()}, "layouts": {}}
    with tempfile.TemporaryDirectory(prefix="soclab-bench-") as tmp:
        work = Path(tmp)
        for i in picks:
            label, workers, cpus = LAYOUTS[i]
            state_dir = work / f"state{i}"
            state = start_local_cluster(workers, state_dir=state_dir, head_cpus=cpus,
                                        worker_cpus=cpus, backend_store_uri=args.backend_store_uri)
            try:
                quick = run_spec(state, spec_doc, work)
                # Tune's fixed cost per trial: one-cell trials of near-zero work
                tiny = json.loads(json.dumps(spec_doc))
                tiny.update(name="pertrial", baselines=[tiny["agents"][0]["name"]],
                            agents=[tiny["agents"][0]], report={"gantt": False})
                tiny["simulation"] = {**tiny.get("simulation", {}), "duration_us": 1000,
                                      "warmup_us": 100}
                tiny["axes"] = {"noise": ["none"], "rates_jobs_per_ms": [1, 2, 3, 4, 5, 6, 7, 8],
                                "seeds": [0]}
                tiny["tune"] = {**tiny.get("tune", {}), "cells_per_trial": 1}
                per_trial = run_spec(state, tiny, work)
                slots = workers + 1 if cpus == 1 else cpus
                per_trial["trial_overhead_s"] = (per_trial["tune_wall_s"] * min(
                    slots, int(tiny["tune"].get("max_concurrent_trials", 2)))
                    - per_trial["compute_s"]) / per_trial["cells"]
                results["layouts"][label] = {"quickstart": quick, "one_cell_trials": per_trial}
                if i == picks[-1]:
                    results["tracking"] = tracking_overhead(str(state.tracking_uri), spec_doc)
                    results["driver"] = driver_scaling(state, tiny, work)
            finally:
                stop_local_cluster(state_dir)
            print(json.dumps({label: results["layouts"][label]}, indent=1), flush=True)
    results["machine"]["loadavg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results.get("tracking"), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
