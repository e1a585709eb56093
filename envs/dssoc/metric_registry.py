"""The one declaration of every run metric: name, unit, direction, description and computation.

A metric is a function of one run's `RunRecords` (the per-job records of the counted jobs and
the run's totals), declared once with `@metric(...)`. `SimResult.metrics()` returns every
registered metric; the Gymnasium envs' episode metrics, soclab's MLflow summaries, `metrics.primary`
validation, training curves and the report tables all read this registry, so a new metric is
one decorated function (here, or in any module imported before the runs it should appear in):

    @metric("max_latency_us", unit="µs", better="lower", label="maximum latency",
            dotted="latency.max_us", description="Latency of the slowest counted job.")
    def _max_latency(r: RunRecords) -> float:
        return float(r.latencies_us.max()) if r.completed else math.nan

Counted jobs are those finishing after the warm-up and by the end of the run; latency is the
finish of a job's last task minus its injection time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class RunRecords:
    """What a run's metrics are computed from: one entry per counted job, plus run totals."""

    latencies_us: np.ndarray  #: per counted job, finish - injection (µs)
    slowdowns: np.ndarray  #: per counted job, latency / its application's lower bound
    lateness_us: np.ndarray  #: per counted job *with a deadline*, finish - deadline (µs)
    apps: np.ndarray  #: per counted job, its application's index in the workload
    injected: int  #: jobs injected after the warm-up
    window_us: float  #: end of the run - warm-up (µs)
    busy_window_us: float  #: last counted completion - warm-up (µs; 0 without completions)
    energy_j: float  #: energy of the run (J; NaN when energy is not modelled)
    end_us: float  #: simulated time at the end (µs)
    wall_time_s: float = 0.0  #: host time of the run, when known (set by `dssoc.simulate`)

    @property
    def completed(self) -> int:
        """Number of counted (completed after warm-up) jobs."""
        return int(self.latencies_us.size)


@dataclass(frozen=True)
class Metric:
    """One metric's declaration. `unit` is the unit of the computed value (SI-style: µs, J,
    J·s, jobs/ms; `fraction` for a share in [0, 1]; empty for counts and ratios). `better` says
    which way is better (None: not a figure of merit, e.g. the injected rate), which ranking
    and `metrics.primary` need. The remaining fields say how to present it: `label` (short
    human name), `dotted` (hierarchical name, grouped by quantity, for trackers such as MLflow),
    `decimals` (digits worth showing in the unit a reader sees: soclab shows J as mJ and
    fractions as %) and `interval` (worth a confidence interval over seeds wherever summarised)."""

    name: str
    unit: str
    better: Better | None
    description: str
    compute: Callable[[RunRecords], float] = field(compare=False)
    label: str = ""
    dotted: str = ""
    decimals: int = 1
    interval: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"metric name {self.name!r} must be an identifier (a result column)")
        if self.better not in ("lower", "higher", None):
            raise ValueError(f"metric {self.name}: better must be 'lower', 'higher' or None, "
                             f"got {self.better!r}")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))
        if not self.dotted:
            object.__setattr__(self, "dotted", self.name)


_REGISTRY: dict[str, Metric] = {}


def register(m: Metric) -> Metric:
    """Add (or replace, keeping its position) a metric's declaration; returns it."""
    _REGISTRY[m.name] = m
    return m


def unregister(name: str) -> None:
    """Remove a metric (for tests that register one of their own)."""
    _REGISTRY.pop(name, None)


def metric(name: str, *, unit: str, better: Better | None, description: str, label: str = "",
           dotted: str = "", decimals: int = 1,
           interval: bool = False) -> Callable[[Callable[[RunRecords], float]],
                                               Callable[[RunRecords], float]]:
    """Decorator: register the decorated `f(records) -> value` as metric `name`."""

    def wrap(fn: Callable[[RunRecords], float]) -> Callable[[RunRecords], float]:
        register(Metric(name, unit, better, description, fn, label, dotted, decimals, interval))
        return fn

    return wrap


