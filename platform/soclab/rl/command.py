"""`soclab train SPEC`: train a spec's RL agents on one grid point, then compare them with the
spec's heuristics and baselines on the spec's evaluation seeds (identical seeds for everyone).

Reuses the sweep's pieces: `Cell` for the configuration, `soclab.rl.train.train_agent` for
training and checkpointing, `soclab.cellrun.evaluate_cell` for evaluation, and
`soclab.stats` for the confidence intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dssoc.errors import ConfigError


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
    csv_path: Path | None = None


def comparison_table(per_seed: pd.DataFrame, baselines: list[str]) -> pd.DataFrame:
    """Per agent: mean latency with a 95% bootstrap CI over seeds, and its paired ratio (with CI)
    to each baseline's mean latency on the same seeds."""
    from soclab.stats import mean_ci, paired_ratio_ci

    rows = []
    by_agent = {a: g.set_index("seed") for a, g in per_seed.groupby("agent", sort=False)}
    for agent, g in by_agent.items():
        lat = mean_ci(g["avg_latency_us"].to_numpy(dtype=float))
        row: dict[str, Any] = {"agent": agent, "kind": g["kind"].iloc[0],
                               "latency_us": lat.value, "ci_low": lat.low, "ci_high": lat.high,
                               "p95_latency_us": float(g["p95_latency_us"].mean()),
                               "throughput_jobs_per_ms": float(g["throughput_jobs_per_ms"].mean()),
                               "energy_j": float(g["energy_j"].mean()), "n_seeds": len(g)}
        for b in baselines:
            if b not in by_agent:
                continue
            base = by_agent[b]
            common = g.index.intersection(base.index)
            r = paired_ratio_ci(g.loc[common, "avg_latency_us"].to_numpy(dtype=float),
                                base.loc[common, "avg_latency_us"].to_numpy(dtype=float))
            row[f"ratio_to_{b}"] = r.value
            row[f"ratio_to_{b}_ci"] = (f"[{r.low:.3f}, {r.high:.3f}]"
                                       if math.isfinite(r.low) else "")
        rows.append(row)
    return pd.DataFrame(rows).sort_values("latency_us", kind="stable").reset_index(drop=True)


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
) -> TrainOutcome:
    """Train the spec's RL agents (all, or those named in `agents`) at one grid point and
    evaluate them against every heuristic and baseline of the spec on the same seeds."""
    from dssoc.noise import parse_noise
    from soclab.cellrun import evaluate_cell
    from soclab.cells import plan_cells
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
        unknown = sorted(set(agents) - {c.agent.name for c in rl})
        if unknown:
            raise ConfigError(f"no RL agent named {unknown} in the spec; RL agents: "
                              f"{', '.join(c.agent.name for c in rl) or 'none'}", "--agent")
        rl = [c for c in rl if c.agent.name in agents]
    if not rl:
        raise ConfigError("the spec has no RL agent (an agent with an 'algorithm')", spec.name)
    from soclab.rl.algos import check_agent

    for cell in rl:
        check_agent(cell.agent)
    first = cells[0]
    out = TrainOutcome(spec.name, first.noise, first.rate_jobs_per_ms, first.seeds,
                       baselines=list(spec.baselines))
    root = Path(output_dir).resolve() / spec.name
    init_ray(None, num_cpus)
    schedulers: dict[str, Any] = {}
    for cell in rl:
        n_iter = int(iterations or cell.budget["rl_iterations"])
        if cell.agent.search_space:
            _console().print(f"[yellow]{cell.agent.name}: search_space ignored by `soclab train` "
                             "(the sweep searches it); training with the fixed hyperparameters")
        with _TrainProgress(cell.agent.name, n_iter, show_progress) as bar:
            trained = train_agent(cell, root / cell.agent.name / "checkpoint",
                                  on_progress=bar.update, iterations=n_iter)
        schedulers[cell.agent.name] = trained.scheduler
        out.checkpoints[cell.agent.name] = trained.checkpoint_dir
        out.iterations[cell.agent.name] = trained.iterations
        out.train_s[cell.agent.name] = trained.wall_s
    frames = []
    trained_names = set(schedulers)
    for cell in cells:
        if cell.agent.kind == "rl" and cell.agent.name not in trained_names:
            continue
        if show_progress:
            _console().print(f"evaluating {cell.agent.name} on seeds {list(cell.seeds)}")
        df, _ = evaluate_cell(cell, schedulers.get(cell.agent.name))
        df["kind"] = cell.agent.kind
        frames.append(df)
    out.per_seed = pd.concat(frames, ignore_index=True)
    out.table = comparison_table(out.per_seed, out.baselines)
    root.mkdir(parents=True, exist_ok=True)
    out.csv_path = root / "train_comparison.csv"
    out.per_seed.to_csv(out.csv_path, index=False)
    return out


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class _TrainProgress:
    """A rich progress bar over training iterations (return and latency of the last one)."""

    def __init__(self, name: str, total: int, enabled: bool) -> None:
        from soclab.ui import progress_bar

        self._p = progress_bar(f"train {name}", enabled)
        self._task = self._p.add_task(name, total=total, status="building")

    def __enter__(self) -> _TrainProgress:
        self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._p.stop()

    def update(self, m: dict[str, Any]) -> None:
        ret, lat = m.get("episode_return_mean", math.nan), m.get("avg_latency_us", math.nan)
        self._p.update(self._task, completed=int(m["training_iteration"]),
                       status=f"return {ret:.3g} · train latency {lat:.1f} µs")


def print_outcome(out: TrainOutcome) -> None:
    """The comparison table (rich) and where the checkpoints and results are."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"{out.spec_name} · noise={out.noise} · rate={out.rate_jobs_per_ms:g}/ms · "
                    f"seeds {list(out.seeds)}")
    t.add_column("agent")
    t.add_column("kind")
    t.add_column("mean latency µs [95% CI]", justify="right")
    t.add_column("p95 µs", justify="right")
    t.add_column("jobs/ms", justify="right")
    bases = [b for b in out.baselines if f"ratio_to_{b}" in out.table.columns]
    for b in bases:
        t.add_column(f"× {b} [95% CI]", justify="right")
    for d in out.table.to_dict("records"):
        cells = [d["agent"], d["kind"], f"{d['latency_us']:.1f} [{d['ci_low']:.1f}, {d['ci_high']:.1f}]",
                 f"{d['p95_latency_us']:.0f}", f"{d['throughput_jobs_per_ms']:.3f}"]
        for b in bases:
            v = d.get(f"ratio_to_{b}")
            cells.append("" if v is None or not math.isfinite(v)
                         else f"{v:.3f} {d.get(f'ratio_to_{b}_ci', '')}")
        t.add_row(*cells)
    console.print(t)
    for name, path in out.checkpoints.items():
        console.print(f"{name}: {out.iterations[name]} iterations in {out.train_s[name]:.0f} s; "
                      f"checkpoint {path}\n  use it: soclab simulate --scheduler checkpoint:{path}")
    if out.csv_path:
        console.print(f"per-seed results: {out.csv_path}")
