"""Reports: "which scheduler is better, where, and how sure are we".

From the per-seed results of every finished cell: per-agent tables (mean, IQM, bootstrap 95% CIs),
improvement over each baseline on the same seeds with its CI and the probability of improvement,
latency-vs-load curves with CI bands and the saturation point marked, and robustness curves
(latency vs noise level). Written as self-contained HTML plus Markdown and PNGs, and logged to
the sweep's parent MLflow run. The per-cell ratios to baselines are also logged to the cells' runs.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from soclab import stats, tradeoff
from soclab.cells import group_columns, plan_cells
from soclab.spec import ExperimentSpec
from soclab.tracking import Tracker


def _metric(spec: ExperimentSpec) -> tuple[str, bool]:
    """The spec's primary metric (`metrics.primary`) and whether lower is better."""
    info = spec.metrics.info
    return info.key, bool(info.lower_is_better)


def _extra(spec: ExperimentSpec) -> list[str]:
    """The spec's axes beyond noise and rate (e.g. soc, max_jobs_in_flight): extra table columns,
    and part of each curve's label in the figures."""
    return list(spec.axes.extra_axes)


def _series(table: pd.DataFrame, spec: ExperimentSpec) -> pd.Series:
    """One curve per agent and value of the extra axes: `HEFT · soc=X · max_jobs_in_flight=4`."""
    label = table["agent"].astype(str)
    for k in _extra(spec):
        label = label + f" · {k}=" + table[k].astype(str)
    return label


def log_baseline_ratios(df: pd.DataFrame, spec: ExperimentSpec, tracker: Tracker) -> None:
    """Log each cell's ratio to every baseline (same point of the axes and seeds) into its run."""
    group = group_columns(spec)
    metric, lower = _metric(spec)
    runs = df.groupby(group)["run_id"].first()
    for b in spec.baselines:
        table = stats.summarize(df, metric, group, baseline=b, lower_is_better=lower)
        for row in table.to_dict("records"):
            key = tuple(row[k] for k in group)
            if key not in runs.index or np.isnan(row[f"ratio_to_{b}"]):
                continue
            tracker.log(runs.loc[key], metrics={
                f"ratio_to_{b}": row[f"ratio_to_{b}"],
                f"ratio_to_{b}_ci_low": row["ratio_low"],
                f"ratio_to_{b}_ci_high": row["ratio_high"],
                f"improvement_pct_vs_{b}": row["improvement_pct"],
                f"prob_improvement_vs_{b}": row["prob_improvement"],
            })


def _noise_order(spec: ExperimentSpec) -> list[str]:
    return list(spec.axes.noise)


def _panels(n: int):  # type: ignore[no-untyped-def]
    """A row of `n` plot panels on the non-interactive backend: (pyplot, figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    return plt, fig, axes[0]


def _save(plt, fig, axes, title: str, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Legend, title, layout, PNG, close."""
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency_vs_load(df: pd.DataFrame, spec: ExperimentSpec, path: Path) -> Path:
    """Latency vs injection rate per agent with 95% CI bands, one panel per noise level;
    the saturation point (latency doubles vs the lowest rate) is marked."""
    noises = _noise_order(spec)
    plt, fig, axes = _panels(len(noises))
    table = stats.summarize(df, spec.metrics.primary, group_columns(spec))
    table["series"] = _series(table, spec)
    for ax, noise in zip(axes, noises, strict=True):
        sub = table[table.noise == noise]
        for agent, g in sub.groupby("series", sort=True):
            g = g.sort_values("rate_jobs_per_ms")
            (line,) = ax.plot(g.rate_jobs_per_ms, g["mean"], marker="o", label=agent)
            ax.fill_between(g.rate_jobs_per_ms, g.mean_low, g.mean_high, alpha=0.2,
                            color=line.get_color())
            sat = stats.saturation_point(g.rate_jobs_per_ms.to_numpy(), g["mean"].to_numpy())
            if sat is not None:
                ax.axvline(sat, color=line.get_color(), linestyle=":", alpha=0.8)
        ax.set_title(f"noise: {noise}")
        ax.set_xlabel("injection rate (jobs/ms)")
        ax.set_ylabel(spec.metrics.info.heading)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    title = f"{spec.name}: {spec.metrics.info.label} vs load (dotted: saturation, x2)"
    return _save(plt, fig, axes, title, path)


