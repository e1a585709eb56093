"""Energy and deadline views of a sweep: the latency-energy trade-off and deadline-miss curves.

* `pareto_front`: which points are not dominated (lower latency *and* lower energy is better).
* `plot_latency_energy`: per cell group (noise x rate panel) every agent's mean latency against
  its mean energy per job, with 95% bootstrap CI crosses, the Pareto front joined and ringed.
* `plot_deadline_misses`: deadline-miss rate vs injection rate per agent (when jobs had deadlines).
* `markdown`: energy per job, EDP and the deadline metrics per cell with CIs.

Kept apart from `soclab.report` (which calls `figures` and `markdown`), so the latency report and
these views evolve independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from soclab import metrics, plots, stats
from soclab.spec import ExperimentSpec

GROUP = ["agent", "noise", "rate_jobs_per_ms"]
ENERGY = "energy_per_job_j"
LATENCY = "avg_latency_us"
MISS = "deadline_miss_rate"


def pareto_front(latency: ArrayLike, energy: ArrayLike) -> np.ndarray:
    """Boolean mask of the non-dominated points when both coordinates are minimised.

    A point is dominated when another is no worse in both coordinates and strictly better in at
    least one. Duplicates of a front point are all on the front; NaN points never are.
    """
    x = np.asarray(latency, dtype=float)
    y = np.asarray(energy, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("pareto_front: latency and energy must be 1-D arrays of the same length")
    ok = ~(np.isnan(x) | np.isnan(y))
    front = np.zeros(x.size, dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok.copy()
        others[i] = False
        dominated = others & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        front[i] = not dominated.any()
    return front


MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")


def agent_styles(agents: list[str], colors: dict[str, object] | None = None) -> dict[str, dict[str, object]]:
    """Matplotlib styles per agent label: the report's colour of each agent (`colors`, from
    `soclab.plots.agent_colors`, so an agent has one colour in every figure; by default those of
    `agents` in this order), marker and line style by the governor of a `SCHEDULER@GOVERNOR`
    label (governor-axis sweeps), so both read at a glance."""
    colors = colors if colors is not None else plots.agent_colors(agents)
    fallback = plots.agent_colors(agents)
    govs = sorted({[*a.split("@", 1), ""][1] for a in agents})
    out: dict[str, dict[str, object]] = {}
    for a in agents:
        g = govs.index([*a.split("@", 1), ""][1])
        out[a] = {"color": colors.get(a, fallback[a]), "marker": MARKERS[g % len(MARKERS)],
                  "linestyle": LINESTYLES[g % len(LINESTYLES)]}
    return out


def _legend_below(fig, axes) -> int:  # type: ignore[no-untyped-def]
    """One legend for the figure, below the panels; returns its number of rows."""
    from matplotlib.container import ErrorbarContainer

    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h.lines[0] if isinstance(h, ErrorbarContainer) else h)  # marker only
                labels.append(lab)
    width, height = fig.get_size_inches()
    ncol = max(1, min(len(labels), 5, int(width // 2.6)))
    rows = -(-len(labels) // ncol)
    fig.set_size_inches(width, height + 0.2 * rows)
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=ncol)
    return rows


def _grid(n: int, cols: int = 3):  # type: ignore[no-untyped-def]
    """Up to `cols` panels per row in soclab's figure style (soclab.plots): (pyplot, figure,
    axes); unused cells of the last row are hidden."""
    plt = plots.pyplot()
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows + 1.3), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return plt, fig, flat[:n]


def _finish(plt, fig, axes, title: str, path: Path) -> Path:  # type: ignore[no-untyped-def]
    rows = _legend_below(fig, axes)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, min(0.6, (0.2 * rows + 0.25) / fig.get_size_inches()[1]), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _summary(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return stats.summarize(df, metric, GROUP).set_index(GROUP)


def tradeoff_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: mean latency and mean energy per job with 95% CIs, and Pareto membership within
    its (noise, rate) group."""
    lat = _summary(df, LATENCY)
    en = _summary(df, ENERGY)
    t = pd.DataFrame({
        "latency": lat["mean"], "latency_low": lat.mean_low, "latency_high": lat.mean_high,
        "energy": en["mean"], "energy_low": en.mean_low, "energy_high": en.mean_high,
    }).reset_index()
    t["pareto"] = False
    for _, g in t.groupby(["noise", "rate_jobs_per_ms"]):
        t.loc[g.index, "pareto"] = pareto_front(g.latency.to_numpy(), g.energy.to_numpy())
    return t