def get(name: str) -> Metric:
    """The declaration of `name` (KeyError, naming the registered metrics, if unknown)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; registered: {', '.join(_REGISTRY)}") from None


def all_metrics() -> tuple[Metric, ...]:
    """Every registered metric, in declaration order (the order of `SimResult.metrics()`)."""
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def figures_of_merit() -> tuple[Metric, ...]:
    """The metrics with a direction: what a study may rank by (`metrics.primary`)."""
    return tuple(m for m in _REGISTRY.values() if m.better is not None)


def compute_all(records: RunRecords) -> dict[str, float]:
    """Every registered metric of one run, in declaration order."""
    return {m.name: m.compute(records) for m in _REGISTRY.values()}


# ---------------------------------------------------------------- the built-in metrics
_NAN = float("nan")


def _percentile(r: RunRecords, q: float) -> float:
    return float(np.percentile(r.latencies_us, q)) if r.completed else _NAN


@metric("avg_latency_us", unit="µs", better="lower", label="average latency",
        dotted="latency.avg_us", decimals=1, interval=True,
        description="Mean latency of the counted jobs.")
def _avg_latency(r: RunRecords) -> float:
    return float(r.latencies_us.mean()) if r.completed else _NAN


@metric("p50_latency_us", unit="µs", better="lower", label="median latency",
        dotted="latency.p50_us", decimals=0, description="Median latency of the counted jobs.")
def _p50_latency(r: RunRecords) -> float:
    return _percentile(r, 50)


@metric("p95_latency_us", unit="µs", better="lower", label="p95 latency", dotted="latency.p95_us",
        decimals=0, interval=True, description="95th percentile of the counted jobs' latencies.")
def _p95_latency(r: RunRecords) -> float:
    return _percentile(r, 95)


@metric("p99_latency_us", unit="µs", better="lower", label="p99 latency", dotted="latency.p99_us",
        decimals=0, description="99th percentile of the counted jobs' latencies.")
def _p99_latency(r: RunRecords) -> float:
    return _percentile(r, 99)


@metric("completed_jobs", unit="", better="higher", label="completed jobs",
        dotted="jobs.completed", decimals=0,
        description="Jobs completed after the warm-up and by the end of the run.")
def _completed(r: RunRecords) -> float:
    return r.completed


@metric("injected_jobs", unit="", better=None, label="injected jobs", dotted="jobs.injected",
        decimals=0, description="Jobs injected after the warm-up.")
def _injected(r: RunRecords) -> float:
    return int(r.injected)


@metric("injection_rate_jobs_per_ms", unit="jobs/ms", better=None, label="injected rate",
        dotted="load.injected_jobs_per_ms", decimals=3,
        description="Jobs injected after the warm-up per ms of the measured window.")
def _injection_rate(r: RunRecords) -> float:
    return r.injected / r.window_us * 1000 if r.window_us else 0.0


@metric("throughput_jobs_per_ms", unit="jobs/ms", better="higher", label="throughput",
        dotted="throughput.jobs_per_ms", decimals=3,
        description="Counted jobs per ms from the warm-up to the last counted completion.")
def _throughput(r: RunRecords) -> float:
    return r.completed / r.busy_window_us * 1000 if r.busy_window_us > 0 else 0.0


@metric("energy_j", unit="J", better="lower", label="energy", dotted="energy.total_j", decimals=1,
        description="Energy of the run, DS3's windowed accounting (NaN when not modelled).")
def _energy(r: RunRecords) -> float:
    return float(r.energy_j)


@metric("edp", unit="J·s", better="lower", label="energy-delay product", dotted="energy.edp_js",
        decimals=2, description="Energy x the busy window (warm-up to the last counted completion).")
def _edp(r: RunRecords) -> float:
    return float(r.energy_j * r.busy_window_us * 1e-6)


@metric("mean_slowdown", unit="×", better="lower", label="mean slowdown",
        dotted="latency.slowdown", decimals=2,
        description="Mean of latency / the application's lower bound over the counted jobs.")
def _mean_slowdown(r: RunRecords) -> float:
    return float(np.mean(r.slowdowns)) if r.completed else _NAN


@metric("sim_time_us", unit="µs", better=None, label="simulated time", dotted="run.sim_time_us",
        decimals=0, description="Simulated time at the end of the run.")
def _sim_time(r: RunRecords) -> float:
    return float(r.end_us)


@metric("wall_time_s", unit="s", better=None, label="simulation wall time",
        dotted="run.sim_wall_s", decimals=2,
        description="Host wall-clock time of the simulation (set by dssoc.simulate).")
def _wall_time(r: RunRecords) -> float:
    return r.wall_time_s


@metric("energy_per_job_j", unit="J", better="lower", label="energy per job",
        dotted="energy.per_job_j", decimals=3, description="Energy / counted jobs.")
def _energy_per_job(r: RunRecords) -> float:
    return float(r.energy_j) / r.completed if r.completed else _NAN


# deadline metrics are NaN when no counted job has a deadline (the built-in applications)
@metric("deadline_miss_rate", unit="fraction", better="lower", label="deadline misses",
        dotted="deadline.miss_rate", decimals=1,
        description="Share of counted jobs with a deadline that finish after it.")
def _miss_rate(r: RunRecords) -> float:
    return deadline_metrics(r.lateness_us)[0]


@metric("mean_tardiness_us", unit="µs", better="lower", label="mean tardiness",
        dotted="deadline.mean_tardiness_us", decimals=1,
        description="Mean of max(0, finish - deadline) over counted jobs with a deadline.")
def _tardiness(r: RunRecords) -> float:
    return deadline_metrics(r.lateness_us)[1]


@metric("p99_lateness_us", unit="µs", better="lower", label="p99 lateness",
        dotted="deadline.p99_lateness_us", decimals=1,
        description="99th percentile of finish - deadline over counted jobs with a deadline.")
def _p99_lateness(r: RunRecords) -> float:
    return deadline_metrics(r.lateness_us)[2]


def deadline_metrics(lateness: np.ndarray) -> tuple[float, float, float]:
    """(miss rate, mean tardiness, p99 lateness) of jobs with lateness = finish - deadline.

    A job misses when it finishes after its deadline (lateness > 0); tardiness is
    max(0, lateness). All NaN when no job has a deadline.
    """
    late = np.asarray(lateness, dtype=float)
    if late.size == 0:
        return _NAN, _NAN, _NAN
    return (float(np.mean(late > 0)), float(np.mean(np.maximum(late, 0.0))),
            float(np.percentile(late, 99)))
