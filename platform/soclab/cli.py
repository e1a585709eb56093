"""The `soclab` command line: simulate, and the experiment platform's verbs.

Bad input never shows a traceback: errors from dssoc/soclab are printed as one line
`error: <where>: <what>` on stderr with exit code 2. Conventions: `-h`/`--help` everywhere,
`soclab --version`, boolean options are plain switches (or `--x/--no-x` pairs), and the global
`-q/--quiet` / `-v/--verbose` also silence or show Ray's, MLflow's and Python's warnings.
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

from soclab.cli_errors import OneLineErrorGroup

app = typer.Typer(
    cls=OneLineErrorGroup,  # click's usage errors as one `error:` line too
    name="soclab",
    help="Experiments on scheduling DAG jobs onto heterogeneous SoCs (simulator, RL, sweeps).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: flags shown as switches, not `--json <bool>`
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("soclab")
        except PackageNotFoundError:  # running from a source tree that was never installed
            v = "unknown (not installed)"
        typer.echo(f"soclab {v}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors: no progress, no Ray/MLflow/Python warnings.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show Ray's, MLflow's and Python's INFO logs and warnings.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Experiments on scheduling DAG jobs onto heterogeneous SoCs (simulator, RL, sweeps)."""
    from soclab.ui import NORMAL, QUIET, VERBOSE, set_verbosity

    if quiet and verbose:
        raise fail("--quiet and --verbose exclude each other")
    set_verbosity(QUIET if quiet else VERBOSE if verbose else NORMAL)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn the project's input errors (and missing files) into one line + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from dssoc.errors import DssocError

        try:
            return fn(*args, **kwargs)
        except DssocError as e:
            raise fail(str(e)) from None
        except ValidationError as e:  # a pydantic model fed from user input outside the spec loader
            from dssoc.schemas import format_validation_error

            raise fail(str(format_validation_error(e, "input"))) from None
        except FileNotFoundError as e:
            raise fail(f"{e.filename}: file not found") from None
        except OSError as e:
            if e.filename is None:
                raise
            raise fail(f"{e.filename}: {e.strerror or type(e).__name__}") from None
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
    workload: Annotated[str, typer.Option(help="Workload preset, application name, JSON/YAML file, graph file (WfFormat .json, .stg, .dot), or wfcommons:RECIPE:TASKS (seeded by --seed).")] = "wifi-tx-rx",
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
    binding: Annotated[str | None, typer.Option(help="early (DS3, default: bind every ready task at once) or late (bind at dispatch; late-* schedulers).")] = None,
    arrivals: Annotated[str | None, typer.Option(help="Arrival model: poisson (default), trace:FILE.csv, diurnal:AMP:PERIOD_US, profile:PERIOD_US:F1,F2,...")] = None,
    mapping: Annotated[str | None, typer.Option(help="Workflow-to-SoC mapping for imported workflows: big-little, uniform or a file, with ,time_scale_us=X,data_scale=Y overrides.")] = None,
    governor: Annotated[list[str] | None, typer.Option(help="DVFS governor for all clusters (performance, powersave, ondemand, constant-MHZ) or CLUSTER=NAME; repeatable.")] = None,
    throttling: Annotated[bool, typer.Option("--throttling", help="Enable DS3's thermal throttling (trip points 85/90/95 C).")] = False,
    deadline_factor: Annotated[float | None, typer.Option(help="Each job's deadline = FACTOR x its application's lower bound.")] = None,
    gantt: Annotated[Path | None, typer.Option(help="Write a Gantt chart PNG of the run.")] = None,
    gantt_window: Annotated[str | None, typer.Option(help="START:END µs window of the Gantt chart.")] = None,
    validate: Annotated[bool, typer.Option("--validate", help="Check the schedule (fail on any violation); for planners, report drift from the plan.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Simulate one seeded run and print its metrics."""
    from soclab import validation as v
    from soclab.runner import build_sim_config, run_cell

    v.simulate_options(scale=scale, rate=rate, duration=duration, warmup=warmup, max_jobs=max_jobs,
                       seed=seed)
    cfg = build_sim_config(
        workload=workload, soc=soc, ds3_config=ds3_config,
        probabilities=_parse_probabilities(probabilities), scale_us=scale, rate_jobs_per_ms=rate,
        duration_us=duration, warmup_us=warmup, max_jobs=max_jobs, noise=noise, arrivals=arrivals,
        mapping=mapping, workload_seed=seed,
        **({"binding": binding} if binding is not None else {}),
        **_dvfs_options(governor, throttling, deadline_factor),
    )
    for note in cfg.workload.notes:  # what an importer could not map
        typer.echo(f"note: {note}", err=True)
    if gantt is not None and gantt.suffix.lower() != ".png":
        raise fail(f"--gantt: {gantt}: expected a .png file name")
    window = v.gantt_window(gantt_window) if gantt_window else None
    result = run_cell(cfg, scheduler, seed, trace=bool(gantt) or validate, validate=validate)
    if gantt:
        if not result.trace().shape[0]:
            raise fail(f"--gantt: no task finished within the run, nothing to draw in {gantt}")
        gantt.parent.mkdir(parents=True, exist_ok=True)
        result.gantt(str(gantt), *(window or (None, None)))
    from dssoc.validate import plan_drift

    drift = plan_drift(result) if validate else None
    if as_json:
        typer.echo(json.dumps(_json_ready(result.metrics() | {
            "scheduler": result.scheduler, "seed": seed, "valid": True if validate else None,
            "plan_drift": drift.to_dict() if drift is not None else None,
            "completed_by_app": result.completed_by_app, "config": result.config,
        })))
        return
    from soclab.ui import print_result

    print_result(result, validated=validate, gantt=gantt, drift=drift)


def _dvfs_options(governor: list[str] | None, throttling: bool,
                  deadline_factor: float | None) -> dict[str, Any]:
    """SimConfig options of --governor (repeated values joined), --throttling, --deadline-factor."""
    out: dict[str, Any] = {}
    if governor:
        out["governor"] = ",".join(governor)
    if throttling:
        out["throttling"] = True
    if deadline_factor is not None:
        out["deadline_factor"] = deadline_factor
    return out


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
    yes: Annotated[bool, typer.Option("--yes", help="Run a grid larger than 5,000 cells without asking.")] = False,
) -> None:
    """Run a spec's grid with Ray Tune, tracking every cell in MLflow, then write the report."""
    from soclab import validation as v
    from soclab.interrupts import STATE, SweepInterrupted
    from soclab.spec import load_spec
    from soclab.sweep import run_sweep
    from soclab.ui import print_sweep_summary

    loaded = load_spec(spec)  # validate before starting Ray
    v.option_count(num_cpus, "--num-cpus", le=v.MAX_CPUS)
    v.output_dir(output_dir)
    v.confirm_grid(loaded, yes, str(spec))
    v.check_rl_agents(loaded, str(spec))
    v.check_checkpoints(loaded, str(spec))
    try:
        summary = run_sweep(loaded, address=address, tracking_uri=tracking_uri,
                            output_dir=output_dir, num_cpus=num_cpus, make_report=not no_report)
    except SweepInterrupted as e:  # 130 for SIGINT, 143 for SIGTERM, as a shell reports them
        done = f"{STATE.summary.skipped + STATE.summary.finished} of {STATE.summary.planned} cells " \
            "finished and kept, sweep run marked KILLED; " if STATE.summary else ""
        typer.echo(f"interrupted ({e}): {done}continue with `soclab sweep {spec} --resume`",
                   err=True)
        raise typer.Exit(e.exit_code) from None
    print_sweep_summary(summary, resumed=resume)
    if summary.failed or summary.missing:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def runs(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to show, or 'all' (default: agent, noise, rate, latency, ratios, status).")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (all columns unless --columns).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records (all columns unless --columns).")] = False,
) -> None:
    """List the tracked cell runs of a spec (from MLflow), one row per cell."""
    from soclab.runs import runs_table, select_columns
    from soclab.spec import load_spec
    from soclab.ui import print_runs

    loaded = load_spec(spec)
    df = sort_runs(runs_table(loaded, tracking_uri, spec_path=spec), loaded)
    if as_csv or as_json:
        cols = select_columns(df, loaded, columns if columns else "all")
        out = df[cols]
        typer.echo(out.to_csv(index=False) if as_csv else out.to_json(orient="records",
                                                                      date_format="iso"))
        return
    print_runs(df, select_columns(df, loaded, columns),
               title=f"{loaded.experiment_name}: {len(df)} cell runs", primary=loaded.metrics.primary)


