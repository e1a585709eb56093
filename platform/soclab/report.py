"""Reports: "which scheduler is better, where, and how sure are we".

From the per-seed results of every finished cell, in reading order: a `Summary` table (per noise
and rate, the best agent under study with its paired ratio to each baseline, 95% CI, probability
of improvement and a marker where the CI excludes 1); the figures of `soclab.plots` (latency vs
load, ratio to each baseline, robustness) and one Gantt chart per baseline and learned agent;
then the detailed tables. One Markdown source, rendered to a self-contained HTML page
(markdown-it); numbers formatted by `soclab.metrics`. Logged to the sweep's parent MLflow run;
the per-cell ratios to baselines are also logged to the cells' runs.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from soclab import metrics, plots, stats, tradeoff
from soclab.cells import agent_labels, group_columns, plan_cells, training_copy_groups
from soclab.spec import ExperimentSpec
from soclab.tracking import Tracker

#: marks a ratio whose 95% CI lies entirely below / above 1 (in Markdown and HTML alike)
BETTER, WORSE = "▼", "▲"


def _metric(spec: ExperimentSpec) -> tuple[str, bool]:
    """The spec's primary metric (`metrics.primary`) and whether lower is better."""
    info = spec.metrics.info
    return info.key, info.lower_is_better is not False


def _group(spec: ExperimentSpec) -> list[str]:
    """The columns one cell's seeds share: the agent and every axis of the point. A governors
    axis is left out: its agents are labelled `SCHEDULER@GOVERNOR` (soclab.cellrun.seed_rows)."""
    return [c for c in group_columns(spec) if c != "governor"]


def _design_axes(spec: ExperimentSpec) -> list[str]:
    """The axes beyond agent, noise and rate (e.g. soc, max_jobs_in_flight)."""
    return [c for c in _group(spec)[1:] if c not in ("noise", "rate_jobs_per_ms")]


def _records(table: pd.DataFrame) -> list[SimpleNamespace]:
    """The rows as attribute records under their own column names (itertuples renames columns
    that are not identifiers, such as an `agent.PARAM` axis)."""
    return [SimpleNamespace(**r) for r in table.to_dict("records")]


def _point_cells(row: Any, spec: ExperimentSpec) -> list[str]:
    """A row's design-axis values, noise and rate as table cells."""
    values = [str(getattr(row, k) if not isinstance(row, dict) else row[k]) for k in _design_axes(spec)]
    rate = row.rate_jobs_per_ms if not isinstance(row, dict) else row["rate_jobs_per_ms"]
    noise = row.noise if not isinstance(row, dict) else row["noise"]
    return [*values, str(noise), f"{float(rate):g}"]


@dataclass
class Summaries:
    """The per-cell statistics a report needs, computed once (bootstrap CIs are not free)."""

    table: pd.DataFrame  #: per (agent, point of the axes): mean / IQM with CIs of the primary metric
    vs: dict[str, pd.DataFrame]  #: per baseline: the same plus paired ratios to it
    #: per point of the axes (a tuple), the agents trained several times, pooled over copies
    pooled: dict[tuple[Any, ...], list[stats.PooledCopies]] = field(default_factory=dict)

    @classmethod
    def of(cls, df: pd.DataFrame, spec: ExperimentSpec) -> Summaries:
        metric, lower = _metric(spec)
        group = _group(spec)
        return cls(stats.summarize(df, metric, group, lower_is_better=lower),
                   {b: stats.summarize(df, metric, group, baseline=b, lower_is_better=lower)
                    for b in spec.baselines}, pooled_copies(df, spec))


