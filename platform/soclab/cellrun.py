"""Running one cell (an agent at one noise level and rate, over the seed set) and tracking it.

Used inside Tune trials and directly by tests. A cell is skipped when a FINISHED run with its hash
exists, and claimed in the tracking store before it runs (soclab.claims), so re-running or
resuming a sweep, or running it from two drivers at once, never duplicates a finished cell; a
failing cell is retried, then recorded as FAILED with its error, without stopping the others.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dssoc import SimResult
from soclab import metrics
from soclab.cells import Cell
from soclab.claims import Claim
from soclab.runner import resolve_scheduler, run_cell
from soclab.tracking import CELL_KIND, Tracker

RESULTS_ARTIFACT = "results.parquet"


@dataclass
class CellOutcome:
    """What happened to one cell in this invocation."""

    hash: str
    label: str
    status: str  # "finished" | "skipped" | "failed" | "held" (claimed by another live process)
    attempts: int = 0
    error: str = ""
    compute_s: float = 0.0
    run_id: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def node_tags() -> dict[str, str]:
    """Where a cell ran: the host, and the Ray node id when inside a Ray worker (multi-node)."""
    tags = {"soclab.host": socket.gethostname()}
    ray = sys.modules.get("ray")  # never import Ray just for this
    if ray is not None:
        try:
            if ray.is_initialized():
                tags["soclab.node"] = ray.get_runtime_context().get_node_id()
        except Exception:  # not in a worker, or an old Ray: the host is still recorded
            pass
    return tags


def seed_rows(cell: Cell, results: list[SimResult]) -> pd.DataFrame:
    """One row per seed: the cell's agent and point (every axis) plus every scalar metric."""
    rows = []
    for r in results:
        # on a governor axis the agent label carries the governor, so the trade-off views
        # (soclab.tradeoff) draw (scheduler, governor) pairs as agents of their own
        agent = cell.agent.name if cell.governor is None else f"{cell.agent.name}@{cell.governor}"
        row = {"cell_hash": cell.hash, "agent": agent, **cell.coordinates, "seed": r.seed,
               "governor": cell.governor or "soc"}
        row.update(r.metrics())
        rows.append(row)
    return pd.DataFrame(rows)


def summary_metrics(df: pd.DataFrame) -> dict[str, float]:
    """Mean over seeds of every tracked metric under its MLflow name (`soclab.metrics`), with
    its bootstrap 95% CI where declared: `latency.avg_us`, `latency.avg_us.ci_low`, ...
    A metric undefined on every seed (NaN: the deadline metrics when no job has a deadline) is
    not logged, rather than logged as NaN."""
    import numpy as np

    from soclab.stats import mean_ci

    out: dict[str, float] = {}
    for m in metrics.tracked():
        if m.key not in df.columns:
            continue
        values = df[m.key].to_numpy(dtype=float)
        if np.isnan(values).all():
            continue
        est = mean_ci(values)
        out[m.mlflow] = est.value
        if m.ci:
            out[f"{m.mlflow}.ci_low"] = est.low
            out[f"{m.mlflow}.ci_high"] = est.high
    return out


def cell_tags(cell: Cell, **extra: str) -> dict[str, str]:
    """Tags of a cell's run: kind, hash, spec, agent, workload and where it ran."""
    return {"soclab.kind": CELL_KIND, "soclab.cell_hash": cell.hash, "soclab.spec": cell.spec_name,
            "soclab.agent": cell.agent.name, "soclab.workload": cell.simulation["workload"],
            **node_tags(), **extra}


def cell_config(cell: Cell) -> dict[str, Any]:
    """The cell's `config.json`: only the fields that apply to its agent (no RL settings for a
    heuristic) and the simulated system."""
    key = dict(cell.key)
    key["agent"] = cell.agent.model_dump(mode="json", exclude=_unused_agent_fields(cell))
    if key.get("budget") is None:
        key.pop("budget", None)
    if cell.tuned:
        key["tuned"] = cell.tuned
    return {"cell": key, "sim_config": cell.sim_config().summary()}


