"""How soclab names and shows the metrics declared in `dssoc.metric_registry`.

Every metric is declared once, in dssoc (name, unit, direction, description, computation). This
module only derives the platform's view of each: its MLflow name (the declaration's dotted
name), display unit and scale (`DISPLAY_UNITS`: J as mJ, J·s as µJ·s, fractions as %), number
format, and which metrics are tracked (every figure of merit: those with a direction). Every
reader of results (the report, `soclab runs`, MLflow logging, `soclab train`) goes through
`get`/`tracked`/`all_metrics`, so a metric registered in dssoc appears everywhere.

MLflow names are dotted, grouped by quantity: `latency.avg_us` is the mean over seeds,
`latency.avg_us.ci_low` / `.ci_high` its bootstrap 95% interval (logged for the metrics declared
with `interval`; the per-seed values of every metric are in each cell's `results.parquet`);
comparisons with a baseline are `vs_<baseline>.latency_ratio` (+ `.ci_low` / `.ci_high`; named
`vs_<baseline>.<primary>_ratio` when the spec's `metrics.primary` is not mean latency),
`vs_<baseline>.improvement_pct` and `vs_<baseline>.p_improvement`; bookkeeping is
`run.compute_s`, `run.attempts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc import metric_registry as registry


@dataclass(frozen=True)
class MetricInfo:
    """How one per-seed result column is named, formatted and compared (derived by `info_of`
    from its dssoc declaration; the comparison formats below are built directly)."""

    key: str  #: column of the per-seed results (`SimResult.metrics()`), the dssoc name
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


#: how a declared unit is shown: unit -> (display unit, factor); others are shown as declared
DISPLAY_UNITS: dict[str, tuple[str, float]] = {"J": ("mJ", 1e3), "J·s": ("µJ·s", 1e6),
                                               "fraction": ("%", 100.0)}


def info_of(m: registry.Metric) -> MetricInfo:
    """The platform's view of a dssoc metric declaration."""
    unit, scale = DISPLAY_UNITS.get(m.unit, (m.unit, 1.0))
    lower = None if m.better is None else m.better == "lower"
    return MetricInfo(m.name, m.dotted, m.label, unit, lower, m.decimals, scale,
                      tracked=m.better is not None, ci=m.interval)


def get(key: str) -> MetricInfo:
    """The view of metric `key`; a column not declared in dssoc gets a plain default (shown, not
    tracked)."""
    try:
        return info_of(registry.get(key))
    except KeyError:
        return MetricInfo(key, key.replace("_", "."), key.replace("_", " "), tracked=False)


def tracked() -> list[MetricInfo]:
    """The metrics logged for every cell (every figure of merit), in declaration order."""
    return [info_of(m) for m in registry.figures_of_merit()]


def all_metrics() -> list[MetricInfo]:
    """Every declared metric, in declaration order."""
    return [info_of(m) for m in registry.all_metrics()]


def rankable() -> list[str]:
    """Names a spec's `metrics.primary` may take: the metrics with a direction."""
    return [m.name for m in registry.figures_of_merit()]


PRIMARY = "avg_latency_us"  #: the default of a spec's `metrics.primary`

#: ratio columns / comparisons (not per-seed columns, but formatted from here too)
RATIO = MetricInfo("ratio", "latency_ratio", "latency ratio", "×", True, 3, tracked=False)
IMPROVEMENT = MetricInfo("improvement_pct", "improvement_pct", "improvement", "%", False, 1,
                         tracked=False)
PROBABILITY = MetricInfo("prob_improvement", "p_improvement", "P(better)", "", False, 2,
                         tracked=False)


def baseline_metric_names(baseline: str, primary: str = PRIMARY) -> dict[str, str]:
    """MLflow names of the comparison with `baseline` on the `primary` metric (keys: ratio, low,
    high, improvement, poi). The ratio is named after what it divides: `vs_B.latency_ratio` for
    the default (mean latency), `vs_B.<primary>_ratio` otherwise (`vs_B.p95_latency_us_ratio`),
    so a run ranked by p95 or EDP never shows its ratio under a latency name."""
    p = f"vs_{baseline}."
    ratio = RATIO.mlflow if primary == PRIMARY else f"{primary}_ratio"
    return {"ratio": p + ratio, "low": p + ratio + ".ci_low",
            "high": p + ratio + ".ci_high", "improvement": p + IMPROVEMENT.mlflow,
            "poi": p + PROBABILITY.mlflow}


def plain_number(v: object) -> object:
    """A number as the user wrote it: 8.0 -> 8 (MLflow stores params as text; `'8'` must match)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v