def pooled_copies(df: pd.DataFrame, spec: ExperimentSpec) -> dict[tuple[Any, ...],
                                                                  list[stats.PooledCopies]]:
    """Per point of the axes, every shown RL agent trained budget.training_seeds > 1 times,
    pooled over its copies (`stats.pool_training_copies`); empty otherwise."""
    groups = {n: c for n, c in training_copy_groups(spec).items()
              if n not in spec.report.hide_agents}
    if not groups or df.empty:
        return {}
    metric, lower = _metric(spec)
    points = _group(spec)[1:]
    out: dict[tuple[Any, ...], list[stats.PooledCopies]] = {}
    for key, g in df.groupby(points, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        found = [stats.pool_training_copies(g, n, c, spec.baselines, metric, lower)
                 for n, c in groups.items()]
        if any(found):
            out[key] = [p for p in found if p is not None]
    return out


def log_baseline_ratios(df: pd.DataFrame, spec: ExperimentSpec, tracker: Tracker,
                        summaries: Summaries | None = None) -> None:
    """Log each cell's ratio to every baseline (same point of the axes and seeds) into its run,
    under the names of `soclab.metrics.baseline_metric_names`."""
    sm = summaries or Summaries.of(df, spec)
    group = _group(spec)
    runs = df.groupby(group)["run_id"].first()
    for b in spec.baselines:
        names = metrics.baseline_metric_names(b, spec.metrics.primary)
        for row in sm.vs[b].to_dict("records"):
            key = tuple(row[k] for k in group)
            if key not in runs.index or np.isnan(row[f"ratio_to_{b}"]):
                continue
            tracker.log(runs.loc[key], metrics={
                names["ratio"]: row[f"ratio_to_{b}"], names["low"]: row["ratio_low"],
                names["high"]: row["ratio_high"], names["improvement"]: row["improvement_pct"],
                names["poi"]: row["prob_improvement"]})


def agent_order(spec: ExperimentSpec, df: pd.DataFrame | None = None, hide: bool = True) -> list[str]:
    """Agent labels in spec order (baselines last if not listed), minus `report.hide_agents`
    when `hide`. On a governors axis a label is `SCHEDULER@GOVERNOR` (soclab.cellrun.seed_rows):
    those follow their scheduler's place, governors in name order. Without `df`, the spec's
    agent names."""
    present = (sorted(set(df.agent)) if df is not None
               else [n for a in spec.all_agents() for n in agent_labels(spec, a.name)])
    out: list[str] = []
    for a in spec.all_agents():
        if hide and a.name in spec.report.hide_agents:
            continue  # an RL agent's name hides all its training copies
        for name in agent_labels(spec, a.name):
            if not (hide and name in spec.report.hide_agents):
                out += [p for p in present if p == name or p.startswith(f"{name}@")]
    return out


def _ratio_cell(value: float, low: float, high: float) -> str:
    text = metrics.RATIO.fmt_ci(value, low, high)
    if np.isfinite(high) and high < 1:
        return f"{text} {BETTER}"
    if np.isfinite(low) and low > 1:
        return f"{text} {WORSE}"
    return text


def _sort_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 12), then text in alphabetical order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def sort_rows(frame: pd.DataFrame, keys: list[str], ascending: list[bool] | None = None
              ) -> pd.DataFrame:
    """`frame` sorted by `keys` (stable), noise levels by magnitude (`plots.noise_key`: none
    first) rather than alphabetically."""
    if frame.empty:
        return frame
    out = frame.assign(_noise=0)
    if "noise" in frame.columns:
        levels = sorted(set(frame.noise), key=plots.noise_key)
        out["_noise"] = frame.noise.map({n: i for i, n in enumerate(levels)})
    by = ["_noise" if k == "noise" else k for k in keys]
    return out.sort_values(by, ascending=ascending if ascending is not None else True,
                           kind="stable").drop(columns="_noise")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _summary_entries(g: pd.DataFrame, key: tuple[Any, ...], cmp: dict[str, pd.DataFrame],
                     pooled: list[stats.PooledCopies], spec: ExperimentSpec) -> list[SimpleNamespace]:
    """The Summary's candidates at one point: each agent's mean with CI and, per baseline, its
    ratio and P(better) cells; an agent trained several times counts once, pooled over copies."""
    copies = {c for p in pooled for c in agent_labels(spec, p.name)}
    out = []
    for r in _records(g):
        if r.agent in copies:
            continue
        vs = {}
        for b in spec.baselines:
            at = (r.agent, *key)
            if r.agent != b and at in cmp[b].index:
                c = cmp[b].loc[at]
                vs[b] = [_ratio_cell(c[f"ratio_to_{b}"], c.ratio_low, c.ratio_high),
                         metrics.PROBABILITY.fmt(c.prob_improvement)]
        out.append(SimpleNamespace(agent=r.agent, mean=r.mean, low=r.mean_low, high=r.mean_high,
                                   vs=vs))
    for p in pooled:
        out.append(SimpleNamespace(
            agent=p.label, mean=p.mean.value, low=p.mean.low, high=p.mean.high,
            vs={b: [_ratio_cell(e.value, e.low, e.high),
                    metrics.PROBABILITY.fmt(p.prob_improvement[b])] for b, e in p.ratio.items()}))
    return out