def _unused_agent_fields(cell: Cell) -> set[str]:
    if cell.agent.kind == "rl":
        return {"scheduler"} if cell.agent.scheduler is None else set()
    return {"algorithm", "model", "action_mode", "reward", "hyperparameters", "search_space"}


def log_cell_run(tracker: Tracker, cell: Cell, parent_run_id: str | None, start_ms: int,
                 metrics: dict[str, float], artifacts: list[tuple[Path, str | None]],
                 series: dict[str, list[float]] | None = None, status: str | None = "FINISHED",
                 tags: dict[str, str] | None = None) -> str:
    """One tracked cell run with its real start and end time, params, metrics, the workload as
    its dataset, learning curves (metric history) and artifacts; FAILED if logging fails.
    `status=None` leaves the run open for the caller to close (a claimed cell is marked FINISHED
    only while its claim is still held)."""
    run_id = tracker.start_run(cell.label, tags or cell_tags(cell), parent_run_id,
                               start_time_ms=start_ms)
    try:
        tracker.log(run_id, params=cell.params(), metrics=metrics)
        tracker.log_workload(run_id, cell.simulation["workload"], cell.sim_config().fingerprint(),
                             f"soclab:{cell.simulation['workload']}")
        for name, values in (series or {}).items():
            tracker.log_metric_series(run_id, name, values)
        for path, dest in artifacts:
            tracker.log_artifact(run_id, path, dest)
    except BaseException:
        with contextlib.suppress(Exception):  # the store may be what failed
            tracker.end_run(run_id, "FAILED")
        raise
    if status is not None:
        tracker.end_run(run_id, status)
    return run_id


def evaluate_cell(cell: Cell, scheduler_spec: Any = None, gantt_dir: Path | None = None,
                  gantt_window_us: float | None = None) -> tuple[pd.DataFrame, Path | None]:
    """Simulate the cell's scheduler on every seed; optionally a Gantt chart of the first seed
    (`gantt_window_us` after the warm-up, or by default a few jobs after it)."""
    spec = scheduler_spec if scheduler_spec is not None else cell.agent.scheduler_spec
    results = []
    gantt = None
    for i, seed in enumerate(cell.seeds):
        config = cell.sim_config(seed)  # generated workloads: one instance per seed
        sched = resolve_scheduler(spec, cell.agent.params) if isinstance(spec, str) else spec
        want_gantt = gantt_dir is not None and i == 0
        result = run_cell(config, sched, seed, trace=want_gantt)
        if want_gantt and result.has_trace:
            lo = config.warmup_us if gantt_window_us else None
            hi = lo + gantt_window_us if lo is not None and gantt_window_us else None
            gantt = Path(result.gantt(str(gantt_dir / "gantt.png"), lo, hi))
        results.append(result)
    return seed_rows(cell, results), gantt


def execute_cell(
    cell: Cell,
    tracker: Tracker,
    parent_run_id: str | None,
    *,
    retries: int = 1,
    gantt: bool = True,
    gantt_window_us: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    wait: bool = True,
) -> CellOutcome:
    """Run and log one cell unless already finished; retry failures, then record them.

    The cell is claimed first (soclab.claims), so no other driver runs it meanwhile. A cell
    held by another live process is waited for when `wait` (it ends finished: skipped here, or
    released/expired: claimed and run here); without `wait` it comes back as "held". A store
    that became unusable raises StoreUnavailable instead of recording the cell as failed."""
    from soclab.preflight import StoreUnavailable, raise_if_store_failure

    try:
        return _claim_and_run(cell, tracker, parent_run_id, retries=retries, gantt=gantt,
                              gantt_window_us=gantt_window_us, on_progress=on_progress, wait=wait)
    except StoreUnavailable:
        raise
    except Exception as e:  # the claim's and the ledger's store calls, outside the attempts
        raise_if_store_failure(e, tracker.uri)
        raise


