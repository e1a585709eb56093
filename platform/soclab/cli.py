"""The `soclab` command line: simulate, and the experiment platform's verbs.

Bad input never shows a traceback: errors from dssoc/soclab are printed as one line
`error: <where>: <what>` on stderr with exit code 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(
    name="soclab",
    help="Experiments on scheduling DAG jobs onto heterogeneous SoCs (simulator, RL, sweeps).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn the project's input errors (and missing files) into one line + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dssoc.errors import DssocError

        try:
            return fn(*args, **kwargs)
        except DssocError as e:
            raise fail(str(e)) from None
        except FileNotFoundError as e:
            raise fail(f"{e.filename}: file not found") from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            if os.environ.get("SOCLAB_DEBUG"):
                raise
            raise fail(f"internal error: {type(e).__name__}: {e} (set SOCLAB_DEBUG=1 for the "
                       "traceback)", code=1) from None

    return wrapper  # type: ignore[return-value]


def _parse_probabilities(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise fail(f"--probabilities: expected comma-separated numbers, got {text!r}") from None


@app.command()
@friendly_errors
def simulate(
    workload: Annotated[str, typer.Option(help="Workload preset, application name, or JSON/YAML file.")] = "wifi-tx-rx",
    soc: Annotated[str | None, typer.Option(help="SoC name or file (default: the workload's SoC).")] = None,
    ds3_config: Annotated[Path | None, typer.Option("--ds3-config", help="A DS3 config_file.ini to import (overrides workload/soc).")] = None,
    probabilities: Annotated[str | None, typer.Option(help="Application mix override, e.g. 0.5,0.5.")] = None,
    scheduler: Annotated[str, typer.Option(help="Scheduler name, or checkpoint:PATH for a trained policy.")] = "ETF",
    scale: Annotated[float | None, typer.Option(help="Mean inter-arrival time (µs).")] = None,
    rate: Annotated[float | None, typer.Option(help="Injection rate (jobs/ms); alternative to --scale.")] = None,
    duration: Annotated[float | None, typer.Option(help="Simulated time (µs).")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up (µs) excluded from metrics.")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Stop after injecting (and finishing) N jobs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of all random streams.")] = 0,
    noise: Annotated[str | None, typer.Option(help="Noise spec, e.g. gaussian:0.2 or lognormal:0.3+slowdown:A15:2.")] = None,
    gantt: Annotated[Path | None, typer.Option(help="Write a Gantt chart PNG of the run.")] = None,
    gantt_window: Annotated[str | None, typer.Option(help="START:END µs window of the Gantt chart.")] = None,
    validate: Annotated[bool, typer.Option("--validate", help="Check the schedule; fail on any violation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Simulate one seeded run and print its metrics."""
    from soclab.runner import build_sim_config, run_cell

    cfg = build_sim_config(
        workload=workload, soc=soc, ds3_config=ds3_config,
        probabilities=_parse_probabilities(probabilities), scale_us=scale, rate_jobs_per_ms=rate,
        duration_us=duration, warmup_us=warmup, max_jobs=max_jobs, noise=noise,
    )
    window = None
    if gantt_window:
        try:
            lo, hi = (float(x) for x in gantt_window.split(":"))
            window = (lo, hi)
        except ValueError:
            raise fail(f"--gantt-window: expected START:END in µs, got {gantt_window!r}") from None
    result = run_cell(cfg, scheduler, seed, trace=bool(gantt) or validate, validate=validate)
    if gantt:
        gantt.parent.mkdir(parents=True, exist_ok=True)
        result.gantt(str(gantt), *(window or (None, None)))
    if as_json:
        typer.echo(json.dumps(_json_ready(result.metrics() | {
            "scheduler": result.scheduler, "seed": seed, "valid": True if validate else None,
            "completed_by_app": result.completed_by_app, "config": result.config,
        })))
        return
    from soclab.ui import print_result

    print_result(result, validated=validate, gantt=gantt)


def _json_ready(d: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: report it as null."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


@app.command()
@friendly_errors
def sweep(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML), e.g. experiments/quickstart.yaml.")],
    address: Annotated[str | None, typer.Option(help="Address of an existing Ray cluster (default: start Ray locally).")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, the spec's, or ./mlflow.db).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted sweep (re-running does the same: finished cells are never rerun).")] = False,
    output_dir: Annotated[Path, typer.Option(help="Where reports and Tune state go.")] = Path("soclab-runs"),
    num_cpus: Annotated[int | None, typer.Option(help="CPUs for a local Ray (default: all).")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the report at the end.")] = False,
) -> None:
    """Run a spec's grid with Ray Tune, tracking every cell in MLflow, then write the report."""
    from soclab.spec import load_spec
    from soclab.sweep import run_sweep
    from soclab.ui import print_sweep_summary

    loaded = load_spec(spec)  # validate before starting Ray
    summary = run_sweep(loaded, address=address, tracking_uri=tracking_uri, output_dir=output_dir,
                        num_cpus=num_cpus, make_report=not no_report)
    print_sweep_summary(summary, resumed=resume)
    if summary.failed or summary.missing:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def runs(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """List the tracked runs of a spec (from MLflow, via pandas)."""
    from soclab.runs import runs_table
    from soclab.spec import load_spec
    from soclab.ui import print_frame

    loaded = load_spec(spec)
    df = runs_table(loaded, tracking_uri)
    if as_csv:
        typer.echo(df.to_csv(index=False))
    else:
        print_frame(df, title=f"runs of {loaded.experiment_name}")


@app.command()
@friendly_errors
def report(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    output_dir: Annotated[Path, typer.Option(help="Where the report goes.")] = Path("soclab-runs"),
) -> None:
    """(Re)build the report of a spec from its tracked runs and log it to the newest sweep run."""
    from soclab.report import finalize_and_report
    from soclab.runs import latest_sweep_run
    from soclab.spec import load_spec
    from soclab.tracking import Tracker, resolve_tracking_uri

    loaded = load_spec(spec)
    tracker = Tracker(resolve_tracking_uri(tracking_uri, loaded.tracking.tracking_uri),
                      loaded.experiment_name)
    path = finalize_and_report(loaded, tracker, latest_sweep_run(tracker), output_dir)
    typer.echo(f"report: {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
