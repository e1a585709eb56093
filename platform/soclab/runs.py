"""`soclab runs`: the tracked cell runs of a spec as a table (from MLflow, via pandas).

`runs_table` returns every column (metrics under `soclab.metrics` keys, ratios to each baseline,
times, ids); `default_columns` is the short set that fits 80 terminal columns; `format_frame`
turns numbers into display strings with each metric's unit and decimals.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dssoc.errors import ConfigError
from soclab import metrics
from soclab.spec_schema import ExperimentSpec
from soclab.tracking import CELL_KIND, SWEEP_KIND, Tracker, resolve_tracking_uri, with_retry

BASE_COLUMNS = {
    "tags.mlflow.runName": "run",
    "status": "status",
    "params.agent": "agent",
    "params.noise": "noise",
    "params.rate_jobs_per_ms": "rate",
    "params.governor": "governor",
}


class NotRunError(ConfigError):
    """A spec with no tracked runs at the tracking URI (never swept there)."""


def not_run(spec: ExperimentSpec, spec_path: str | Path | None, uri: str) -> NotRunError:
    cmd = f"soclab sweep {spec_path}" if spec_path else "soclab sweep SPEC"
    return NotRunError(f"no tracked runs of experiment '{spec.experiment_name}' in {uri}; run it "
                       f"first: {cmd}", str(spec_path) if spec_path else None)


def runs_table(spec: ExperimentSpec, tracking_uri: str | None = None,
               spec_path: str | Path | None = None) -> pd.DataFrame:
    """One row per cell run (newest first): agent, noise, rate, every tracked metric (mean; the
    primary metric with its CI), ratio to each baseline, start time, duration and run id.
    Raises `NotRunError` when the spec has no cell runs at this URI."""
    import mlflow

    uri = resolve_tracking_uri(tracking_uri, spec.tracking.tracking_uri)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = with_retry(lambda: client.get_experiment_by_name(spec.experiment_name))
    if exp is None:
        raise not_run(spec, spec_path, uri)
    mlflow.set_tracking_uri(uri)
    df = with_retry(lambda: mlflow.search_runs(experiment_ids=[exp.experiment_id],
                                               filter_string=f"tags.`soclab.kind` = '{CELL_KIND}'"))
    if df.empty:
        raise not_run(spec, spec_path, uri)
    cols = dict(BASE_COLUMNS)
    primary = spec.metrics.info
    for m in metrics.tracked():
        cols[f"metrics.{m.mlflow}"] = m.key
        if m.key == primary.key:
            cols[f"metrics.{m.mlflow}.ci_low"] = f"{m.key}_ci_low"
            cols[f"metrics.{m.mlflow}.ci_high"] = f"{m.key}_ci_high"
    for b in spec.baselines:
        names = metrics.baseline_metric_names(b, spec.metrics.primary)
        cols[f"metrics.{names['ratio']}"] = f"ratio_to_{b}"
        cols[f"metrics.{names['poi']}"] = f"p_better_than_{b}"
    cols.update({"start_time": "start_time", "run_id": "run_id"})
    present = {k: v for k, v in cols.items() if k in df.columns}
    out = df[list(present)].rename(columns=present)
    if "end_time" in df.columns:
        out.insert(len(out.columns) - 1, "duration_s",
                   (df["end_time"] - df["start_time"]).dt.total_seconds())
    if "rate" in out.columns:
        out["rate"] = pd.to_numeric(out["rate"], errors="coerce")
    return out.reset_index(drop=True)


def default_columns(spec: ExperimentSpec) -> list[str]:
    """agent, noise, rate, the primary metric (mean with CI), ratio to each baseline, status:
    80 columns."""
    return ["agent", "noise", "rate", spec.metrics.primary, *[f"ratio_to_{b}" for b in spec.baselines],
            "status"]


def select_columns(df: pd.DataFrame, spec: ExperimentSpec, columns: str | None) -> list[str]:
    """The columns to show: the default set, `all`, or a comma-separated list (checked)."""
    if columns is None:
        return [c for c in default_columns(spec) if c in df.columns]
    if columns.strip() == "all":
        return list(df.columns)
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in df.columns]
    if unknown:
        raise ConfigError(f"unknown column(s) {', '.join(unknown)}; available: "
                          f"{', '.join(df.columns)} (or 'all')", "--columns")
    return wanted


def format_frame(df: pd.DataFrame, primary: str = metrics.PRIMARY) -> pd.DataFrame:
    """Display strings: metrics in their units and decimals (the primary metric with its CI),
    ratios with three decimals, times to the second, rates as written."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        col = df[c]
        if c == primary and f"{c}_ci_low" in df.columns:
            info = metrics.get(c)
            out[c] = [info.fmt_ci(v, lo, hi) for v, lo, hi in
                      zip(col, df[f"{c}_ci_low"], df[f"{c}_ci_high"], strict=True)]
        elif c.startswith("ratio_to_"):
            out[c] = [metrics.RATIO.fmt(v) for v in col]
        elif c.startswith("p_better_than_"):
            out[c] = [metrics.PROBABILITY.fmt(v) for v in col]
        elif c in {m.key for m in metrics.all_metrics()} or c.endswith(("_ci_low", "_ci_high")):
            info = metrics.get(c.removesuffix("_ci_low").removesuffix("_ci_high"))
            out[c] = [info.fmt(v) for v in col]
        elif c == "rate":
            out[c] = [f"{v:g}" if pd.notna(v) else "–" for v in col]
        elif c == "duration_s":
            out[c] = [f"{v:.1f}" if pd.notna(v) else "–" for v in col]
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[c] = col.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("–")
        else:
            out[c] = col.astype(str)
    return out


def column_heading(c: str, primary: str = metrics.PRIMARY) -> str:
    """Short headers for the terminal table: `average latency µs`, `×HEFT`."""
    if c.startswith("ratio_to_"):
        return "×" + c.removeprefix("ratio_to_")
    if c == primary:
        info = metrics.get(c)
        return f"{info.label} {info.unit}".strip()  # the cells show their CI in brackets
    info = metrics.get(c)
    return f"{c} ({info.unit})" if c in {m.key for m in metrics.all_metrics()} and info.unit else c


def latest_sweep_run(tracker: Tracker) -> str | None:
    """The newest parent (sweep) run of the experiment, if any."""
    runs = with_retry(lambda: tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`soclab.kind` = '{SWEEP_KIND}'",
        max_results=1, order_by=["attributes.start_time DESC"]))
    return runs[0].info.run_id if runs else None