def _has(df: pd.DataFrame, column: str) -> bool:
    return column in df.columns and bool(np.isfinite(df[column].to_numpy(dtype=float)).any())


def _span(lo: pd.Series, hi: pd.Series, log: bool, pad: float) -> tuple[float, float]:
    """Axis limits covering [min(lo), max(hi)] with a margin (`pad` of the span, in log space
    for a log axis)."""
    a, b = float(np.nanmin(lo)), float(np.nanmax(hi))
    if log:
        a, b = max(a, 1e-12), max(b, 1e-12)
        la, lb = np.log10(a), np.log10(b)
        m = max((lb - la) * pad, 0.03)
        return 10 ** (la - m), 10 ** (lb + m)
    m = max((b - a) * pad, abs(b) * 0.05, 1e-12)
    return a - m, b + m


def _off_scale(ax, rows: pd.DataFrame, styles: dict, en, lat, xlim, ylim) -> None:  # type: ignore[no-untyped-def]
    """Far-off agents as arrows just inside the right edge (at their energy, clamped to the
    axis, stacked where they would overlap), labelled with their latency and energy, instead of
    points that would stretch the axes."""
    y0, y1 = ylim
    step = (y1 - y0) * 0.08
    x = xlim[1] / 10 ** (0.015 * np.log10(xlim[1] / xlim[0]))
    placed: list[float] = []
    for r in rows.sort_values("latency").itertuples(index=False):
        st = styles[r.agent]
        y = min(max(r.energy * en.scale, y0 + step / 2), y1 - step / 2)
        down = y > (y0 + y1) / 2  # stack towards the middle of the panel
        while any(abs(y - p) < step * 0.9 for p in placed):
            y += -step if down else step
        placed.append(y)
        ax.plot([x], [y], marker=">", markersize=9, color=st["color"], linestyle="none",
                label=r.agent, zorder=4)
        if r.pareto:
            ax.scatter([x], [y], s=160, facecolors="none", edgecolors="black", zorder=3,
                       label="Pareto front")
        ax.annotate(f"{r.agent}: {lat.fmt(r.latency)} {lat.unit}, {en.fmt(r.energy)} {en.unit} →",
                    (x, y), fontsize=7, color=st["color"], ha="right", va="center",
                    xytext=(-8, 0), textcoords="offset points")