def summary_markdown(df: pd.DataFrame, spec: ExperimentSpec, sm: Summaries) -> str:
    """The study's answer at every point of the axes (design axes, noise, rate): the best
    non-baseline agent by the primary metric (all agents if every agent is a baseline), its value,
    and its paired ratio to each baseline with 95% CI and P(improvement)."""
    metric, lower = _metric(spec)
    info = metrics.get(metric)
    group = _group(spec)
    points = group[1:]
    design = _design_axes(spec)
    cmp = {b: v.set_index(group) for b, v in sm.vs.items()}
    candidates = [a for a in agent_order(spec, df) if a not in spec.baselines] or agent_order(spec, df)
    header = [*design, "noise", "rate (jobs/ms)", "best agent", f"{info.heading} [95% CI]"]
    for b in spec.baselines:
        header += [f"× {b} [95% CI]", f"P(better than {b})"]
    pooled_names = {p.label for ps in sm.pooled.values() for p in ps}
    rows, wins = [], {}
    for key, g in sm.table[sm.table.agent.isin(candidates)].groupby(points, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        entries = _summary_entries(g, key, cmp, sm.pooled.get(key, []), spec)
        best = (min if lower else max)(entries, key=lambda e: e.mean)
        wins[best.agent] = wins.get(best.agent, 0) + 1
        row = [*_point_cells(dict(zip(points, key, strict=True)), spec), f"**{best.agent}**",
               info.fmt_ci(best.mean, best.low, best.high)]
        for b in spec.baselines:
            row += best.vs.get(b, ["–", "–"])
        rows.append(row)
    order = {n: i for i, n in enumerate(spec.axes.noise)}
    nd = len(design)
    rows.sort(key=lambda r: (*map(_sort_key, r[:nd]), order.get(r[nd], 99), float(r[nd + 1])))
    lead = ", ".join(f"**{a}** in {n} of {len(rows)}" for a, n in sorted(wins.items(), key=lambda kv: -kv[1]))
    among = "agents under study" if candidates != agent_order(spec, df) else "agents"
    if pooled_names:  # an agent trained several times is one candidate, pooled over copies
        copies = {c for cs in training_copy_groups(spec).values() for c in cs}
        candidates = [c for c in candidates if c not in copies] + sorted(pooled_names)
    where = "point of the axes (" + ", ".join([*design, "noise", "rate"]) + ")" if design else \
        "noise level and injection rate"
    best_word = "lowest" if lower else "highest"
    if spec.baselines:
        below = "below" if lower else "above"
        text = (f"Which of the {among} ({', '.join(candidates)}) has the {best_word} {info.label} at "
                f"each {where}, compared with the baselines ({', '.join(spec.baselines)}) on the "
                f"same seeds? Best: {lead}. A ratio {below} 1 means a better {info.label} than the "
                f"baseline; {BETTER} marks a 95% CI entirely below 1, {WORSE} entirely above 1.")
    else:  # e.g. a governors axis, where agents are (scheduler, governor) pairs
        text = (f"Which of the {among} ({', '.join(candidates)}) has the {best_word} {info.label} at "
                f"each {where}? Best: {lead}. No baselines are listed, so there are no paired ratios.")
    return "## Summary\n\n" + text + "\n\n" + _md_table(header, rows)


def training_seeds_markdown(df: pd.DataFrame, spec: ExperimentSpec,
                            sm: Summaries | None = None) -> str:
    """With budget.training_seeds > 1: per RL agent and point, the mean over its copies and the
    seeds with a CI covering both (`stats.training_seeds_ci`), and its ratio to each baseline;
    the fair answer, where the best single copy would be the luckiest of N."""
    pooled = sm.pooled if sm is not None else pooled_copies(df, spec)
    if not pooled:
        return ""
    info = spec.metrics.info
    points = _group(spec)[1:]
    rows = []
    for key, entries in pooled.items():
        at = dict(zip(points, key, strict=True))
        for p in entries:
            rows.append([p.label, *_point_cells(at, spec),
                         info.fmt_ci(p.mean.value, p.mean.low, p.mean.high),
                         *[_ratio_cell(r.value, r.low, r.high) if (r := p.ratio.get(b)) else "–"
                           for b in spec.baselines]])
    order = {n: i for i, n in enumerate(spec.axes.noise)}
    nd = len(_design_axes(spec))
    rows.sort(key=lambda r: (r[0], *map(_sort_key, r[1:nd + 1]), order.get(r[nd + 1], 99),
                             float(r[nd + 2])))
    header = ["agent", *_design_axes(spec), "noise", "rate (jobs/ms)", f"{info.heading} [95% CI]",
              *[f"× {b} [95% CI]" for b in spec.baselines]]
    return (f"### Across training seeds\n\nEach RL agent trained {spec.budget.training_seeds} times "
            "(budget.training_seeds); means over copies and seeds, CIs from a bootstrap resampling "
            "both. The Summary ranks these pooled agents, not single copies.\n\n"
            + _md_table(header, rows))


def detail_markdown(df: pd.DataFrame, spec: ExperimentSpec, sm: Summaries) -> str:
    """Detailed tables: per cell mean/IQM with CIs, comparisons with each baseline, other metrics;
    one column per axis of the point."""
    metric, lower = _metric(spec)
    info = metrics.get(metric)
    group = _group(spec)
    axes_head = [*_design_axes(spec), "noise", "rate (jobs/ms)"]
    shown = set(agent_order(spec, df)) | set(spec.baselines)
    parts = ["## Detailed tables"]
    table = sort_rows(sm.table[sm.table.agent.isin(shown)], group)
    rows = [[r.agent, *_point_cells(r, spec), str(r.n),
             info.fmt_ci(r.mean, r.mean_low, r.mean_high), info.fmt_ci(r.iqm, r.iqm_low, r.iqm_high)]
            for r in _records(table)]
    parts.append(f"### {info.label.capitalize()} per agent ({info.unit}, the primary metric)\n\n"
                 + _md_table(["agent", *axes_head, "seeds", "mean [95% CI]", "IQM [95% CI]"], rows))
    better = (f"a ratio {'below' if lower else 'above'} 1 and a positive improvement mean a better "
              f"{info.label}")
    for b in spec.baselines:
        cmp = sort_rows(sm.vs[b][(sm.vs[b].agent != b) & sm.vs[b].agent.isin(shown)], group)
        rows = [[r.agent, *_point_cells(r, spec),
                 _ratio_cell(getattr(r, f"ratio_to_{b}"), r.ratio_low, r.ratio_high),
                 metrics.IMPROVEMENT.fmt_ci(r.improvement_pct, r.improvement_low, r.improvement_high),
                 metrics.PROBABILITY.fmt(r.prob_improvement)] for r in _records(cmp)]
        parts.append(f"### Compared with {b}\n\nSame seeds; {better} than {b}.\n\n" + _md_table(
            ["agent", *axes_head, f"ratio to {b} [95% CI]", "improvement % [95% CI]",
             f"P(better than {b})"], rows))
    others = [m for m in metrics.tracked() if m.key in df.columns and m.key != metric
              and m.lower_is_better is not None]
    agg = sort_rows(df[df.agent.isin(shown)].groupby(group, sort=True)[[m.key for m in others]]
                    .mean().reset_index(), group)
    rows = [[str(r["agent"]), *_point_cells(r, spec), *[m.fmt(r[m.key]) for m in others]]
            for r in agg.to_dict("records")]
    parts.append("### Other metrics (means over seeds)\n\n" + _md_table(
        ["agent", *axes_head, *[m.heading for m in others]], rows))
    return "\n\n".join(parts)


def ranking(df: pd.DataFrame, spec: ExperimentSpec) -> pd.DataFrame:
    """Agents ranked at every point of the axes by the spec's primary metric (mean over seeds,
    best first; `rank` 1 is the best): the study's answer in one table."""
    metric, lower = _metric(spec)
    table = stats.summarize(df, metric, _group(spec))
    points = _group(spec)[1:]
    # noise by magnitude, not alphabetically ("none" before "gaussian:0.2")
    table = sort_rows(table, [*points, "mean"], [True] * len(points) + [lower])
    table["rank"] = table.groupby(points, sort=False).cumcount() + 1
    return table.reset_index(drop=True)


def ranking_markdown(df: pd.DataFrame, spec: ExperimentSpec) -> str:
    """`ranking` as Markdown: one row per point, the agents best first."""
    info = spec.metrics.info
    points = _group(spec)[1:]
    heads = ["rate (jobs/ms)" if p == "rate_jobs_per_ms" else p for p in points]
    rows = [f"| {' | '.join(heads)} | agents, best first by {info.label} ({info.unit}) |",
            "|" + "---|" * (len(points) + 1)]
    for key, g in ranking(df, spec).groupby(points, sort=False):
        order = ", ".join(f"{r.agent} {info.fmt(r.mean)}" for r in g.itertuples(index=False))
        rows.append("| " + " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in key)
                    + f" | {order} |")
    better = "lower" if info.lower_is_better else "higher"
    return f"## Ranking by {info.label} (the primary metric; {better} is better)\n\n" + "\n".join(rows)


def make_figures(df: pd.DataFrame, spec: ExperimentSpec, out_dir: Path,
                 sm: Summaries) -> list[tuple[Path, str]]:
    """The report's figures with their captions: latency vs load, ratio to each baseline,
    robustness (only with >= 2 noise levels), then the latency-energy trade-off and deadline
    misses when the runs have them (soclab.tradeoff); one colour per agent in all of them."""
    agents = agent_order(spec, df)
    colors = plots.agent_colors(agent_order(spec, df, hide=False))  # hiding keeps the colours
    colors = {a: colors[a] for a in agents}
    data = df[df.agent.isin(agents)]
    table = sm.table[sm.table.agent.isin(agents)]
    info = spec.metrics.info
    design = _design_axes(spec)
    if design:  # curves over load or noise would average over the design points: bars per point
        figs = [(plots.plot_by_point(table, design, colors, out_dir / "by_point.png",
                                     f"{spec.name}: {info.label} per design point", info.heading),
                 f"{info.label.capitalize()} per point of the design axes ({', '.join(design)}), one "
                 "bar per agent; error bars are 95% bootstrap CIs over seeds.")]
        figs += [(p, tradeoff.CAPTIONS[p.name]) for p in tradeoff.figures(data, spec, out_dir, colors)]
        return figs
    apart = plots.outliers(table, spec.report.outlier_factor, keep=spec.baselines)
    noises = [n for n in spec.axes.noise if n in set(data.noise)]
    note = (f" Far-off agents ({', '.join(apart)}: on average over {spec.report.outlier_factor:g}× "
            f"the best {info.label}) are drawn in the lower row on their own log scale, with the best "
            "other agent (squares) for reference." if apart else "")
    hidden = [a for a in spec.report.hide_agents if a in set(df.agent)]
    if hidden:
        note += f" Not drawn (report.hide_agents): {', '.join(hidden)}."
    figs = [(plots.plot_latency_vs_load(table, noises, colors, apart, out_dir / "latency_vs_load.png",
                                        f"{spec.name}: {info.label} vs load", info.key),
             f"{info.label.capitalize()} vs injection rate per agent; bands are 95% bootstrap CIs over "
             "seeds." + note)]
    for b in spec.baselines:
        cmp = sm.vs[b][sm.vs[b].agent.isin(agents)]
        side = "Below" if info.lower_is_better is not False else "Above"
        figs.append((plots.plot_ratio_to_baseline(cmp, b, noises, colors, apart,
                                                  out_dir / f"ratio_to_{b}.png", spec.name, info.key),
                     f"{info.label.capitalize()} of each agent divided by {b}'s on the same seeds "
                     f"(log axis; dashed line: parity). {side} the line is better than {b}." + note))
    if len(noises) >= 2:
        normal = [a for a in agents if a not in apart]
        figs.append((plots.plot_robustness(table[table.agent.isin(normal)], noises,
                                           {a: colors[a] for a in normal},
                                           out_dir / "robustness.png", spec.name, info.key),
                     f"{info.label.capitalize()} per noise level (error bars: 95% bootstrap CIs)."
                     + (f" Not shown: {', '.join(apart)} (far off)." if apart else "")))
    figs += [(p, tradeoff.CAPTIONS[p.name])  # latency-energy, deadline misses
             for p in tradeoff.figures(data, spec, out_dir, colors)]
    return figs


def write_report(df: pd.DataFrame, spec: ExperimentSpec, out_dir: Path,
                 gantts: list[tuple[Path, str]] | None = None,
                 summaries: Summaries | None = None) -> Path:
    """Write report.md, report.html (figures embedded) and the PNGs into `out_dir`: the summary
    first, then the figures (and Gantt charts), then the detailed tables."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = spec.simulation
    seeds = ", ".join(map(str, spec.axes.seed_list))
    head = (f"# soclab report: {spec.name}\n\n{spec.description.strip()}\n\n"
            f"Workload `{sim.workload}`, {sim.duration_us:,.0f} µs per run after a "
            f"{sim.warmup_us:,.0f} µs warm-up; seeds {seeds}. Confidence intervals are percentile "
            "bootstrap 95% intervals over seeds; IQM is the interquartile mean; comparisons are "
            "paired on seeds (common random numbers).\n")
    figures: list[tuple[Path, str]] = []
    if df.empty:
        md = head + "\nNo finished cells yet.\n"
    else:
        sm = summaries or Summaries.of(df, spec)
        figures = make_figures(df, spec, out_dir, sm)
        fig_md = "\n\n".join(f"![{p.stem}]({p.name})\n\n*{cap}*" for p, cap in figures)
        gantt_md = ""
        if gantts:
            figures += gantts
            gantt_md = "\n\n### Schedules (Gantt charts)\n\n" + "\n\n".join(
                f"![{p.stem}]({p.name})\n\n*{cap}*" for p, cap in gantts)
        extra = tradeoff.markdown(df[df.agent.isin(agent_order(spec, df))], spec)
        pooled = training_seeds_markdown(df, spec, sm)
        md = (head + "\n" + summary_markdown(df, spec, sm) + (f"\n\n{pooled}" if pooled else "")
              + "\n\n" + ranking_markdown(df, spec)
              + "\n\n## Figures\n\n" + fig_md + gantt_md
              + "\n\n" + detail_markdown(df, spec, sm) + (f"\n\n{extra}" if extra else "") + "\n")
    (out_dir / "report.md").write_text(md)
    if not df.empty:
        df.to_parquet(out_dir / "results.parquet", index=False)
    (out_dir / "report.html").write_text(markdown_to_html(md, [p for p, _ in figures], spec.name))
    return out_dir / "report.html"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444;padding-bottom:.2em}
h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:13px;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom;max-width:11em}
td:nth-child(-n+3),th{text-align:left}th{background:#f2f2f2}
tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;display:block;margin:1em 0 .2em;border:1px solid #eee}
em{color:#555;font-size:.92em}code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
"""


def markdown_to_html(md: str, images: list[Path], title: str) -> str:
    """The Markdown report as one self-contained HTML page (markdown-it, tables on; images
    embedded as data URIs)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    for png in images:
        data = base64.b64encode(png.read_bytes()).decode()
        body = body.replace(f'src="{png.name}"', f'src="data:image/png;base64,{data}"')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def gantt_charts(spec: ExperimentSpec, tracker: Tracker, df: pd.DataFrame, out_dir: Path
                 ) -> list[tuple[Path, str]]:
    """One Gantt chart per baseline and per learned agent, from their cells' `gantt.png`
    artifacts at the first noise level and the middle injection rate."""
    if df.empty or not spec.report.gantt:
        return []
    import tempfile

    rl = [n for a in spec.all_agents() if a.kind == "rl" for n in agent_labels(spec, a.name)]
    wanted = [*spec.baselines, *[a for a in rl if a not in spec.baselines]]
    noise = spec.axes.noise[0]
    rates = sorted(spec.axes.rates_jobs_per_ms)
    rate = float(rates[len(rates) // 2])
    runs = tracker.cell_runs()
    out: list[tuple[Path, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in plan_cells(spec):
            if (cell.agent.name not in wanted or cell.noise != noise
                    or cell.rate_jobs_per_ms != rate or cell.hash not in runs):
                continue
            try:
                got = tracker.download(runs[cell.hash].info.run_id, "gantt.png", Path(tmp) / cell.hash)
            except Exception:  # a cell logged without a Gantt chart (report.gantt was off)
                continue
            dst = out_dir / f"gantt_{cell.agent.name}.png"
            dst.write_bytes(Path(got).read_bytes())
            out.append((dst, f"Schedule of {cell.agent.name} at noise {noise}, {rate:g} jobs/ms, "
                        f"seed {cell.seeds[0]}: a few jobs after the warm-up, coloured by "
                        "application."))
    order = {n: i for i, n in enumerate(wanted)}
    return sorted(out, key=lambda pc: order.get(pc[0].stem.removeprefix("gantt_"), 99))


def finalize_and_report(spec: ExperimentSpec, tracker: Tracker, parent_run_id: str | None,
                        output_dir: str | Path, show_progress: bool = True) -> Path:
    """Ratios into the cell runs, then the report on disk and in the parent run (each step
    shown as a spinner, then its duration, on stderr)."""
    from soclab.results import results_frame
    from soclab.ui import step

    out_dir = Path(output_dir).resolve() / spec.name / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    with step("report: reading the cells' results", show_progress):
        df = results_frame(spec, tracker, plan_cells(spec))
    with step("report: statistics (bootstrap CIs)", show_progress):
        sm = Summaries.of(df, spec) if not df.empty else None
        if sm is not None:
            log_baseline_ratios(df, spec, tracker, sm)
    with step("report: figures and tables", show_progress):
        out = write_report(df, spec, out_dir, gantt_charts(spec, tracker, df, out_dir), sm)
    if parent_run_id:
        with step("report: logging it to MLflow", show_progress):
            for f in sorted(out.parent.iterdir()):
                tracker.log_artifact(parent_run_id, f, "report")
    return out