def sort_runs(df: Any, spec: Any) -> Any:
    """Rows in the spec's order: agent, noise level, rate."""
    agents = {a.name: i for i, a in enumerate(spec.all_agents())}
    noises = {n: i for i, n in enumerate(spec.axes.noise)}
    key = df.assign(_a=df.agent.map(agents).fillna(99), _n=df.noise.map(noises).fillna(99))
    return key.sort_values(["_a", "_n", "rate"], kind="stable").drop(columns=["_a", "_n"]
                                                                     ).reset_index(drop=True)


@app.command()
@friendly_errors
def report(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    output_dir: Annotated[Path, typer.Option(help="Where the report goes.")] = Path("soclab-runs"),
) -> None:
    """(Re)build the report of a spec from its tracked runs and log it to the newest sweep run."""
    from mlflow.tracking import MlflowClient

    from soclab import validation as v
    from soclab.report import finalize_and_report
    from soclab.runs import latest_sweep_run, not_run
    from soclab.spec import load_spec
    from soclab.tracking import Tracker, resolve_tracking_uri

    loaded = load_spec(spec)
    v.output_dir(output_dir)
    uri = resolve_tracking_uri(tracking_uri, loaded.tracking.tracking_uri)
    if MlflowClient(uri).get_experiment_by_name(loaded.experiment_name) is None:
        raise not_run(loaded, spec, uri)  # without creating an empty experiment
    tracker = Tracker(uri, loaded.experiment_name)
    if not tracker.cell_runs():
        raise not_run(loaded, spec, uri)
    path = finalize_and_report(loaded, tracker, latest_sweep_run(tracker), output_dir)
    typer.echo(f"report: {path}")


