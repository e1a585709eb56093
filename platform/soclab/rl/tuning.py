"""Hyperparameter search for RL agents with a `search_space` (called by `soclab.sweep`).

For each such agent, one Ray Tune run searches its space on the agent's first grid point (first
noise level, first rate) with the spec's `tune.search_alg` (`optuna`, or random/grid sampling for
`grid`), `tune.scheduler` (`asha` stops poor trials early) and `tune.num_samples` trials, each
training for up to `budget.rl_iterations` iterations. Trials are ranked on the training episodes'
value of the spec's `metrics.primary` (default `avg_latency_us`, lower is better; the evaluation
seeds are never used), the trials that trained longest first. The winning values then go to
every cell of the agent (`Cell.tuned`), which trains and evaluates as usual.

The search is recorded as an MLflow run (tag `soclab.kind=tuning`, child of the sweep run) with the
best values, the trial table and the search settings; a re-run of the sweep reuses a FINISHED
search with the same hash instead of searching again.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dssoc.errors import ConfigError

TUNING_KIND = "tuning"
MISSING = 1e12  # reported before any training episode has ended (never best: sign by the mode)


def objective(spec: Any) -> tuple[str, str]:
    """(metric, mode) of the searches: the spec's primary metric over training episodes."""
    info = spec.metrics.info
    return info.key, "min" if info.lower_is_better else "max"


def search_space(space: dict[str, dict[str, list[Any]]], optuna: bool) -> dict[str, Any]:
    """The spec's `search_space` as Tune domains (`grid` becomes a choice under Optuna)."""
    from ray import tune

    out: dict[str, Any] = {}
    for name, dim in space.items():
        [(kind, values)] = dim.items()
        where = f"search_space.{name}.{kind}"
        if kind in ("loguniform", "uniform", "randint"):
            if len(values) != 2:
                raise ConfigError(f"expected [low, high], got {values}", where)
            out[name] = getattr(tune, kind)(*values)
        elif kind == "choice" or (kind == "grid" and optuna):
            out[name] = tune.choice(list(values))
        elif kind == "grid":
            out[name] = tune.grid_search(list(values))
        else:
            raise ConfigError(f"unknown search kind {kind!r}", where)
    return out


def tuning_cell(cells: list[Any], agent_name: str) -> Any:
    """The agent's first cell in plan order (the first value of every axis; copy 0 of its
    training copies, which trains with the unexpanded agent's seed)."""
    return next(c for c in cells if c.base_agent == agent_name)


def tuning_hash(cell: Any, tune_settings: dict[str, Any]) -> str:
    """The search's identity: the cell's agent and point (as in `Cell.key`) and the Tune settings."""
    agent = {**cell.agent.key_dump(), "name": cell.base_agent}  # the same for every copy count
    key = {"agent": agent, "noise": cell.noise,
           "rate": cell.rate_jobs_per_ms, "simulation": cell.settings, "budget": cell.budget,
           "seeds": list(cell.seeds), "tune": tune_settings, **cell.config_axes}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _trial(config: dict[str, Any]) -> None:
    """Tune trainable: train one sampled configuration, reporting every iteration."""
    import os

    import torch
    from ray import tune

    from soclab.cells import Cell
    from soclab.rl.train import TORCH_THREADS_ENV, build_algorithm, progress_metrics

    torch.set_num_threads(int(os.environ.get(TORCH_THREADS_ENV, "1")))
    cell = Cell.from_payload(config["cell"])
    algo, _ = build_algorithm(cell, dict(config["hp"]))
    last: dict[str, float] = {}
    missing = MISSING if config.get("mode", "min") == "min" else -MISSING
    try:
        for i in range(1, int(cell.budget.get("rl_iterations", 10)) + 1):
            m = progress_metrics(i, algo.train(), last)
            m = {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else missing)
                 for k, v in m.items()}
            tune.report(m)
    finally:
        algo.stop()


def _plain(v: Any) -> Any:
    """numpy scalars (Optuna samples) -> Python numbers, so they survive JSON and RLlib checks."""
    return v.item() if hasattr(v, "item") else v


def _best(grid: Any, metric: str, mode: str) -> tuple[dict[str, Any], float, int]:
    """(hyperparameters, metric, iterations) of the best trial: longest trained, then best."""
    best = None
    sign = 1.0 if mode == "min" else -1.0
    for r in grid:
        m = r.metrics or {}
        if r.error is not None or metric not in m:
            continue
        key = (-int(m.get("training_iteration", 0)), sign * float(m[metric]))
        if best is None or key < best[0]:
            best = (key, {k: _plain(v) for k, v in r.config["hp"].items()})
    if best is None:
        errors = [str(r.error) for r in grid if r.error is not None][:1]
        raise RuntimeError(f"every tuning trial failed{': ' + errors[0] if errors else ''}")
    (neg_iter, signed), hp = best
    return hp, sign * signed, -neg_iter