def _claim_and_run(cell: Cell, tracker: Tracker, parent_run_id: str | None, *, retries: int,
                   gantt: bool, gantt_window_us: float | None,
                   on_progress: Callable[[dict[str, Any]], None] | None, wait: bool) -> CellOutcome:
    """`execute_cell` without the store-failure translation: claim, skip or run the cell."""
    from soclab.claims import close_stale_cell_runs, heartbeat_interval_s, try_claim

    while True:
        done = tracker.finished_cell(cell.hash)
        if done is not None:
            return CellOutcome(cell.hash, cell.label, "skipped", run_id=done.info.run_id)
        claim = try_claim(tracker, cell.hash, parent_run_id)
        if claim is not None:
            break
        if not wait:
            return CellOutcome(cell.hash, cell.label, "held")
        time.sleep(heartbeat_interval_s())
    with claim:
        done = tracker.finished_cell(cell.hash)  # finished between our check and our claim
        if done is not None:
            return CellOutcome(cell.hash, cell.label, "skipped", run_id=done.info.run_id)
        close_stale_cell_runs(tracker, cell.hash)
        tracker.discard_unfinished(cell.hash)
        return _run_claimed(cell, tracker, parent_run_id, claim, retries=retries, gantt=gantt,
                            gantt_window_us=gantt_window_us, on_progress=on_progress)


def _run_claimed(cell: Cell, tracker: Tracker, parent_run_id: str | None, claim: Claim, *,
                 retries: int, gantt: bool, gantt_window_us: float | None,
                 on_progress: Callable[[dict[str, Any]], None] | None) -> CellOutcome:
    """The attempts of a claimed cell; only the claim's holder marks its run FINISHED."""
    from soclab.preflight import raise_if_store_failure

    error = ""
    for attempt in range(1, retries + 2):
        t0 = time.perf_counter()
        start_ms = int(time.time() * 1000)
        try:
            with tempfile.TemporaryDirectory(prefix="soclab-cell-") as tmp:
                tmpdir = Path(tmp)
                extra_metrics: dict[str, list[float]] = {}
                scheduler: Any = None
                artifacts: list[tuple[Path, str | None]] = []
                if cell.agent.kind == "rl":
                    from soclab.rl.train import train_agent

                    trained = train_agent(cell, tmpdir / "checkpoint", on_progress=on_progress)
                    scheduler = trained.scheduler
                    extra_metrics = trained.curves
                    artifacts.append((trained.checkpoint_dir, None))  # a dir: logged as checkpoint/
                df, gantt_png = evaluate_cell(cell, scheduler, tmpdir if gantt else None,
                                              gantt_window_us)
                compute_s = time.perf_counter() - t0
                df.to_parquet(tmpdir / RESULTS_ARTIFACT, index=False)
                (tmpdir / "config.json").write_text(json.dumps(cell_config(cell), indent=1,
                                                               default=str))
                artifacts += [(tmpdir / RESULTS_ARTIFACT, None), (tmpdir / "config.json", None)]
                if gantt_png is not None:
                    artifacts.append((gantt_png, None))
                metrics = summary_metrics(df) | {"run.compute_s": compute_s, "run.attempts": attempt}
                run_id = log_cell_run(tracker, cell, parent_run_id, start_ms, metrics, artifacts,
                                      extra_metrics, status=None)
                if not claim.still_held():  # stalled past the lease: the new holder finishes it
                    from soclab.claims import close_runs

                    close_runs(tracker, [tracker.client.get_run(run_id)],
                               "lost its claim (stalled past the lease); another process ran it")
                    return CellOutcome(cell.hash, cell.label, "held", attempt, "", compute_s, run_id)
                tracker.end_run(run_id, "FINISHED")
                return CellOutcome(cell.hash, cell.label, "finished", attempt, "", compute_s,
                                   run_id, df.to_dict("records"))
        except Exception as e:  # a broken cell must not stop the sweep; a broken store must
            raise_if_store_failure(e, tracker.uri)
            error = f"{type(e).__name__}: {e}"
            last_tb = traceback.format_exc()
    run_id = tracker.start_run(cell.label, cell_tags(cell, **{"soclab.error": error[:5000]}),
                               parent_run_id, start_time_ms=start_ms)
    tracker.log(run_id, params=cell.params(), metrics={"run.attempts": retries + 1})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "error.txt").write_text(last_tb)
        tracker.log_artifact(run_id, Path(tmp) / "error.txt")
    tracker.end_run(run_id, "FAILED")
    return CellOutcome(cell.hash, cell.label, "failed", retries + 1, error, 0.0, run_id)
