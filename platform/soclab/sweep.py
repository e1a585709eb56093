"""`soclab sweep`: a spec's grid run by Ray Tune, every cell tracked in MLflow.

MLflow is the ledger: cells whose hash has a FINISHED run are done, so re-running a spec (or
`--resume`) only runs cells that failed or never ran. Heuristic cells are grouped into a few
trials so Tune's per-trial overhead stays small; RL cells get a trial each, with their own
resources, in the same Tuner.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dssoc.errors import ConfigError
from soclab.cells import Cell, plan_cells, plan_units, trial_bundles
from soclab.ray_session import init_ray, stop_ray
from soclab.spec import ExperimentSpec, load_spec
from soclab.tracking import SWEEP_KIND, Tracker, provenance, require_shared_store, resolve_tracking_uri

DEFAULT_OUTPUT = "soclab-runs"


@dataclass
class SweepSummary:
    """What a sweep invocation did, for the CLI and tests."""

    spec_name: str
    tracking_uri: str
    experiment_name: str
    parent_run_id: str
    planned: int
    skipped: int
    finished: int
    failed: int
    missing: int
    wall_s: float
    compute_s: float
    slots: int
    tune_wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    report_path: Path | None = None
    ray_start_s: float = 0.0
    report_s: float = 0.0
    experiment_id: str = ""

    @property
    def nothing_to_run(self) -> bool:
        """Every planned cell was already done: no Tune run and no parent run were made."""
        return self.planned > 0 and self.skipped == self.planned

    @property
    def total_s(self) -> float:
        """The whole invocation: Ray start-up, Tune and the report."""
        return self.wall_s + self.report_s

    @property
    def phases(self) -> dict[str, float]:
        return {"Ray start-up": self.ray_start_s, "Tune": self.tune_wall_s, "report": self.report_s}

    @property
    def compute_share(self) -> float:
        """Share of the sweep's wall time x parallel slots spent simulating or training."""
        return self.compute_s / (self.wall_s * self.slots) if self.wall_s > 0 else 0.0

    @property
    def tune_compute_share(self) -> float:
        """The same share within the Tune phase alone (without Ray start-up and the report)."""
        return self.compute_s / (self.tune_wall_s * self.slots) if self.tune_wall_s > 0 else 0.0


def _context(spec: ExperimentSpec, uri: str, parent_run_id: str) -> dict[str, Any]:
    from soclab.claims import LEASE_ENV, lease_s
    from soclab.preflight import HTTP_DEFAULTS, configure_mlflow_http

    configure_mlflow_http()
    # the driver's claim lease and MLflow HTTP settings, for workers on nodes with another env
    env = {k: os.environ[k] for k in HTTP_DEFAULTS} | {LEASE_ENV: f"{lease_s():g}"}
    return {"tracking_uri": uri, "experiment": spec.experiment_name, "parent_run_id": parent_run_id,
            "retries": spec.tune.retries, "gantt": spec.report.gantt,
            "gantt_window_us": spec.report.gantt_window_us, "env": env}


def run_unit(config: dict[str, Any]) -> None:
    """Tune trainable: run the unit's cells one by one, reporting after each. Cells another
    driver holds are left for last and then waited for (soclab.claims)."""
    from ray import tune

    from soclab.cellrun import execute_cell
    from soclab.preflight import StoreUnavailable
    from soclab.ui import apply_verbosity

    apply_verbosity()  # the driver's --quiet/--verbose, inherited through the environment
    ctx = config["ctx"]
    os.environ.update(ctx.get("env", {}))  # this trial's own worker process (reuse_actors=False)
    tracker = Tracker(ctx["tracking_uri"], ctx["experiment"])
    tally = {"cells_done": 0, "cells_failed": 0, "compute_s": 0.0}
    outcomes = []
    queue = [(Cell.from_payload(p), False) for p in config["unit"]["cells"]]
    while queue:
        cell, wait = queue.pop(0)

        def progress(metrics: dict[str, Any], cell: Cell = cell) -> None:
            tune.report({**metrics, **tally, "cell": cell.label})

        try:
            out = execute_cell(cell, tracker, ctx["parent_run_id"], retries=ctx["retries"],
                               gantt=ctx["gantt"], gantt_window_us=ctx["gantt_window_us"],
                               on_progress=progress, wait=wait)
        except StoreUnavailable as e:  # tell the driver (SweepStopper) and end the trial
            # quietly: a raised error would put Tune's traceback beside the driver's one line
            tune.report({**tally, "store_error": e.reason, "cell": cell.label})
            return
        if out.status == "held":
            queue.append((cell, True))
            continue
        tally["cells_done"] += out.status in ("finished", "skipped")
        tally["cells_failed"] += out.status == "failed"
        tally["compute_s"] += out.compute_s
        outcomes.append({"hash": out.hash, "label": out.label, "status": out.status,
                         "error": out.error, "compute_s": out.compute_s})
        tune.report({**tally, "outcomes": json.dumps(outcomes), "cell": out.label})


