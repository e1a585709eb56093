"""Report figures: latency vs load, ratio to a baseline, robustness to noise, learning curves.

Shared conventions, so every figure reads the same way:

* one colour per agent across all figures (`agent_colors`, in the spec's agent order);
* bands and error bars are bootstrap 95% confidence intervals over seeds, and say so;
* agents far worse than the rest (`outliers`, e.g. `random`) get their own row of panels with
  their own scale instead of crushing the others; `report.hide_agents` leaves agents out;
* ratios are on a log axis with 1 (parity with the baseline) marked;
* categorical axes (noise levels) use markers and error bars, never joining lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soclab import metrics, stats

GROUP = ["agent", "noise", "rate_jobs_per_ms"]
CI_LABEL = "bands: 95% bootstrap CI over seeds"


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive backend, with soclab's figure style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3, "font.size": 9,
                         "axes.titlesize": 10, "legend.fontsize": 8, "figure.dpi": 100})
    return plt


def _number_first(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def noise_key(level: str) -> tuple:
    """Sort key of noise levels by magnitude: `none` first, then by model and its arguments in
    numeric order (`gaussian:0.05` < `gaussian:0.2` < `gaussian:1`), text arguments by name."""
    if str(level).strip() in ("", "none"):
        return (0,)
    parts = []
    for part in str(level).split("+"):
        kind, *args = part.strip().split(":")
        parts.append((kind, *(_number_first(a) for a in args)))
    return (1, *parts)


def agent_colors(agents: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per agent (tab10 in the given order, then tab20): the same in every figure."""
    plt = pyplot()
    palette = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("tab20").colors[1::2])
    return {a: palette[i % len(palette)] for i, a in enumerate(agents)}


def outliers(table: pd.DataFrame, factor: float, keep: Sequence[str] = ()) -> list[str]:
    """Agents whose mean latency is on (geometric) average above `factor` x the best agent's
    over the (noise, rate) points: drawn apart so they do not flatten the comparison of the
    others. `keep` (the baselines) are never outliers; `factor` 0 turns this off."""
    if table.empty or factor <= 0:
        return []
    best = table.groupby(["noise", "rate_jobs_per_ms"])["mean"].transform("min")
    log_ratio = np.log(table["mean"] / best).groupby(table["agent"]).mean()
    return [a for a, lr in log_ratio.items() if lr > np.log(factor) and a not in keep]


def _grid(plt: Any, rows: int, cols: int, width: float = 4.2, height: float = 3.2) -> tuple:
    # at least 7 in wide: one panel (a single noise level, e.g. a governors sweep) must still fit
    # the title and a legend of long `SCHEDULER@GOVERNOR` labels
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, width * cols + 0.6), height * rows + 0.8),
                             squeeze=False)
    return fig, axes