def _plain_log_ticks(ax) -> None:  # type: ignore[no-untyped-def]
    """Readable ticks on a log x axis of a few decades at most (matplotlib would label its minor
    ticks as overlapping `2×10²`-style text): plain numbers, at most about six of them."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

    lo, hi = ax.get_xlim()
    if hi / lo >= 1000:
        return
    if hi / lo < 10:
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.4g}"))


def plot_latency_energy(df: pd.DataFrame, spec: ExperimentSpec, path: Path,
                        colors: dict[str, object] | None = None) -> Path:
    """Mean latency vs mean energy per job, 95% CI crosses, Pareto front marked; one panel per
    (noise, rate) group. Far-off agents (`report.outlier_factor`, as in the latency figures)
    that are off the Pareto front and would stretch a panel's axes are drawn as labelled arrows
    on its right edge; the front itself (e.g. slow but frugal governors) is always drawn."""
    plt, fig, axes = draw_latency_energy(df, spec, colors)
    arrows = any(ln.get_marker() == ">" for ax in axes for ln in ax.lines)
    return _finish(plt, fig, axes, f"{spec.name}: latency vs energy per job (95% CI crosses; "
                   "ringed and joined: Pareto front"
                   + ("; ▶ on the right edge: far-off agent, values written)" if arrows else ")"),
                   path)


def draw_latency_energy(df: pd.DataFrame, spec: ExperimentSpec,
                        colors: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    """The panels of `plot_latency_energy`, not yet saved: (pyplot, figure, axes)."""
    t = tradeoff_table(df)
    groups = sorted(t.groupby(["noise", "rate_jobs_per_ms"]).groups,
                    key=lambda k: (list(spec.axes.noise).index(k[0]) if k[0] in spec.axes.noise else 0, k[1]))
    plt, fig, axes = _grid(len(groups))
    styles = agent_styles(sorted(t.agent.unique()), colors)
    lat, en = metrics.get(LATENCY), metrics.get(ENERGY)
    apart = set(plots.outliers(t.rename(columns={"latency": "mean"}), spec.report.outlier_factor,
                               keep=spec.baselines))
    for ax, (noise, rate) in zip(axes, groups, strict=True):
        g = t[(t.noise == noise) & (t.rate_jobs_per_ms == rate)]
        far = g.agent.isin(apart) & ~g.pareto  # far off and dominated: no part of the trade-off
        near = g[~far] if (~far).any() else g
        xlim = _span(near.latency_low.fillna(near.latency), near.latency_high.fillna(near.latency),
                     True, 0.12)
        ylim = _span(near.energy_low.fillna(near.energy) * en.scale,
                     near.energy_high.fillna(near.energy) * en.scale, False, 0.12)
        inside = g.latency.between(*xlim) & (g.energy * en.scale).between(*ylim)
        shown, off = g[inside | ~far], g[~inside & far]
        for r in shown.sort_values("agent").itertuples(index=False):
            st = styles[r.agent]
            ax.errorbar(r.latency, r.energy * en.scale,
                        xerr=[[r.latency - r.latency_low], [r.latency_high - r.latency]],
                        yerr=[[(r.energy - r.energy_low) * en.scale],
                              [(r.energy_high - r.energy) * en.scale]],
                        marker=st["marker"], capsize=3, color=st["color"], label=r.agent,
                        linestyle="none")
        front = shown[shown.pareto].sort_values("latency")
        if len(front):
            ax.plot(front.latency, front.energy * en.scale, color="black", linewidth=1, linestyle="--",
                    drawstyle="steps-post", zorder=0)
            ax.scatter(front.latency, front.energy * en.scale, s=160, facecolors="none",
                       edgecolors="black", zorder=3, label="Pareto front")
        ax.set_xscale("log")
        if len(off):  # fix the limits to the agents drawn, then the arrows on the edge
            xlim = _span(shown.latency_low.fillna(shown.latency),
                         shown.latency_high.fillna(shown.latency), True, 0.12)
            ylim = _span(shown.energy_low.fillna(shown.energy) * en.scale,
                         shown.energy_high.fillna(shown.energy) * en.scale, False, 0.12)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            _off_scale(ax, off, styles, en, lat, xlim, ylim)
        _plain_log_ticks(ax)
        ax.set_title(f"noise: {noise}, rate {rate:g} jobs/ms")
        ax.set_xlabel(lat.heading)
        ax.set_ylabel(en.heading)
        ax.grid(alpha=0.3)
    return plt, fig, axes


def plot_deadline_misses(df: pd.DataFrame, spec: ExperimentSpec, path: Path,
                         colors: dict[str, object] | None = None) -> Path:
    """Deadline-miss rate vs injection rate per agent with 95% CI bands, one panel per noise."""
    noises = [n for n in spec.axes.noise if n in set(df.noise)]
    plt, fig, axes = _grid(len(noises))
    table = stats.summarize(df, MISS, GROUP)
    styles = agent_styles(sorted(table.agent.unique()), colors)
    miss = metrics.get(MISS)
    for ax, noise in zip(axes, noises, strict=True):
        for agent, g in table[table.noise == noise].groupby("agent", sort=True):
            g = g.sort_values("rate_jobs_per_ms")
            st = styles[agent]
            ax.plot(g.rate_jobs_per_ms, g["mean"] * miss.scale, label=agent, **st)  # type: ignore[arg-type]
            ax.fill_between(g.rate_jobs_per_ms, g.mean_low * miss.scale, g.mean_high * miss.scale, alpha=0.12,
                            color=st["color"])
        ax.set_title(f"noise: {noise}")
        ax.set_xlabel("injection rate (jobs/ms)")
        ax.set_ylabel(f"{miss.heading}, of jobs")
        ax.set_ylim(-0.02 * miss.scale, 1.02 * miss.scale)
        ax.grid(alpha=0.3)
    return _finish(plt, fig, axes, f"{spec.name}: deadline-miss rate vs load (95% CI bands)", path)


CAPTIONS = {
    "latency_energy.png": "Mean job latency against mean energy per job per agent, one panel per "
                          "(noise, rate); crosses are 95% bootstrap CIs over seeds. Ringed and "
                          "joined: the Pareto front (no other agent is at least as fast and as "
                          "frugal). Far-off agents off the front (report.outlier_factor), if any, "
                          "are drawn as arrows on the right edge with their latency and energy "
                          "written beside them, so they do not stretch the axes.",
    "deadline_misses.png": "Share of jobs that missed their deadline vs injection rate per agent; "
                           "bands are 95% bootstrap CIs over seeds.",
}  #: the report's caption of each figure, by file name


def figures(df: pd.DataFrame, spec: ExperimentSpec, out_dir: Path,
            colors: dict[str, object] | None = None) -> list[Path]:
    """The trade-off figures this sweep's results support (energy and/or deadlines present);
    `colors`: the report's agent colours (soclab.plots.agent_colors)."""
    out = []
    if _has(df, ENERGY):
        out.append(plot_latency_energy(df, spec, out_dir / "latency_energy.png", colors))
    if _has(df, MISS):
        out.append(plot_deadline_misses(df, spec, out_dir / "deadline_misses.png", colors))
    return out