# ------------------------------------------------------------------ cluster (issue 5)
@app.command("tracking-server")
@friendly_errors
def tracking_server(
    host: Annotated[str, typer.Option(help="Interface to bind; loopback by default. 0.0.0.0 exposes an unauthenticated server to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    backend_store_uri: Annotated[str | None, typer.Option(help="sqlite:///ABS/mlflow.db (default: ./mlflow.db) or postgresql://USER:PW@HOST:PORT/DB.")] = None,
    artifacts_destination: Annotated[str | None, typer.Option(help="Where the server stores artifacts (served through it): a directory, s3://..., gs://... (default: ./mlartifacts).")] = None,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 1,
    allowed_hosts: Annotated[str | None, typer.Option(help="Host headers to accept (needed when clients use a DNS name, e.g. 'mlflow,mlflow:*').")] = None,
    background: Annotated[bool, typer.Option("--background", help="Return once it answers; write a PID file (stop with --stop).")] = False,
    pid_file: Annotated[Path | None, typer.Option(help="PID file of --background/--stop (default: ~/.soclab/tracking-server-PORT.json).")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background server recorded in the PID file.")] = False,
    log_file: Annotated[str | None, typer.Option(help="Server log (default: ./mlflow-server-PORT.log; '-' = this process's stdout, for containers).")] = None,
) -> None:
    """Start a shared MLflow tracking server (for sweeps on a cluster), wait until it answers, print its URL."""
    from soclab import tracking_server as ts
    from soclab import validation as v

    v.tcp_port(port, "--port")
    v.option_count(workers, "--workers", le=v.MAX_CPUS)
    pid_path = pid_file or Path.home() / ".soclab" / f"tracking-server-{port}.json"
    if stop:
        n = ts.stop_from_pid_file(pid_path)
        typer.echo(f"stopped the tracking server ({n} processes)")
        return
    server = ts.start_tracking_server(host=host, port=port, backend_store_uri=backend_store_uri,
                                      artifacts_destination=artifacts_destination, workers=workers,
                                      allowed_hosts=allowed_hosts, log_file=log_file)
    typer.echo(f"MLflow tracking server: {server.url}")
    typer.echo(f"  backend store: {_redact(server.backend_store_uri)}")
    typer.echo(f"  artifacts:     {server.artifacts_destination}")
    typer.echo(f"  log:           {server.log}")
    if host not in ts.LOOPBACK:
        typer.echo("  warning: bound beyond loopback and MLflow has no authentication here; "
                   "restrict access (firewall, --allowed-hosts) or use --host 127.0.0.1", err=True)
    typer.echo(f"export MLFLOW_TRACKING_URI={server.url}")
    if background:
        ts.write_pid_file(server, pid_path)
        typer.echo(f"running in the background (pid {server.pid}); stop: soclab tracking-server --stop --port {port}")
        return
    typer.echo("Ctrl-C stops it")
    raise typer.Exit(ts.run_foreground(server))


def _redact(uri: str) -> str:
    """A database URI without its password."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", uri)


cluster_app = typer.Typer(help="A real multi-node Ray cluster on this machine (separate `ray start` nodes, token auth, tracking server).", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
StateDir = Annotated[Path | None, typer.Option(help="Where the cluster's state, token and logs live (default: $SOCLAB_CLUSTER_DIR or ~/.soclab/cluster).")]


@cluster_app.command("local")
@friendly_errors
def cluster_local(
    workers: Annotated[int, typer.Option(help="Worker nodes besides the head.")] = 1,
    port: Annotated[int | None, typer.Option(help="GCS port of the head (default: a free port).")] = None,
    tracking: Annotated[bool, typer.Option("--tracking/--no-tracking", help="Also start an MLflow tracking server.")] = True,
    tracking_port: Annotated[int | None, typer.Option(help="Tracking server port (default: a free port).")] = None,
    backend_store_uri: Annotated[str | None, typer.Option(help="Tracking store (default: sqlite in the state dir; postgresql://... for a real database).")] = None,
    artifacts_destination: Annotated[str | None, typer.Option(help="Artifact store of the tracking server (default: the state dir).")] = None,
    head_cpus: Annotated[int, typer.Option(help="CPUs the head node offers to trials.")] = 1,
    worker_cpus: Annotated[int, typer.Option(help="CPUs each worker node offers.")] = 1,
    object_store_mb: Annotated[int, typer.Option(help="Object store per node (MiB).")] = 128,
    dashboard: Annotated[bool, typer.Option("--dashboard/--no-dashboard", help="Start the Ray dashboard (loopback) on the head; needed for `ray job submit`.")] = False,
    state_dir: StateDir = None,
) -> None:
    """Start a head and N worker nodes (real `ray start` processes) plus a tracking server, token auth on."""
    from soclab.cluster import start_local_cluster
    from soclab.validation import cluster_options

    cluster_options(workers=workers, port=port, tracking_port=tracking_port, head_cpus=head_cpus,
                    worker_cpus=worker_cpus, object_store_mb=object_store_mb)
    state = start_local_cluster(workers, port=port, state_dir=state_dir, tracking=tracking,
                                tracking_port=tracking_port, backend_store_uri=backend_store_uri,
                                artifacts_destination=artifacts_destination, head_cpus=head_cpus,
                                worker_cpus=worker_cpus, object_store_mb=object_store_mb,
                                dashboard=dashboard)
    typer.echo(f"Ray cluster up: head {state.address} + {workers} worker node(s), token auth on "
               f"({sum(n.num_cpus for n in state.nodes)} CPUs)")
    if state.nodes and "dashboard_port" in state.nodes[0].ports and dashboard:
        typer.echo(f"  dashboard: http://127.0.0.1:{state.nodes[0].ports['dashboard_port']}")
    if state.tracking_uri:
        typer.echo(f"  MLflow tracking server: {state.tracking_uri}")
    typer.echo(f"  state, token and logs: {state.state_dir}")
    typer.echo("Use it (the token stays in a 0600 file; env also in "
               f"{Path(state.state_dir) / 'env.sh'}):")
    for k, v in state.client_env().items():
        typer.echo(f"  export {k}={v}")
    uri = f" --tracking-uri {state.tracking_uri}" if state.tracking_uri else ""
    typer.echo(f"  soclab sweep experiments/quickstart.yaml --address {state.address}{uri}")
    typer.echo(f"Stop it: soclab cluster down{'' if state_dir is None else f' --state-dir {state.state_dir}'}")


@cluster_app.command("down")
@friendly_errors
def cluster_down(
    state_dir: StateDir = None,
    keep_logs: Annotated[bool, typer.Option("--keep-logs", help="Keep the nodes' Ray temp dirs (logs).")] = False,
) -> None:
    """Stop exactly what `soclab cluster local` started (never a bare `ray stop`)."""
    from soclab.cluster import stop_local_cluster

    stopped = stop_local_cluster(state_dir, keep_logs=keep_logs)
    typer.echo("stopped: " + ", ".join(f"{k} ({v} processes)" for k, v in stopped.items()))


@cluster_app.command("status")
@friendly_errors
def cluster_status_cmd(
    state_dir: StateDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the recorded cluster: nodes, their processes, the tracking server."""
    from soclab.cluster import ClusterState, cluster_status, default_state_dir

    status = cluster_status(ClusterState.load(state_dir or default_state_dir()))
    if as_json:
        typer.echo(json.dumps(status))
        return
    typer.echo(f"address {status['address']}, GCS sees {status.get('gcs_alive_nodes')} alive node(s)")
    for n in status["nodes"]:
        typer.echo(f"  {n['name']:<10} {n['role']:<6} raylet {'up' if n['raylet'] else 'DOWN'}, {n['processes']} processes")
    if status["tracking_uri"]:
        typer.echo(f"  tracking {status['tracking_uri']}: {'healthy' if status['tracking_healthy'] else 'NOT ANSWERING'}")


@cluster_app.command("env")
@friendly_errors
def cluster_env(state_dir: StateDir = None) -> None:
    """Print `export` lines for the cluster (eval "$(soclab cluster env)")."""
    from soclab.cluster import ClusterState, default_state_dir

    state = ClusterState.load(state_dir or default_state_dir())
    for k, v in state.client_env().items():
        typer.echo(f"export {k}={v}")


@cluster_app.command("kill-node")
@friendly_errors
def cluster_kill_node(
    name: Annotated[str, typer.Argument(help="Node to kill, e.g. worker-1.")],
    state_dir: StateDir = None,
) -> None:
    """Kill one node abruptly (SIGKILL to all its processes): a fault-tolerance drill."""
    from soclab.cluster import ClusterState, default_state_dir, kill_node

    n = kill_node(ClusterState.load(state_dir or default_state_dir()), name)
    typer.echo(f"killed {name} ({n} processes)")


@cluster_app.command("stop-node")
@friendly_errors
def cluster_stop_node(
    temp_dir: Annotated[Path, typer.Option(help="The node's `ray start --temp-dir`.")],
) -> None:
    """Stop only the Ray node started with this --temp-dir (a scoped `ray stop`, for cluster-launcher nodes)."""
    from soclab.cluster import stop_node_by_temp_dir

    n = stop_node_by_temp_dir(str(temp_dir))
    typer.echo(f"stopped the Ray node of {temp_dir} ({n} processes)")


@app.command()
@friendly_errors
def train(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML) with at least one RL agent.")],
    noise: Annotated[str | None, typer.Option(help="Noise level to train and evaluate at (default: the spec's first).")] = None,
    rate: Annotated[float | None, typer.Option(help="Injection rate, jobs/ms (default: the spec's first).")] = None,
    output_dir: Annotated[Path, typer.Option(help="Checkpoints go to OUTPUT_DIR/<spec>/<agent>/checkpoint.")] = Path("soclab-runs"),
    iterations: Annotated[int | None, typer.Option(help="Training iterations (default: the spec's budget.rl_iterations).")] = None,
    agent: Annotated[list[str] | None, typer.Option(help="Train only this RL agent (repeatable).")] = None,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs for the local Ray (default: all).")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, the spec's, or ./mlflow.db).")] = None,
) -> None:
    """Train the spec's RL agents, then compare them with its heuristics and baselines on the same seeds (tracked in MLflow)."""
    from soclab import validation as v
    from soclab.rl.command import print_outcome, train_spec
    from soclab.spec import load_spec

    loaded = load_spec(spec)
    v.train_options(loaded, noise=noise, rate=rate, iterations=iterations, num_cpus=num_cpus)
    v.output_dir(output_dir)
    print_outcome(train_spec(loaded, noise=noise, rate=rate, output_dir=output_dir,
                             iterations=iterations, agents=agent or None, num_cpus=num_cpus,
                             tracking_uri=tracking_uri))


