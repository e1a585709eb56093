"""`soclab train SPEC`: train a spec's RL agents on one grid point, then compare them with the
spec's heuristics and baselines on the spec's evaluation seeds (identical seeds for everyone).

Reuses the sweep's pieces: `Cell` for the configuration, `soclab.rl.train.train_agent` for
training and checkpointing, `soclab.cellrun.evaluate_cell` for evaluation, and
`soclab.stats` for the confidence intervals.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dssoc.errors import ConfigError
from soclab.metrics import PRIMARY


@dataclass
class TrainOutcome:
    """What `train_spec` did: checkpoints, the per-seed results and the comparison table."""

    spec_name: str
    noise: str
    rate_jobs_per_ms: float
    seeds: tuple[int, ...]
    checkpoints: dict[str, Path] = field(default_factory=dict)
    iterations: dict[str, int] = field(default_factory=dict)
    train_s: dict[str, float] = field(default_factory=dict)
    per_seed: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    baselines: list[str] = field(default_factory=list)
    metric: str = PRIMARY  #: what the table ranks by: the spec's `metrics.primary`
    csv_path: Path | None = None
    tracking_uri: str = ""
    experiment_name: str = ""
    parent_run_id: str = ""
    run_ids: dict[str, str] = field(default_factory=dict)


def comparison_table(per_seed: pd.DataFrame, baselines: list[str], metric: str,
                     copies: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Per agent, best first by `metric` (a spec's `metrics.primary`): its mean with a 95%
    bootstrap CI over seeds (`mean`, `ci_low`, `ci_high`), its paired ratio (with CI) to each
    baseline's mean on the same seeds, and the means of the other tracked metrics by name;
    plus one pooled row per agent in `copies` (`cells.training_copy_groups`)."""
    from soclab import metrics
    from soclab.stats import mean_ci, paired_ratio_ci

    info = metrics.get(metric)
    others = [m.key for m in metrics.tracked() if m.key in per_seed.columns and m.key != metric]
    rows = []
    by_agent = {a: g.set_index("seed") for a, g in per_seed.groupby("agent", sort=False)}
    for agent, g in by_agent.items():
        est = mean_ci(g[metric].to_numpy(dtype=float))
        row: dict[str, Any] = {"agent": agent, "kind": g["kind"].iloc[0], "mean": est.value,
                               "ci_low": est.low, "ci_high": est.high, "n_seeds": len(g),
                               **{k: float(g[k].mean()) for k in others}}
        for b in baselines:
            if b not in by_agent:
                continue
            base = by_agent[b]
            common = g.index.intersection(base.index)
            r = paired_ratio_ci(g.loc[common, metric].to_numpy(dtype=float),
                                base.loc[common, metric].to_numpy(dtype=float))
            row[f"ratio_to_{b}"] = r.value
            row[f"ratio_to_{b}_ci"] = (f"[{r.low:.3f}, {r.high:.3f}]"
                                       if math.isfinite(r.low) else "")
        rows.append(row)
    rows += pooled_rows(per_seed, baselines, metric, copies or {})
    table = pd.DataFrame(rows).sort_values("mean", ascending=info.lower_is_better is not False,
                                           kind="stable", na_position="last")
    table.attrs["metric"] = metric
    return table.reset_index(drop=True)