def _ci(v: float, lo: float, hi: float, scale: float = 1.0, digits: int = 3) -> str:
    if np.isnan(v):
        return "–"
    return f"{v * scale:.{digits}g} [{lo * scale:.{digits}g}, {hi * scale:.{digits}g}]"


def markdown(df: pd.DataFrame, spec: ExperimentSpec) -> str:
    """Energy per job (with the Pareto members marked) and, if any, the deadline metrics."""
    if not _has(df, ENERGY) and not _has(df, MISS):
        return ""
    parts = []
    if _has(df, ENERGY):
        t = tradeoff_table(df)
        edp = df.groupby(GROUP)["edp"].mean()
        en, lat, edp_m = metrics.get(ENERGY), metrics.get(LATENCY), metrics.get("edp")
        rows = [f"| agent | noise | rate | {en.heading} [95% CI] | {lat.heading} [95% CI] | "
                f"{edp_m.heading} | Pareto |", "|---|---|---|---|---|---|---|"]
        order = {n: i for i, n in enumerate(sorted(set(t.noise), key=plots.noise_key))}
        t["_noise"] = t.noise.map(order)
        for r in t.sort_values(["_noise", "rate_jobs_per_ms", "latency"]).itertuples(index=False):
            rows.append(f"| {r.agent} | {r.noise} | {r.rate_jobs_per_ms:g} | "
                        f"{_ci(r.energy, r.energy_low, r.energy_high, en.scale)} | "
                        f"{_ci(r.latency, r.latency_low, r.latency_high, lat.scale, 4)} | "
                        f"{edp_m.fmt(edp.loc[(r.agent, r.noise, r.rate_jobs_per_ms)])} | "
                        f"{'yes' if r.pareto else ''} |")
        parts.append("## Energy per job and the latency–energy trade-off\n\n" + "\n".join(rows))
    if _has(df, MISS):
        miss = _summary(df, MISS)
        tard = df.groupby(GROUP)[["mean_tardiness_us", "p99_lateness_us"]].mean()
        m_miss, tardy, late = (metrics.get(k) for k in (MISS, "mean_tardiness_us", "p99_lateness_us"))
        rows = [f"| agent | noise | rate | {m_miss.heading} [95% CI] | {tardy.heading} | "
                f"{late.heading} |", "|---|---|---|---|---|---|"]
        for key, r in sorted(miss.iterrows(), key=lambda kr: (plots.noise_key(kr[0][1]), kr[0][2])):
            agent, noise, rate = key
            rows.append(f"| {agent} | {noise} | {rate:g} | "
                        f"{_ci(r['mean'], r.mean_low, r.mean_high, m_miss.scale)} | "
                        f"{tardy.fmt(tard.loc[key].mean_tardiness_us)} | "
                        f"{late.fmt(tard.loc[key].p99_lateness_us)} |")
        parts.append("## Deadlines\n\n" + "\n".join(rows))
    return "\n\n".join(parts)