def _trial_name(trial: Any) -> str:
    """Short trial names (the default would spell out the whole unit config)."""
    unit = trial.config["unit"]
    first = unit["cells"][0]["agent"]["name"]
    return f"{unit['kind']}-{first}-{len(unit['cells'])}cells-{trial.trial_id}"


def check_trials_fit(units: list[dict[str, Any]], cluster_cpus: float) -> None:
    """Refuse, before any trial starts, a unit whose trial and env runners need more CPUs than
    the whole Ray cluster has (Tune would wait for them forever)."""
    for u in units:
        need = sum(b["CPU"] for b in trial_bundles(u))
        if need > cluster_cpus:
            agent = u["cells"][0]["agent"]["name"]
            raise ConfigError(
                f"the trial needs {need:g} CPUs (tune.cpus_per_rl_trial {u.get('cpus', 1)} + "
                f"{u.get('env_runners', 0)} env runners) but Ray has {cluster_cpus:g}: lower "
                "num_env_runners or start Ray with more (--num-cpus)",
                f"agents.{agent}.hyperparameters.num_env_runners")


def trial_units(spec: ExperimentSpec, cells: list[Cell]) -> list[dict[str, Any]]:
    """The spec's trial units (`soclab.cells.plan_units`) with the CPUs each trial asks for."""
    units = plan_units(spec, cells)
    for u in units:
        u["cpus"] = spec.tune.cpus_per_rl_trial if u["kind"] == "rl" else 1
    return units


def _resources(config: dict[str, Any]) -> Any:
    from ray.tune import PlacementGroupFactory

    return PlacementGroupFactory(trial_bundles(config["unit"]))


def run_sweep(
    spec_path: str | Path | ExperimentSpec,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    output_dir: str | Path = DEFAULT_OUTPUT,
    num_cpus: int | None = None,
    show_progress: bool = True,
    make_report: bool = True,
) -> SweepSummary:
    """Run (or resume) every unfinished cell of the spec, then finalize ratios and the report.

    Before any work: the tracking store and the Ray address are checked (soclab.preflight), and
    what dead drivers left RUNNING is closed as KILLED (soclab.claims). SIGINT or SIGTERM stop
    the sweep cleanly and raise `SweepInterrupted`; a store that fails mid-sweep stops it with
    `StoreUnavailable`."""
    from soclab.interrupts import graceful_stop
    from soclab.preflight import check_ray_address, check_tracking_store

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables; ours shows
    spec = spec_path if isinstance(spec_path, ExperimentSpec) else load_spec(spec_path)
    uri = resolve_tracking_uri(tracking_uri, spec.tracking.tracking_uri)
    require_shared_store(uri, address)
    check_tracking_store(uri)
    check_ray_address(address)
    if address is None and not os.environ.get("RAY_ADDRESS"):  # a local Ray of num_cpus CPUs
        check_trials_fit(trial_units(spec, plan_cells(spec)), float(num_cpus or os.cpu_count() or 1))
    with graceful_stop() as stop:
        return _run_sweep(spec, uri, stop, address=address, output_dir=output_dir,
                          num_cpus=num_cpus, show_progress=show_progress, make_report=make_report)