def pooled_rows(per_seed: pd.DataFrame, baselines: list[str], metric: str,
                copies: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """One row per agent trained several times (`copies`: spec agent -> its copies' names),
    pooled as `NAME (N training seeds)` by `stats.pool_training_copies`."""
    from soclab import metrics
    from soclab.stats import pool_training_copies

    lower = metrics.get(metric).lower_is_better is not False
    rows = []
    for name, labels in copies.items():
        pooled = pool_training_copies(per_seed, name, labels, baselines, metric, lower)
        if pooled is None:
            continue
        row: dict[str, Any] = {"agent": pooled.label, "kind": "rl", "mean": pooled.mean.value,
                               "ci_low": pooled.mean.low, "ci_high": pooled.mean.high,
                               "n_seeds": pooled.n_seeds}
        for b, r in pooled.ratio.items():
            row[f"ratio_to_{b}"] = r.value
            row[f"ratio_to_{b}_ci"] = f"[{r.low:.3f}, {r.high:.3f}]" if math.isfinite(r.low) else ""
        rows.append(row)
    return rows


def train_spec(
    spec: Any,
    *,
    noise: str | None = None,
    rate: float | None = None,
    output_dir: str | Path = "soclab-runs",
    iterations: int | None = None,
    agents: list[str] | None = None,
    num_cpus: int | None = None,
    show_progress: bool = True,
    tracking_uri: str | None = None,
) -> TrainOutcome:
    """Train the spec's RL agents (all, or those named in `agents`) at one grid point and
    evaluate them against every heuristic and baseline of the spec on the same seeds.

    Tracked in MLflow like a sweep: a parent run (`soclab.kind` = `train`) with one child per
    agent carrying the cell's params, the curated metrics and ratios to each baseline; an RL
    child also carries its learning curves as metric history (`train/...` per iteration) and
    its checkpoint as an artifact."""
    import time

    from dssoc.noise import parse_noise
    from soclab.cellrun import evaluate_cell
    from soclab.cells import plan_cells, training_copy_groups
    from soclab.ray_session import init_ray
    from soclab.rl.train import train_agent

    if noise is not None:
        parse_noise(noise)
    if rate is not None and not float(rate) > 0:
        raise ConfigError(f"rate must be > 0 jobs/ms, got {rate}", "--rate")
    # one grid point: the given noise and rate, the first value of every other axis
    cells = plan_cells(spec, at={"noise": noise, "rate_jobs_per_ms": None if rate is None else float(rate)})
    rl = [c for c in cells if c.agent.kind == "rl"]
    if agents:
        # a spec's name trains all its copies (budget.training_seeds), a copy's name only it
        unknown = sorted(set(agents) - {c.agent.name for c in rl} - {c.base_agent for c in rl})
        if unknown:
            raise ConfigError(f"no RL agent named {unknown} in the spec; RL agents: "
                              f"{', '.join(c.agent.name for c in rl) or 'none'}", "--agent")
        rl = [c for c in rl if c.agent.name in agents or c.base_agent in agents]
    if not rl:
        raise ConfigError("the spec has no RL agent (an agent with an 'algorithm')", spec.name)
    from soclab.rl.algos import check_agent, env_runner_count

    cpus = num_cpus or os.cpu_count() or 1
    for cell in rl:
        check_agent(cell.agent)
        runners = env_runner_count(cell.agent.hyperparameters)
        if runners > cpus and not os.environ.get("RAY_ADDRESS"):  # each runner actor takes a CPU
            raise ConfigError(f"{runners} env runners need {runners} CPUs, Ray gets {cpus}: "
                              "lower num_env_runners or raise --num-cpus",
                              f"agents.{cell.agent.name}.hyperparameters.num_env_runners")
    first = cells[0]
    out = TrainOutcome(spec.name, first.noise, first.rate_jobs_per_ms, first.seeds,
                       baselines=list(spec.baselines), metric=spec.metrics.primary)
    root = Path(output_dir).resolve() / spec.name
    init_ray(None, num_cpus)
    schedulers: dict[str, Any] = {}
    started_ms: dict[str, int] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for cell in rl:
        started_ms[cell.agent.name] = int(time.time() * 1000)
        n_iter = int(iterations or cell.budget["rl_iterations"])
        if cell.agent.search_space:
            _console().print(f"[yellow]{cell.agent.name}: search_space ignored by `soclab train` "
                             "(the sweep searches it); training with the fixed hyperparameters")
        with _TrainProgress(cell.agent.name, n_iter, show_progress, out.metric) as bar:
            trained = train_agent(cell, root / cell.agent.name / "checkpoint",
                                  on_progress=bar.update, iterations=n_iter,
                                  on_status=bar.status)
        schedulers[cell.agent.name] = trained.scheduler
        out.checkpoints[cell.agent.name] = trained.checkpoint_dir
        out.iterations[cell.agent.name] = trained.iterations
        out.train_s[cell.agent.name] = trained.wall_s
        curves[cell.agent.name] = trained.curves
    frames = []
    trained_names = set(schedulers)
    for cell in cells:
        if cell.agent.kind == "rl" and cell.agent.name not in trained_names:
            continue
        if show_progress:
            _console().print(f"evaluating {cell.agent.name} on seeds {list(cell.seeds)}")
        started_ms.setdefault(cell.agent.name, int(time.time() * 1000))
        df, _ = evaluate_cell(cell, schedulers.get(cell.agent.name))
        df["kind"] = cell.agent.kind
        frames.append(df)
    out.per_seed = pd.concat(frames, ignore_index=True)
    out.table = comparison_table(out.per_seed, out.baselines, out.metric,
                                 training_copy_groups(spec))
    root.mkdir(parents=True, exist_ok=True)
    out.csv_path = root / "train_comparison.csv"
    out.per_seed.to_csv(out.csv_path, index=False)
    track_training(spec, out, [c for c in cells if c.agent.name in started_ms], started_ms, curves,
                   tracking_uri)
    return out


def track_training(spec: Any, out: TrainOutcome, cells: list[Any], started_ms: dict[str, int],
                   curves: dict[str, dict[str, list[float]]], tracking_uri: str | None) -> None:
    """Log a `soclab train` invocation to MLflow (see `train_spec`); fills the outcome's ids."""
    import tempfile
    import time

    from soclab import metrics
    from soclab.cellrun import cell_tags, log_cell_run, summary_metrics
    from soclab.tracking import TRAIN_KIND, Tracker, provenance, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, spec.tracking.tracking_uri)
    tracker = Tracker(uri, spec.experiment_name)
    first = min(started_ms.values(), default=int(time.time() * 1000))
    parent = tracker.start_run(
        f"train {spec.name} | noise={out.noise} | rate={out.rate_jobs_per_ms:g}/ms",
        {"soclab.kind": TRAIN_KIND, "soclab.spec": spec.name,
         "soclab.workload": spec.simulation.workload, **provenance()}, start_time_ms=first)
    tracker.log(parent, params={"spec": spec.name, "noise": out.noise,
                                "rate_jobs_per_ms": metrics.plain_number(out.rate_jobs_per_ms),
                                "seeds": ",".join(map(str, out.seeds)),
                                "agents": ",".join(c.agent.name for c in cells),
                                "workload": spec.simulation.workload})
    ratios = out.table.set_index("agent")
    with tempfile.TemporaryDirectory() as tmp:
        for cell in cells:
            name = cell.agent.name
            rows = out.per_seed[out.per_seed.agent == name]
            logged = summary_metrics(rows)
            for b in out.baselines:
                col = f"ratio_to_{b}"
                if col in ratios.columns and name in ratios.index:
                    ratio_name = metrics.baseline_metric_names(b, out.metric)["ratio"]
                    logged[ratio_name] = float(ratios.loc[name, col])
            artifacts: list[tuple[Path, str | None]] = []
            if name in out.checkpoints:
                logged["train.iterations"] = out.iterations[name]
                logged["train.wall_s"] = out.train_s[name]
                artifacts.append((out.checkpoints[name], "checkpoint"))
            per_seed = Path(tmp) / name / "results.parquet"
            per_seed.parent.mkdir(parents=True)
            rows.drop(columns=["kind"], errors="ignore").to_parquet(per_seed, index=False)
            artifacts.append((per_seed, None))
            tags = cell_tags(cell, **{"soclab.kind": f"{TRAIN_KIND}_agent"})
            out.run_ids[name] = log_cell_run(tracker, cell, parent, started_ms[name], logged,
                                             artifacts, curves.get(name), tags=tags)
    tracker.end_run(parent, "FINISHED")
    out.tracking_uri, out.experiment_name, out.parent_run_id = uri, spec.experiment_name, parent


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class _TrainProgress:
    """A rich progress bar over training iterations (return and primary metric of the last
    one's training episodes)."""

    def __init__(self, name: str, total: int, enabled: bool, metric: str) -> None:
        from soclab import metrics
        from soclab.ui import progress_bar

        self._info = metrics.get(metric)
        self._p = progress_bar(f"train {name}", enabled)
        self._task = self._p.add_task(name, total=total, status="building")

    def __enter__(self) -> _TrainProgress:
        self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._p.stop()

    def status(self, text: str) -> None:
        """A line on what happens before the first iteration (behaviour cloning's progress)."""
        self._p.update(self._task, status=text)

    def update(self, m: dict[str, Any]) -> None:
        info = self._info
        ret, value = m.get("episode_return_mean", math.nan), m.get(info.key, math.nan)
        self._p.update(self._task, completed=int(m["training_iteration"]),
                       status=f"return {ret:.3g} · train {info.label} {info.fmt(value)} {info.unit}")


