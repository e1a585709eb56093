"""Terminal output with rich: result tables."""

from __future__ import annotations

from pathlib import Path

from dssoc import SimResult
from rich.console import Console
from rich.table import Table

console = Console()


def print_result(result: SimResult, validated: bool = False, gantt: Path | None = None) -> None:
    """A readable table of one run's metrics."""
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
        ("energy (J)", f"{result.energy_j:.4g}"),
        ("EDP (J·s)", f"{result.edp:.4g}"),
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
    if gantt:
        console.print(f"Gantt chart written to {gantt}")
