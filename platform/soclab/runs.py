"""Listing tracked runs of a spec as a pandas table (from MLflow)."""

from __future__ import annotations

import pandas as pd

from soclab.spec import ExperimentSpec
from soclab.tracking import SWEEP_KIND, Tracker, resolve_tracking_uri, with_retry

COLUMNS = {
    "tags.mlflow.runName": "run",
    "status": "status",
    "params.agent": "agent",
    "params.noise": "noise",
    "params.rate_jobs_per_ms": "rate",
    "metrics.avg_latency_us_mean": "latency_mean",
    "metrics.avg_latency_us_ci_low": "ci_low",
    "metrics.avg_latency_us_ci_high": "ci_high",
    "metrics.throughput_jobs_per_ms_mean": "throughput",
    "params.governor": "governor",
    "metrics.energy_per_job_j_mean": "energy_per_job_j",
    "metrics.deadline_miss_rate_mean": "deadline_miss_rate",
    "start_time": "start_time",
    "run_id": "run_id",
}


def runs_table(spec: ExperimentSpec, tracking_uri: str | None = None) -> pd.DataFrame:
    """One row per cell run (newest first), with ratio columns to each baseline."""
    import mlflow

    uri = resolve_tracking_uri(tracking_uri, spec.tracking.tracking_uri)
    mlflow.set_tracking_uri(uri)
    df = with_retry(lambda: mlflow.search_runs(experiment_names=[spec.experiment_name],
                                               filter_string="tags.`soclab.kind` = 'cell'"))
    if df.empty:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    cols = dict(COLUMNS)
    for b in spec.baselines:
        cols[f"metrics.ratio_to_{b}"] = f"ratio_to_{b}"
    present = {k: v for k, v in cols.items() if k in df.columns}
    return df[list(present)].rename(columns=present).reset_index(drop=True)


def latest_sweep_run(tracker: Tracker) -> str | None:
    """The newest parent (sweep) run of the experiment, if any."""
    runs = with_retry(lambda: tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`soclab.kind` = '{SWEEP_KIND}'",
        max_results=1, order_by=["attributes.start_time DESC"]))
    return runs[0].info.run_id if runs else None