def print_outcome(out: TrainOutcome) -> None:
    """The comparison table, ranked by the spec's primary metric (compact: fits 80 columns with
    two baselines; the other metrics are in the per-seed CSV and MLflow) and where the
    checkpoints, results and runs are."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from soclab import metrics

    console = Console(soft_wrap=True)
    info = metrics.get(out.metric)
    better = "lower" if info.lower_is_better is not False else "higher"
    console.print(f"[bold]{out.spec_name}[/bold] · noise={out.noise} · "
                  f"rate={out.rate_jobs_per_ms:g}/ms · seeds {', '.join(map(str, out.seeds))} · "
                  f"best first by {info.label} ({better} is better), means with [95% CI]; "
                  f"× B: its ratio to baseline B on the same seeds", highlight=False)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("agent", no_wrap=True)
    t.add_column(f"{info.label} {info.unit}".strip(), justify="right", no_wrap=True)
    bases = [b for b in out.baselines if f"ratio_to_{b}" in out.table.columns]
    for b in bases:
        t.add_column(f"× {b}", justify="right", no_wrap=True)
    for d in out.table.to_dict("records"):
        name = d["agent"] + (" (RL)" if d.get("kind") == "rl" else "")
        cells = [name, info.fmt_ci(d["mean"], d["ci_low"], d["ci_high"])]
        for b in bases:
            v = d.get(f"ratio_to_{b}")
            cells.append("–" if v is None or not math.isfinite(v)
                         else f"{metrics.RATIO.fmt(v)} {d.get(f'ratio_to_{b}_ci', '')}".strip())
        t.add_row(*cells)
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update(width=400), t).maximum
    wide = console if needed <= console.width else Console(soft_wrap=True, width=needed)
    wide.print(t)  # one line per agent, never cut (fits 80 columns unless far-off agents)
    for name, path in out.checkpoints.items():
        console.print(f"{name}: {out.iterations[name]} iterations in {out.train_s[name]:.0f} s; "
                      f"checkpoint {path}\n  use it: soclab simulate --scheduler checkpoint:{path}")
    if out.csv_path:
        console.print(f"per-seed results: {out.csv_path}")
    if out.parent_run_id:
        console.print(f"tracked in MLflow: experiment '{out.experiment_name}', run "
                      f"{out.parent_run_id} ({out.tracking_uri})")