def run_search(cell: Any, spec: Any, storage: str | Path, show_progress: bool = True
               ) -> tuple[dict[str, Any], float, int, Any]:
    """Search the agent's space on `cell`; (best hp, its metric, its iterations, ResultGrid)."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    agent = cell.agent
    metric, mode = objective(spec)
    use_optuna = spec.tune.search_alg == "optuna"
    space = search_space(dict(agent.search_space), use_optuna)
    n_iter = int(cell.budget.get("rl_iterations", 10))
    search_alg = None
    if use_optuna:
        from ray.tune.search.optuna import OptunaSearch

        search_alg = OptunaSearch(seed=int(cell.budget.get("train_seed_offset", 0)))
    scheduler = (ASHAScheduler(max_t=n_iter, grace_period=max(1, n_iter // 4), reduction_factor=2,
                               time_attr="training_iteration")
                 if spec.tune.scheduler == "asha" else FIFOScheduler())
    from soclab.cells import trial_bundles
    from soclab.rl.algos import env_runner_count

    bundles = trial_bundles({"cpus": spec.tune.cpus_per_rl_trial,  # the trial, then its runners
                             "env_runners": env_runner_count(agent.hyperparameters)})
    trainable = tune.with_resources(_trial, tune.PlacementGroupFactory(bundles))
    tuner = tune.Tuner(
        trainable,
        param_space={"hp": space, "cell": cell.to_payload(), "mode": mode},
        tune_config=tune.TuneConfig(metric=metric, mode=mode, num_samples=spec.tune.num_samples,
                                    search_alg=search_alg, scheduler=scheduler,
                                    max_concurrent_trials=spec.tune.max_concurrent_trials,
                                    trial_dirname_creator=lambda t: f"trial-{t.trial_id}"),
        run_config=tune.RunConfig(name=f"tune-{agent.name}-{int(time.time())}",
                                  storage_path=Path(storage).resolve().as_posix(), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    if show_progress:
        from rich.console import Console

        Console(stderr=True).print(f"[bold]searching[/bold] {agent.name}: {spec.tune.num_samples} "
                                   f"trials x up to {n_iter} iterations "
                                   f"({spec.tune.search_alg}, {spec.tune.scheduler})")
    grid = tuner.fit()
    hp, value, iters = _best(grid, metric, mode)
    return hp, value, iters, grid


def _finished_search(tracker: Any, h: str) -> dict[str, Any] | None:
    from soclab.tracking import with_retry

    flt = f"tags.`soclab.tuning_hash` = '{h}' and attributes.status = 'FINISHED'"
    runs = with_retry(lambda: tracker.client.search_runs([tracker.experiment_id], filter_string=flt,
                                                         max_results=1))
    if not runs:
        return None
    return json.loads(runs[0].data.tags.get("soclab.best_config", "{}"))


def apply_search_spaces(spec: Any, todo: list[Any], tracker: Any, parent_run_id: str, *,
                        address: str | None = None, num_cpus: int | None = None,
                        output_dir: str | Path = "soclab-runs", show_progress: bool = True
                        ) -> list[Any]:
    """`todo` with `tuned` set on the cells of every RL agent that has a search space (searching
    once per agent, or reusing a recorded search). Cells of other agents are returned as is.
    First checks every RL agent's hyperparameter names (`soclab.rl.algos.check_agent`)."""
    from soclab.rl.algos import check_agent

    for agent in {c.agent.name: c.agent for c in todo if c.agent.kind == "rl"}.values():
        check_agent(agent)
    # one search per spec agent: its training copies (budget.training_seeds) share the result
    names = list(dict.fromkeys(c.base_agent for c in todo
                               if c.agent.kind == "rl" and c.agent.search_space))
    if not names:
        return todo
    from soclab.cells import plan_cells

    settings = {"search_alg": spec.tune.search_alg, "scheduler": spec.tune.scheduler,
                "num_samples": spec.tune.num_samples}
    planned = plan_cells(spec)
    best: dict[str, dict[str, Any]] = {}
    started = False
    try:
        for name in names:
            cell = tuning_cell(planned, name)
            h = tuning_hash(cell, settings)
            found = _finished_search(tracker, h)
            if found is not None:
                best[name] = found
                continue
            if not started:
                from soclab.ray_session import init_ray

                started = init_ray(address, num_cpus)
            storage = Path(output_dir).resolve() / spec.name / "tune-search"
            run_id = tracker.start_run(f"tuning {name}", {
                "soclab.kind": TUNING_KIND, "soclab.tuning_hash": h, "soclab.spec": spec.name,
                "soclab.agent": name}, parent_run_id)
            try:
                hp, value, iters, grid = run_search(cell, spec, storage, show_progress)
                tracker.log(run_id, params={**{f"best.{k}": v for k, v in hp.items()},
                                            **settings, **cell.coordinates},
                            metrics={f"best_{objective(spec)[0]}": value, "best_iterations": iters,
                                     "trials": len(grid)},
                            tags={"soclab.best_config": json.dumps(hp)})
                with tempfile.TemporaryDirectory() as tmp:
                    table = Path(tmp) / "trials.csv"
                    grid.get_dataframe().to_csv(table, index=False)
                    tracker.log_artifact(run_id, table)
            except BaseException:
                tracker.end_run(run_id, "FAILED")
                raise
            tracker.end_run(run_id, "FINISHED")
            best[name] = hp
    finally:
        if started:
            from soclab.ray_session import stop_ray

            stop_ray()
    return [replace(c, tuned=best[c.base_agent]) if c.base_agent in best else c for c in todo]