@app.command()
@friendly_errors
def evaluate(
    model: Annotated[Path, typer.Argument(help="A shipped model directory (models/<name>) or a soclab RLlib checkpoint.")],
    seeds: Annotated[str, typer.Option(help="Held-out seeds, e.g. 100-119 or 1,2,3 (disjoint from training and selection).")],
    rates: Annotated[str | None, typer.Option(help="Injection rates, jobs/ms, comma-separated (default: the model's).")] = None,
    noise: Annotated[list[str] | None, typer.Option(help="Noise level (repeatable; default: the model's).")] = None,
    baseline: Annotated[list[str] | None, typer.Option(help="Baseline scheduler (repeatable; default: every heuristic of the model's semantics plus ETF and HEFT).")] = None,
    duration: Annotated[float | None, typer.Option(help="Simulated µs per run (default: the model's).")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up µs (default: the model's).")] = None,
    min_seeds: Annotated[int, typer.Option(help="Refuse fewer seeds than this.")] = 20,
    output: Annotated[Path | None, typer.Option(help="Write per_seed.csv and summary.csv into this directory.")] = None,
) -> None:
    """Evaluate a trained scheduler against the heuristics on held-out seeds (paired CIs)."""
    from soclab.rl.evaluate import evaluate_model, parse_seeds, print_evaluation

    rate_list = [float(r) for r in rates.split(",")] if rates else None
    ev = evaluate_model(model, parse_seeds(seeds), rates=rate_list, noises=noise or None,
                        baselines=baseline or None, duration_us=duration, warmup_us=warmup,
                        min_seeds=min_seeds)
    print_evaluation(ev)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        ev.per_seed.to_csv(output / "per_seed.csv", index=False)
        ev.summary.to_csv(output / "summary.csv", index=False)
        typer.echo(f"results: {output / 'summary.csv'}")


@app.command()
@friendly_errors
def ship(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint written by `soclab train` or a sweep.")],
    out: Annotated[Path, typer.Argument(help="The model directory to write, e.g. models/<name>.")],
    spec: Annotated[Path | None, typer.Option(help="The training spec, recorded in soclab-model.json.")] = None,
    description: Annotated[str, typer.Option(help="One line on what the model is.")] = "",
) -> None:
    """Package a trained policy as a small Ray-free model directory (soclab-model.json + weights)."""
    from soclab.rl.package import export_model

    training: dict[str, Any] = {}
    if spec is not None:
        from soclab.spec import load_spec

        loaded = load_spec(spec)
        training.update(spec_file=spec.as_posix(), spec=loaded.model_dump(mode="json"),
                        eval_duration_us=loaded.simulation.duration_us,
                        eval_warmup_us=loaded.simulation.warmup_us)
    path = export_model(checkpoint, out, training=training, description=description)
    typer.echo(f"model written to {path}; use it: soclab simulate --scheduler checkpoint:{path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
