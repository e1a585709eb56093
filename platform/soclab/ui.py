"""Terminal output with rich: result tables."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dssoc import SimResult
from dssoc.validate import PlanDrift

console = Console()


def progress_bar(label: str, enabled: bool = True) -> Progress:
    """The one progress layout of soclab (sweeps, training): bar, done/total, status, ETA."""
    return Progress(TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled)


def print_result(result: SimResult, validated: bool = False, gantt: Path | None = None,
                 drift: PlanDrift | None = None) -> None:
    """A readable table of one run's metrics (and, for a planner, its drift from the plan)."""
    cfg = result.config
    table = Table(title=f"{result.scheduler} · {cfg['workload']} on {cfg['soc']} · seed {result.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("average latency (µs)", f"{result.avg_latency_us:.1f}"),
        ("p50 / p95 / p99 latency (µs)",
         f"{result.p50_latency_us:.0f} / {result.p95_latency_us:.0f} / {result.p99_latency_us:.0f}"),
        ("mean slowdown (latency / lower bound)", f"{result.mean_slowdown:.2f}"),
        ("completed / injected jobs", f"{result.completed_jobs} / {result.injected_jobs}"),
        ("injection rate (jobs/ms)", f"{result.injection_rate_jobs_per_ms:.3f}"),
        ("throughput (jobs/ms)", f"{result.throughput_jobs_per_ms:.3f}"),
        ("energy (J) / per job (mJ)", f"{result.energy_j:.4g} / {result.energy_per_job_j * 1e3:.4g}"),
        ("EDP (J·s)", f"{result.edp:.4g}"),
        *([("deadline misses / mean tardiness (µs) / p99 lateness (µs)",
            f"{result.deadline_miss_rate:.1%} / {result.mean_tardiness_us:.1f} / "
            f"{result.p99_lateness_us:.1f}")] if not math.isnan(result.deadline_miss_rate) else []),
        *([("governors", str(cfg["governor"]))] if "governor" in cfg else []),
        ("simulated time (µs)", f"{result.sim_time_us:.0f}"),
        ("wall time (s)", f"{result.wall_time_s:.3f}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    busiest = sorted(result.utilization.items(), key=lambda kv: -kv[1])[:6]
    console.print("utilisation: " + ", ".join(f"{pe} {u:.0%}" for pe, u in busiest))
    if validated:
        console.print("[green]schedule valid[/green]: precedence, transfers, PE overlap, "
                      "support, job accounting")
    if drift is not None:
        console.print(f"plan drift: {drift}")
    if gantt:
        console.print(f"Gantt chart written to {gantt}")


def print_frame(df, title: str = "") -> None:  # type: ignore[no-untyped-def]
    """A pandas DataFrame as a rich table (floats rounded)."""
    table = Table(title=title)
    for c in df.columns:
        table.add_column(str(c))
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


def print_sweep_summary(summary, resumed: bool = False) -> None:  # type: ignore[no-untyped-def]
    """What a sweep did, where the report is and how to open the MLflow UI."""
    s = summary
    console.print(f"[bold]{s.spec_name}[/bold]: {s.planned} cells planned, {s.skipped} already "
                  f"finished{' (resumed)' if resumed else ''}, {s.finished} ran, {s.failed} failed"
                  f", {s.missing} missing; {s.wall_s:.1f} s wall ({s.tune_wall_s:.1f} s in Tune, "
                  f"{s.tune_compute_share:.0%} of it simulating/training)")
    for label, err in s.failures:
        console.print(f"[red]failed[/red] {label}: {err}")
    if s.report_path:
        console.print(f"report: {s.report_path}  (open in a browser; Markdown beside it)")
    if s.tracking_uri.startswith("sqlite"):
        console.print(f"MLflow UI: mlflow ui --backend-store-uri {s.tracking_uri}   "
                      f"(experiment '{s.experiment_name}')")
    else:
        console.print(f"MLflow UI: {s.tracking_uri}  (experiment '{s.experiment_name}')")