def _run_sweep(spec: ExperimentSpec, uri: str, stop: Any, *, address: str | None,
               output_dir: str | Path, num_cpus: int | None, show_progress: bool,
               make_report: bool) -> SweepSummary:
    from soclab import claims
    from soclab.interrupts import SweepInterrupted, request_stop
    from soclab.preflight import StoreUnavailable, store_failure

    tracker = Tracker(uri, spec.experiment_name)
    claims.reap_stale_runs(tracker)
    cells = plan_cells(spec)
    finished_before = set(tracker.cell_runs())
    todo = [c for c in cells if c.hash not in finished_before]
    if not todo:  # a rerun of a finished sweep: no Tune, no empty parent run
        report = Path(output_dir).resolve() / spec.name / "report" / "report.html"
        return SweepSummary(spec.name, uri, spec.experiment_name, "", len(cells), len(cells), 0, 0,
                            0, 0.0, 0.0, 1, report_path=report if report.is_file() else None,
                            experiment_id=tracker.experiment_id)
    tracker.describe(spec.description)
    parent = tracker.start_run(f"sweep {spec.name}", {"soclab.kind": SWEEP_KIND,
                                                       "soclab.spec": spec.name, **provenance(),
                                                       **claims.mark_heartbeat_tags()})
    tracker.log(parent, params={"spec": spec.name, "cells": len(cells), "cells_todo": len(todo),
                                "agents": ",".join(a.name for a in spec.all_agents()),
                                "noise": ",".join(spec.axes.noise),
                                "rates_jobs_per_ms": ",".join(map(str, spec.axes.rates_jobs_per_ms)),
                                **{f"axis.{k}": ",".join(map(str, v))
                                   for k, v in spec.axes.extra_axes.items()},
                                "seeds": ",".join(map(str, spec.axes.seed_list)),
                                "workload": spec.simulation.workload})
    spec_file = Path(output_dir).resolve() / spec.name / "spec.json"
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(spec.model_dump_json(indent=1))
    tracker.log_artifact(parent, spec_file)

    def store_trouble(e: BaseException) -> None:  # the heartbeat doubles as the store's probe
        reason = store_failure(e)
        if reason:
            request_stop(store_lost=reason)

    heartbeat = claims.Heartbeat(lambda: claims.beat_run(tracker, parent),
                                 claims.heartbeat_interval_s(), on_failure=store_trouble,
                                 name="sweep-heartbeat")
    t0 = time.perf_counter()
    status = "FINISHED"
    compute_s = tune_wall = ray_start = 0.0
    slots = 1
    heartbeat.start()  # until the run is closed, report included (a concurrent sweep's reaper)
    try:
        if any(c.agent.kind == "rl" for c in todo):  # check RL agents, run their searches
            from soclab.rl.tuning import apply_search_spaces

            todo = apply_search_spaces(spec, todo, tracker, parent, address=address,
                                       num_cpus=num_cpus, output_dir=output_dir,
                                       show_progress=show_progress)
        if todo and not stop.event.is_set():
            compute_s, slots, tune_wall, ray_start = _run_tuner(
                spec, todo, uri, parent, address, num_cpus, output_dir, show_progress)
        if stop.store_lost:
            raise StoreUnavailable(uri, stop.store_lost)
        if stop.signum:
            raise SweepInterrupted(stop.signum)
    except StoreUnavailable:
        status = "STORE"
        raise
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException as e:
        reason = store_failure(e)
        if reason:  # the driver's own store calls failed: the same one line as the workers'
            status = "STORE"
            raise StoreUnavailable(uri, reason) from None
        status = "FAILED"
        raise
    finally:
        if status != "FINISHED":
            heartbeat.stop()
        if status == "STORE":  # best effort, no retries: the store is the problem
            with contextlib.suppress(Exception):
                tracker.client.set_terminated(parent, "FAILED")
        else:
            wall = time.perf_counter() - t0
            claims.close_sweep_leftovers(tracker, parent)
            claims.reap_stale_runs(tracker, exclude=parent)  # drivers that died while we ran
            runs = tracker.cell_runs(status=None)
            states = {c.hash: (runs[c.hash].info.status if c.hash in runs else "MISSING")
                      for c in cells}
            n_fin = sum(states[c.hash] == "FINISHED" for c in todo)
            n_fail = sum(states[c.hash] == "FAILED" for c in todo)
            failures = [(c.label, runs[c.hash].data.tags.get("soclab.error", ""))
                        for c in todo if states[c.hash] == "FAILED"]
            summary = SweepSummary(spec.name, uri, spec.experiment_name, parent, len(cells),
                                   len(cells) - len(todo), n_fin, n_fail,
                                   len(todo) - n_fin - n_fail, wall, compute_s, slots, tune_wall,
                                   failures, ray_start_s=ray_start,
                                   experiment_id=tracker.experiment_id)
            tracker.log(parent, metrics={"cells_finished": n_fin, "cells_failed": n_fail,
                                         "cells_skipped": summary.skipped, "wall_s": wall,
                                         "compute_share": summary.compute_share})
            if status != "FINISHED" or summary.missing:
                tracker.end_run(parent, "KILLED" if status == "KILLED" else "FAILED")
            if status == "KILLED":
                stop.summary = summary
    try:
        if make_report:
            from soclab.report import finalize_and_report

            t_report = time.perf_counter()
            summary.report_path = finalize_and_report(spec, tracker, parent, output_dir, show_progress)
            summary.report_s = time.perf_counter() - t_report
    finally:
        heartbeat.stop()
    if not summary.missing:
        tracker.end_run(parent, "FINISHED")
    return summary