def plot_robustness(df: pd.DataFrame, spec: ExperimentSpec, path: Path) -> Path:
    """Latency vs noise level per agent with 95% CIs, one panel per injection rate."""
    noises = _noise_order(spec)
    rates = sorted(df.rate_jobs_per_ms.unique())
    plt, fig, axes = _panels(len(rates))
    table = stats.summarize(df, spec.metrics.primary, group_columns(spec))
    table["series"] = _series(table, spec)
    x = np.arange(len(noises))
    for ax, rate in zip(axes, rates, strict=True):
        sub = table[table.rate_jobs_per_ms == rate]
        for agent, g in sub.groupby("series", sort=True):
            g = g.set_index("noise").reindex(noises)
            yerr = np.vstack([g["mean"] - g.mean_low, g.mean_high - g["mean"]])
            ax.errorbar(x, g["mean"], yerr=yerr, marker="o", capsize=3, label=agent)
        ax.set_xticks(x, noises, rotation=20)
        ax.set_title(f"rate {rate:g} jobs/ms")
        ax.set_xlabel("noise")
        ax.set_ylabel(spec.metrics.info.heading)
        ax.grid(alpha=0.3)
    return _save(plt, fig, axes, f"{spec.name}: robustness to noise", path)


def plot_by_point(df: pd.DataFrame, spec: ExperimentSpec, path: Path) -> Path:
    """The primary metric per point of the extra axes (e.g. soc x max_jobs_in_flight): one group
    of bars per point, one bar per agent, 95% CI error bars; one panel per (noise, rate)."""
    table = stats.summarize(df, spec.metrics.primary, group_columns(spec))
    extra = _extra(spec)
    table["point"] = table[extra].astype(str).agg(" · ".join, axis=1)
    panels = list(table.groupby(["noise", "rate_jobs_per_ms"], sort=False))
    plt, fig, axes = _panels(len(panels))
    agents = sorted(table.agent.unique())
    width = 0.8 / len(agents)
    for ax, ((noise, rate), sub) in zip(axes, panels, strict=True):
        points = list(dict.fromkeys(sub.point))
        x = np.arange(len(points))
        for i, agent in enumerate(agents):
            g = sub[sub.agent == agent].set_index("point").reindex(points)
            yerr = np.vstack([g["mean"] - g.mean_low, g.mean_high - g["mean"]])
            ax.bar(x + (i - (len(agents) - 1) / 2) * width, g["mean"], width, yerr=yerr, capsize=2,
                   label=agent)
        ax.set_xticks(x, points, rotation=15, fontsize=8)
        ax.set_xlabel(" · ".join(extra))
        ax.set_ylabel(spec.metrics.info.heading)
        ax.set_title(f"noise {noise}, {rate:g} jobs/ms")
        ax.grid(alpha=0.3, axis="y")
    return _save(plt, fig, axes, f"{spec.name}: {spec.metrics.info.label} per design point", path)


def _fmt_ci(value: float, low: float, high: float, digits: int = 1) -> str:
    if np.isnan(value):
        return "–"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def ranking(df: pd.DataFrame, spec: ExperimentSpec) -> pd.DataFrame:
    """Agents ranked at every point of the axes by the spec's primary metric (mean over seeds,
    best first; `rank` 1 is the best): the study's answer in one table."""
    metric, lower = _metric(spec)
    table = stats.summarize(df, metric, group_columns(spec))
    points = group_columns(spec)[1:]
    table = table.sort_values([*points, "mean"], ascending=[True] * len(points) + [lower],
                              kind="stable")
    table["rank"] = table.groupby(points, sort=False).cumcount() + 1
    return table.reset_index(drop=True)


def ranking_markdown(df: pd.DataFrame, spec: ExperimentSpec) -> str:
    """`ranking` as Markdown: one row per point, the agents best first."""
    info = spec.metrics.info
    points = group_columns(spec)[1:]
    rows = [f"| {' | '.join(points)} | agents, best first by {info.label} ({info.unit}) |",
            "|" + "---|" * (len(points) + 1)]
    for key, g in ranking(df, spec).groupby(points, sort=False):
        order = ", ".join(f"{r.agent} {info.fmt(r.mean)}" for r in g.itertuples(index=False))
        rows.append("| " + " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in key)
                    + f" | {order} |")
    better = "lower" if info.lower_is_better else "higher"
    return f"## Ranking by {info.label} (the primary metric; {better} is better)\n\n" + "\n".join(rows)