def _finish(plt: Any, fig: Any, title: str, path: Path, axes: Any) -> Path:
    """One legend for the whole figure (each label once, in first-seen order), title, PNG."""
    seen: dict[str, Any] = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    handles, labels = list(seen.values()), list(seen)
    if handles:
        ncol = max(1, min(len(labels), 8, int(fig.get_size_inches()[0] // 1.8)))
        fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 0.93 if "\n" in title else 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _curve(ax: Any, x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: Any,
           label: str, marker: str = "o") -> None:
    ax.plot(x, y, marker=marker, color=color, label=label, linewidth=1.6, markersize=4)
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


def plot_latency_vs_load(table: pd.DataFrame, noises: Sequence[str], colors: dict[str, Any],
                         apart: Sequence[str], path: Path, title: str,
                         metric: str = metrics.PRIMARY) -> Path:
    """Mean latency vs injection rate per agent (95% CI bands), one column per noise level;
    outliers in a second row on their own scale, with the best agent for reference."""
    info = metrics.get(metric)
    plt = pyplot()
    rows = 2 if apart else 1
    fig, axes = _grid(plt, rows, len(noises))
    for j, noise in enumerate(noises):
        sub = table[table.noise == noise]
        for row in range(rows):
            ax = axes[row][j]
            shown = [a for a in colors if a in set(sub.agent)
                     and ((a in apart) == (row == 1))]
            if row == 1:  # the best (lowest mean) normal agent, as a reference line
                normal = sub[~sub.agent.isin(apart)]
                if not normal.empty:
                    shown.append(normal.groupby("agent")["mean"].mean().idxmin())
            for agent in shown:
                g = sub[sub.agent == agent].sort_values("rate_jobs_per_ms")
                s = info.scale
                _curve(ax, g.rate_jobs_per_ms.to_numpy(), g["mean"].to_numpy() * s,
                       g.mean_low.to_numpy() * s, g.mean_high.to_numpy() * s, colors[agent],
                       agent, "s" if row == 1 and agent not in apart else "o")
                sat = stats.saturation_point(g.rate_jobs_per_ms.to_numpy(), g["mean"].to_numpy())
                if sat is not None and (row == 1) == (agent in apart):
                    ax.axvline(sat, color=colors[agent], linestyle=":", linewidth=1.2)
            ax.set_title(f"noise: {noise}" + (" · far-off agents" if row == 1 else ""))
            ax.set_xlabel("injection rate (jobs/ms)")
            ax.set_ylabel(info.heading)
            if row == 1:
                ax.set_yscale("log")
            ax.set_xticks(sorted(sub.rate_jobs_per_ms.unique()))
    return _finish(plt, fig, f"{title}\n({CI_LABEL}; dotted: saturation, latency x2 the "
                   "lowest rate's)", path, axes)


def plot_ratio_to_baseline(cmp: pd.DataFrame, baseline: str, noises: Sequence[str],
                           colors: dict[str, Any], apart: Sequence[str], path: Path,
                           title: str, metric: str = metrics.PRIMARY) -> Path:
    """Paired ratio agent / baseline of `metric` (a spec's primary) vs injection rate (log axis,
    1 marked, 95% CI bands), one column per noise level."""
    info = metrics.get(metric)
    better = "better" if info.lower_is_better is not None else "lower"
    side = "<" if info.lower_is_better is not False else ">"
    plt = pyplot()
    rows = 2 if apart else 1
    fig, axes = _grid(plt, rows, len(noises))
    col = f"ratio_to_{baseline}"
    for j, noise in enumerate(noises):
        sub = cmp[(cmp.noise == noise) & (cmp.agent != baseline)]
        for row in range(rows):
            ax = axes[row][j]
            for agent in [a for a in colors if a in set(sub.agent) and ((a in apart) == (row == 1))]:
                g = sub[sub.agent == agent].sort_values("rate_jobs_per_ms")
                _curve(ax, g.rate_jobs_per_ms.to_numpy(), g[col].to_numpy(),
                       g.ratio_low.to_numpy(), g.ratio_high.to_numpy(), colors[agent], agent)
            ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
            ax.set_yscale("log")
            _plain_log_ticks(ax)
            ax.set_title(f"noise: {noise}" + (" · far-off agents" if row == 1 else ""))
            ax.set_xlabel("injection rate (jobs/ms)")
            ax.set_ylabel(f"{info.label} ratio to {baseline} (log)")
            ax.set_xticks(sorted(cmp.rate_jobs_per_ms.unique()))
    return _finish(plt, fig, f"{title}: {info.label} / {baseline}'s on the same seeds\n"
                   f"({side} 1: {better} than {baseline}; dashed: parity; {CI_LABEL})", path, axes)


def _plain_log_ticks(ax: Any) -> None:
    """Readable ticks on a log axis: within a factor of 3, about five evenly spaced plain
    numbers (0.94, 0.96, ...) instead of a lone 10^0."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    lo, hi = ax.get_ylim()
    if hi / max(lo, 1e-12) < 3:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))


def plot_robustness(table: pd.DataFrame, noises: Sequence[str], colors: dict[str, Any],
                    path: Path, title: str, metric: str = metrics.PRIMARY) -> Path:
    """Mean latency per noise level (categorical axis, markers with 95% CI error bars, agents
    side by side, no joining lines), one panel per injection rate. Needs >= 2 noise levels."""
    info = metrics.get(metric)
    plt = pyplot()
    rates = sorted(table.rate_jobs_per_ms.unique())
    fig, axes = _grid(plt, 1, len(rates), width=3.8)
    agents = [a for a in colors if a in set(table.agent)]
    x = np.arange(len(noises))
    offsets = np.linspace(-0.3, 0.3, len(agents)) if len(agents) > 1 else np.zeros(1)
    for ax, rate in zip(axes[0], rates, strict=True):
        sub = table[table.rate_jobs_per_ms == rate]
        for off, agent in zip(offsets, agents, strict=True):
            g = sub[sub.agent == agent].set_index("noise").reindex(noises)
            s = info.scale
            yerr = np.vstack([g["mean"] - g.mean_low, g.mean_high - g["mean"]]) * s
            ax.errorbar(x + off, g["mean"] * s, yerr=yerr, fmt="o", capsize=2, markersize=4,
                        color=colors[agent], label=agent, linestyle="none")
        ax.set_xticks(x, list(noises))
        ax.set_xlim(-0.6, len(noises) - 0.4)
        ax.set_title(f"rate {rate:g} jobs/ms")
        ax.set_xlabel("noise")
        ax.set_ylabel(info.heading)
    return _finish(plt, fig, f"{title}: robustness to noise (error bars: 95% bootstrap CI)", path,
                   axes)


def plot_by_point(table: pd.DataFrame, design: Sequence[str], colors: dict[str, Any], path: Path,
                  title: str, ylabel: str) -> Path:
    """The summarized metric per point of the design axes (e.g. soc x max_jobs_in_flight): a group
    of bars per point, one bar per agent with its 95% CI, one panel per (noise, rate)."""
    plt = pyplot()
    table = table.assign(point=table[list(design)].astype(str).agg(" · ".join, axis=1))
    panels = list(table.groupby(["noise", "rate_jobs_per_ms"], sort=False))
    fig, axes = _grid(plt, 1, len(panels), width=max(4.2, 1.1 * table.point.nunique()))
    agents = [a for a in colors if a in set(table.agent)]
    width = 0.8 / max(len(agents), 1)
    for ax, ((noise, rate), sub) in zip(axes[0], panels, strict=True):
        points = list(dict.fromkeys(sub.point))
        x = np.arange(len(points))
        for i, agent in enumerate(agents):
            g = sub[sub.agent == agent].set_index("point").reindex(points)
            yerr = np.vstack([g["mean"] - g.mean_low, g.mean_high - g["mean"]])
            ax.bar(x + (i - (len(agents) - 1) / 2) * width, g["mean"], width, yerr=yerr, capsize=2,
                   color=colors[agent], label=agent)
        ax.set_xticks(x, points, rotation=15, fontsize=8)
        ax.set_xlabel(" · ".join(design))
        ax.set_ylabel(ylabel)
        ax.set_title(f"noise {noise}, {rate:g} jobs/ms")
        ax.grid(alpha=0.3, axis="y")
    return _finish(plt, fig, f"{title} (error bars: 95% bootstrap CI over seeds)", path, axes)


def plot_learning_curves(curves: dict[str, dict[str, Sequence[float]]], path: Path, title: str,
                         colors: dict[str, Any] | None = None,
                         references: dict[str, float] | None = None,
                         metric: str = metrics.PRIMARY) -> Path:
    """Per-iteration training curves of RL agents: episode return and the training episodes'
    `metric` (a spec's primary), raw (thin) and as a 5-iteration moving average (thick);
    `references` draws evaluated values of heuristics as labelled horizontal lines."""
    plt = pyplot()
    fig, axes = _grid(plt, 1, 2, width=5.2)
    colors = colors or agent_colors(list(curves))
    info = metrics.get(metric)
    panels = (("train/episode_return_mean", "episode return"),
              (f"train/{metric}", f"training-episode {info.heading}"))
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        for name, c in curves.items():
            y = np.asarray(c.get(key, []), dtype=float) * (info.scale if key != panels[0][0] else 1)
            if not y.size:
                continue
            it = np.arange(1, y.size + 1)
            ax.plot(it, y, color=colors.get(name), alpha=0.3, linewidth=0.8)
            k = min(5, y.size)
            smooth = pd.Series(y).rolling(k, min_periods=1).mean().to_numpy()
            ax.plot(it, smooth, color=colors.get(name), linewidth=2, label=f"{name} ({k}-it. mean)")
        if key != panels[0][0]:
            for i, (ref, v) in enumerate((references or {}).items()):
                ax.axhline(v * info.scale, color="0.4", linestyle=(0, (3, 2 + i)), linewidth=1)
                ax.annotate(f"{ref} eval {info.fmt(v)}", (1, v * info.scale), fontsize=7, color="0.3",
                            xytext=(2, 2), textcoords="offset points")
        ax.set_xlabel("training iteration")
        ax.set_ylabel(label)
    return _finish(plt, fig, title, path, axes)


def summarize_all(df: pd.DataFrame, metric: str = metrics.PRIMARY,
                  baseline: str | None = None) -> pd.DataFrame:
    """`stats.summarize` over (agent, noise, rate) with the metric's direction."""
    info = metrics.get(metric)
    return stats.summarize(df, metric, GROUP, baseline=baseline,
                           lower_is_better=info.lower_is_better is not False)
