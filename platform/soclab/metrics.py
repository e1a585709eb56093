"""The one declaration of how each result metric is named, shown and compared.

Every reader of results (the report, `soclab runs`, MLflow logging, `soclab train`) takes a
metric's display name, unit, direction, number format and MLflow name from this registry, so a
metric reads the same everywhere. A new metric (e.g. deadline misses) is one `register(...)` call.

MLflow names are dotted, grouped by quantity: `latency.avg_us` is the mean over seeds,
`latency.avg_us.ci_low` / `.ci_high` its bootstrap 95% interval (logged for the metrics marked
`ci`; the per-seed values of every metric are in each cell's `results.parquet`); comparisons
with a baseline are `vs_<baseline>.latency_ratio` (+ `.ci_low` / `.ci_high`),
`vs_<baseline>.improvement_pct` and `vs_<baseline>.p_improvement`; bookkeeping is
`run.compute_s`, `run.attempts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """How one per-seed result column is named, formatted and compared."""

    key: str  #: column of the per-seed results (`SimResult.metrics()`)
    mlflow: str  #: dotted MLflow metric name of its mean over seeds
    label: str  #: human name, e.g. "average latency"
    unit: str = ""  #: display unit, after `scale`
    lower_is_better: bool | None = True  #: None: not a figure of merit (e.g. injected rate)
    decimals: int = 1  #: decimals shown after scaling
    scale: float = 1.0  #: display value = stored value x scale (e.g. J -> mJ)
    tracked: bool = True  #: logged to MLflow for every cell (its mean over seeds)
    ci: bool = False  #: also log its bootstrap 95% CI (`.ci_low` / `.ci_high`)

    @property
    def heading(self) -> str:
        """`label (unit)`, for table headers and axis labels."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def fmt(self, value: float | None) -> str:
        """The value in display units with this metric's decimals; `–` for missing."""
        if value is None or not math.isfinite(float(value)):
            return "–"
        return f"{float(value) * self.scale:,.{self.decimals}f}"

    def fmt_ci(self, value: float, low: float, high: float) -> str:
        """`value [low, high]` in display units (`–` when the value is missing)."""
        if value is None or not math.isfinite(float(value)):
            return "–"
        if not (math.isfinite(float(low)) and math.isfinite(float(high))):
            return self.fmt(value)
        return f"{self.fmt(value)} [{self.fmt(low)}, {self.fmt(high)}]"


_REGISTRY: dict[str, MetricInfo] = {}


def register(info: MetricInfo) -> MetricInfo:
    """Add (or replace) a metric's declaration; returns it."""
    _REGISTRY[info.key] = info
    return info


def get(key: str) -> MetricInfo:
    """The declaration of `key`; an undeclared metric gets a plain default (shown, not tracked)."""
    return _REGISTRY.get(key) or MetricInfo(key, key.replace("_", "."), key.replace("_", " "),
                                            tracked=False)


def tracked() -> list[MetricInfo]:
    """The metrics logged for every cell, in declaration order."""
    return [m for m in _REGISTRY.values() if m.tracked]


def all_metrics() -> list[MetricInfo]:
    return list(_REGISTRY.values())


PRIMARY = "avg_latency_us"  #: the metric reports and comparisons are about

for _m in (
    MetricInfo("avg_latency_us", "latency.avg_us", "average latency", "µs", True, 1, ci=True),
    MetricInfo("p95_latency_us", "latency.p95_us", "p95 latency", "µs", True, 0, ci=True),
    MetricInfo("p99_latency_us", "latency.p99_us", "p99 latency", "µs", True, 0),
    MetricInfo("throughput_jobs_per_ms", "throughput.jobs_per_ms", "throughput", "jobs/ms",
               False, 3),
    MetricInfo("injection_rate_jobs_per_ms", "load.injected_jobs_per_ms", "injected rate",
               "jobs/ms", None, 3, tracked=False),
    MetricInfo("energy_j", "energy.total_j", "energy", "mJ", True, 1, scale=1000.0),
    MetricInfo("edp", "energy.edp_js", "energy-delay product", "µJ·s", True, 2, scale=1e6),
    MetricInfo("mean_slowdown", "latency.slowdown", "mean slowdown", "×", True, 2),
    MetricInfo("completed_jobs", "jobs.completed", "completed jobs", "", False, 0),
    MetricInfo("wall_time_s", "run.sim_wall_s", "simulation wall time", "s", None, 2,
               tracked=False),

    MetricInfo("energy_per_job_j", "energy.per_job_j", "energy per job", "mJ", True, 3, scale=1000.0),
    MetricInfo("deadline_miss_rate", "deadline.miss_rate", "deadline miss rate", "", True, 3),
    MetricInfo("mean_tardiness_us", "deadline.mean_tardiness_us", "mean tardiness", "µs", True, 1),
    MetricInfo("p99_lateness_us", "deadline.p99_lateness_us", "p99 lateness", "µs", True, 1),
):
    register(_m)

#: ratio columns / comparisons (not per-seed columns, but formatted from here too)
RATIO = MetricInfo("ratio", "latency_ratio", "latency ratio", "×", True, 3, tracked=False)
IMPROVEMENT = MetricInfo("improvement_pct", "improvement_pct", "improvement", "%", False, 1,
                         tracked=False)
PROBABILITY = MetricInfo("prob_improvement", "p_improvement", "P(better)", "", False, 2,
                         tracked=False)


def baseline_metric_names(baseline: str) -> dict[str, str]:
    """MLflow names of the comparison with `baseline` (keys: ratio, low, high, improvement, poi)."""
    p = f"vs_{baseline}."
    return {"ratio": p + RATIO.mlflow, "low": p + RATIO.mlflow + ".ci_low",
            "high": p + RATIO.mlflow + ".ci_high", "improvement": p + IMPROVEMENT.mlflow,
            "poi": p + PROBABILITY.mlflow}


def plain_number(v: object) -> object:
    """A number as the user wrote it: 8.0 -> 8 (MLflow stores params as text; `'8'` must match)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v