def tables_markdown(df: pd.DataFrame, spec: ExperimentSpec) -> str:
    """Markdown tables: per cell mean/IQM with CIs, and comparisons with each baseline; one
    column per axis (extra axes such as soc or max_jobs_in_flight, noise, rate)."""
    parts = [ranking_markdown(df, spec)]
    group, extra = group_columns(spec), _extra(spec)
    head = "".join(f" {k} |" for k in extra)
    bar = "---|" * len(extra)

    def cols(r: dict) -> str:
        return "".join(f" {r[k]} |" for k in extra) + f" {r['noise']} | {r['rate_jobs_per_ms']:g} |"

    metric, lower = _metric(spec)
    info = spec.metrics.info
    table = stats.summarize(df, metric, group)
    rows = [f"| agent |{head} noise | rate (jobs/ms) | n | mean {info.unit} [95% CI] | IQM [95% CI] |",
            f"|---|{bar}---|---|---|---|---|"]
    for r in table.to_dict("records"):
        rows.append(f"| {r['agent']} |{cols(r)} {r['n']} | "
                    f"{_fmt_ci(r['mean'], r['mean_low'], r['mean_high'])} | "
                    f"{_fmt_ci(r['iqm'], r['iqm_low'], r['iqm_high'])} |")
    parts.append(f"## {info.label.capitalize()} per agent (the primary metric)\n\n" + "\n".join(rows))
    for b in spec.baselines:
        cmp = stats.summarize(df, metric, group, baseline=b, lower_is_better=lower)
        cmp = cmp[cmp.agent != b]
        rows = [f"| agent |{head} noise | rate | ratio to {b} [95% CI] | improvement % [95% CI] | "
                f"P(better than {b}) |", f"|---|{bar}---|---|---|---|---|"]
        for r in cmp.to_dict("records"):
            rows.append(f"| {r['agent']} |{cols(r)} "
                        f"{_fmt_ci(r[f'ratio_to_{b}'], r['ratio_low'], r['ratio_high'], 3)} | "
                        f"{_fmt_ci(r['improvement_pct'], r['improvement_low'], r['improvement_high'])} | "
                        f"{r['prob_improvement']:.2f} |")
        better = f"ratio {'<' if lower else '>'} 1 and improvement > 0 mean a better {info.label}"
        parts.append(f"## Compared with {b} (same seeds; {better} than {b})\n\n" + "\n".join(rows))
    other = [f"| agent |{head} noise | rate | p95 latency µs | throughput jobs/ms | energy J | slowdown |",
             f"|---|{bar}---|---|---|---|---|---|"]
    agg = df.groupby(group, sort=True)[["p95_latency_us", "throughput_jobs_per_ms", "energy_j",
                                        "mean_slowdown"]].mean().reset_index()
    for r in agg.to_dict("records"):
        other.append(f"| {r['agent']} |{cols(r)} {r['p95_latency_us']:.1f} | "
                     f"{r['throughput_jobs_per_ms']:.3f} | {r['energy_j']:.4g} | {r['mean_slowdown']:.2f} |")
    parts.append("## Other metrics (means over seeds)\n\n" + "\n".join(other))
    return "\n\n".join(parts)


def write_report(df: pd.DataFrame, spec: ExperimentSpec, out_dir: Path) -> Path:
    """Write report.md, report.html (PNGs embedded) and the PNGs into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = ", ".join(map(str, spec.axes.seed_list))
    head = (f"# soclab report: {spec.name}\n\n{spec.description}\n\n"
            f"Workload `{spec.simulation.workload}`, {spec.simulation.duration_us:g} µs per run "
            f"after a {spec.simulation.warmup_us:g} µs warm-up; seeds {seeds}. Confidence "
            "intervals are percentile bootstrap 95% intervals over seeds; IQM is the interquartile "
            "mean; comparisons are paired on seeds (common random numbers).\n")
    if df.empty:
        md = head + "\nNo finished cells yet.\n"
        plots: list[Path] = []
    else:
        plots = []
        if df.rate_jobs_per_ms.nunique() > 1 or not _extra(spec):
            plots.append(plot_latency_vs_load(df, spec, out_dir / "latency_vs_load.png"))
        if len(spec.axes.noise) > 1 or not _extra(spec):
            plots.append(plot_robustness(df, spec, out_dir / "robustness.png"))
        if _extra(spec):
            plots.append(plot_by_point(df, spec, out_dir / "by_point.png"))
        plots += tradeoff.figures(df, spec, out_dir)  # latency-energy, deadline misses
        extra = tradeoff.markdown(df, spec)
        md = head + "\n" + tables_markdown(df, spec) + (f"\n\n{extra}" if extra else "") + "\n\n" + "\n".join(
            f"![{p.stem}]({p.name})" for p in plots) + "\n"
    (out_dir / "report.md").write_text(md)
    df.to_parquet(out_dir / "results.parquet", index=False) if not df.empty else None
    (out_dir / "report.html").write_text(_markdown_to_html(md, plots, spec.name))
    return out_dir / "report.html"


def _markdown_to_html(md: str, plots: list[Path], title: str) -> str:
    """A minimal renderer for our own Markdown (headings, paragraphs, tables, images)."""
    body: list[str] = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
                body.append("<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
            else:
                body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            name = line[line.index("(") + 1:-1]
            png = next((p for p in plots if p.name == name), None)
            if png is not None:
                data = base64.b64encode(png.read_bytes()).decode()
                body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;font-size:13px}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def finalize_and_report(spec: ExperimentSpec, tracker: Tracker, parent_run_id: str | None,
                        output_dir: str | Path) -> Path:
    """Ratios into the cell runs, then the report on disk and in the parent run."""
    from soclab.results import results_frame

    df = results_frame(spec, tracker, plan_cells(spec))
    if not df.empty:
        log_baseline_ratios(df, spec, tracker)
    out = write_report(df, spec, Path(output_dir).resolve() / spec.name / "report")
    if parent_run_id:
        for f in sorted(out.parent.iterdir()):
            tracker.log_artifact(parent_run_id, f, "report")
    return out
