"""Terminal output with rich: result tables, progress, steps, warnings, log verbosity.

Results go to stdout through a console that never re-wraps long lines (a printed command stays
one line when piped); progress, steps and warnings go to stderr. `set_verbosity` is the one
switch behind `--quiet` / `--verbose`: it also quiets or shows Ray's, MLflow's and Python's
warnings and INFO logs, in this process and (through the environment) in Ray workers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator
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

console = Console(soft_wrap=True)  #: results, stdout: long lines are never broken
err_console = Console(stderr=True, soft_wrap=True)  #: progress, steps, warnings

QUIET, NORMAL, VERBOSE = 0, 1, 2
VERBOSITY_ENV = "SOCLAB_VERBOSITY"
#: third-party loggers whose INFO lines are noise for a soclab user (shown with --verbose)
NOISY_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.rllib", "ray.data", "mlflow", "alembic",
                 "urllib3", "filelock", "py.warnings")


def verbosity() -> int:
    """The current verbosity (inherited by Ray workers through the environment)."""
    try:
        return int(os.environ.get(VERBOSITY_ENV, NORMAL))
    except ValueError:
        return NORMAL


def set_verbosity(level: int) -> None:
    """Quiet (errors only), normal (warnings, no third-party INFO lines, no Deprecation/Future
    warnings) or verbose (everything); applies here and in processes started afterwards."""
    os.environ[VERBOSITY_ENV] = str(level)
    apply_verbosity()


def apply_verbosity() -> None:
    """Set log levels and warning filters for the current verbosity (called in workers too)."""
    level = verbosity()
    log_level = {QUIET: logging.ERROR, NORMAL: logging.WARNING}.get(level, logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(log_level)
    os.environ["MLFLOW_LOGGING_LEVEL"] = logging.getLevelName(log_level)
    if level == QUIET:
        warnings.simplefilter("ignore")
        os.environ["PYTHONWARNINGS"] = "ignore"
    elif level == NORMAL:
        for cat in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", cat)
        warnings.filterwarnings("ignore", module=r"(setuptools|pkg_resources|mlflow|ray)(\.|$)")
        os.environ["PYTHONWARNINGS"] = "ignore::DeprecationWarning,ignore::FutureWarning"
    else:
        warnings.simplefilter("default")
        os.environ.pop("PYTHONWARNINGS", None)


def ray_logging_level() -> int:
    """`ray.init(logging_level=...)` for the current verbosity."""
    return {QUIET: logging.ERROR, NORMAL: logging.WARNING}.get(verbosity(), logging.INFO)


def progress_bar(label: str, enabled: bool = True) -> Progress:
    """The one progress layout of soclab (sweeps, training): bar, done/total, status, ETA."""
    return Progress(TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=err_console,
                    disable=not enabled or verbosity() == QUIET)


@contextlib.contextmanager
def step(label: str, enabled: bool = True) -> Iterator[None]:
    """A spinner on stderr while a slow step runs (Ray start-up, report building), then
    `label (N.N s)` once it is done; nothing with `enabled=False` or --quiet."""
    show = enabled and verbosity() != QUIET
    t0 = time.perf_counter()
    if not show:
        yield
        return
    with err_console.status(f"{label}…"):
        yield
    err_console.print(f"[dim]{label} ({time.perf_counter() - t0:.1f} s)[/dim]")


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """`warning: <message>` on stderr, once per message per process (shown even with --quiet)."""
    if message in _warned:
        return
    _warned.add(message)
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


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


def print_runs(df, columns: list[str], title: str = "",  # type: ignore[no-untyped-def]
               primary: str = "avg_latency_us") -> None:
    """Runs as a compact table (no borders, one line per row, numbers in their units; the
    primary metric with its CI) that fits 80 columns with the default column set."""
    from rich import box

    from soclab.runs import column_heading, format_frame

    shown = format_frame(df, primary)[columns]
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left",
                  padding=(0, 1))
    for c in shown.columns:
        numeric = c not in ("agent", "noise", "status", "run", "run_id")
        table.add_column(column_heading(c, primary), justify="right" if numeric else "left", no_wrap=True,
                         overflow="ellipsis")
    for row in shown.itertuples(index=False):
        table.add_row(*row)
    console.print(table)


def print_sweep_summary(summary, resumed: bool = False) -> None:  # type: ignore[no-untyped-def]
    """What a sweep did (with the time of each phase), where the report is and how to open the
    MLflow UI; the printed command stays on one line when piped."""
    s = summary
    if s.nothing_to_run:
        console.print(f"[bold]{s.spec_name}[/bold]: {s.skipped} cells already done, nothing to run"
                      + (f"; report: {s.report_path}" if s.report_path else
                         "; rebuild the report with `soclab report`"))
    else:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in s.phases.items() if v > 0)
        console.print(f"[bold]{s.spec_name}[/bold]: {s.planned} cells planned, {s.skipped} already "
                      f"done{' (resumed)' if resumed else ''}, {s.finished} ran, {s.failed} failed, "
                      f"{s.missing} missing; {s.total_s:.1f} s in all ({phases}; "
                      f"{s.tune_compute_share:.0%} of the Tune phase simulating/training)")
        for label, err in s.failures:
            console.print(f"[red]failed[/red] {label}: {err}")
        if s.report_path:
            console.print(f"report: {s.report_path}  (open in a browser; Markdown beside it)")
    from soclab.tracking import ui_url

    if s.tracking_uri.startswith("sqlite"):
        console.print(f"MLflow UI: mlflow ui --backend-store-uri {s.tracking_uri}", highlight=False)
        console.print(f"  then open {ui_url('http://127.0.0.1:5000', s.experiment_id)}  "
                      f"(experiment '{s.experiment_name}', runs table)", highlight=False)
    else:
        console.print(f"MLflow UI: {ui_url(s.tracking_uri, s.experiment_id)}  "
                      f"(experiment '{s.experiment_name}')", highlight=False)