def _run_tuner(spec: ExperimentSpec, todo: list[Cell], uri: str, parent: str, address: str | None,
               num_cpus: int | None, output_dir: str | Path,
               show_progress: bool) -> tuple[float, int, float, float]:
    """Run the units of `todo` in one Tuner; returns (compute seconds, parallel slots, fit wall,
    Ray start-up seconds)."""
    import ray
    from ray import tune

    from soclab.interrupts import SweepStopper, tune_phase
    from soclab.progress import SweepProgress
    from soclab.ui import apply_verbosity

    t_ray = time.perf_counter()
    started = init_ray(address, num_cpus, show_progress)
    ray_start = time.perf_counter() - t_ray
    apply_verbosity()  # ray.init and the Tune import reset some loggers' levels
    try:
        units = trial_units(spec, todo)
        check_trials_fit(units, float(ray.cluster_resources().get("CPU", 0)))  # a cluster's CPUs
        trainable = tune.with_resources(run_unit, _resources)
        shared = os.environ.get("SOCLAB_STORAGE_PATH")  # s3://... or an NFS path on clusters
        storage = (f"{shared.rstrip('/')}/{spec.name}/tune" if shared
                   else (Path(output_dir).resolve() / spec.name / "tune").as_posix())
        progress = SweepProgress(len(todo), enabled=show_progress)
        tuner = tune.Tuner(
            trainable,
            param_space={"unit": tune.grid_search(units), "ctx": _context(spec, uri, parent)},
            tune_config=tune.TuneConfig(max_concurrent_trials=spec.tune.max_concurrent_trials,
                                        reuse_actors=False, trial_name_creator=_trial_name,
                                        trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"sweep-{int(time.time())}",
                storage_path=storage,
                failure_config=tune.FailureConfig(max_failures=spec.tune.retries),
                verbose=0,
                callbacks=[progress],
                stop=SweepStopper(),
            ),
        )
        t0 = time.perf_counter()
        with progress, tune_phase():
            grid = tuner.fit()
        fit_wall = time.perf_counter() - t0
        compute = 0.0
        for result in grid:
            metrics = result.metrics or {}
            compute += float(metrics.get("compute_s", 0.0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return (compute, max(1, min(spec.tune.max_concurrent_trials, len(units), cpus)), fit_wall,
                ray_start)
    finally:
        if started:
            stop_ray()
