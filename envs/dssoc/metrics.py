"""`SimResult`: the metrics of one run, plus per-task traces and a Gantt chart on request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

import dssoc.metric_registry as metric_registry
from dssoc.metric_registry import RunRecords, deadline_metrics

if TYPE_CHECKING:
    import pandas as pd

    from dssoc.observers import FinishedRun

TRACE_COLUMNS = ("job", "app", "task", "task_name", "pe", "pe_name", "job_arrival", "ready",
                 "bound", "data_ready", "start", "finish", "expected", "planned_start")
JOB_COLUMNS = ("job", "app", "arrival", "finish")

__all__ = ["JOB_COLUMNS", "TRACE_COLUMNS", "RunRecords", "SimResult", "deadline_metrics",
           "run_records"]


@dataclass
class SimResult:
    """Metrics after warm-up. Latency = finish of the job's last task - injection time."""

    scheduler: str
    seed: int
    config: dict[str, Any]
    avg_latency_us: float
    p50_latency_us: float
    p95_latency_us: float
    p99_latency_us: float
    completed_jobs: int
    injected_jobs: int
    injection_rate_jobs_per_ms: float
    throughput_jobs_per_ms: float
    energy_j: float
    edp: float
    mean_slowdown: float
    sim_time_us: float
    wall_time_s: float = 0.0
    energy_per_job_j: float = float("nan")  # energy / completed jobs
    deadline_miss_rate: float = float("nan")  # NaN when no counted job has a deadline
    mean_tardiness_us: float = float("nan")  # mean of max(0, finish - deadline)
    p99_lateness_us: float = float("nan")  # 99th percentile of finish - deadline
    frequency_trace: tuple[tuple[float, int, int], ...] = field(default=(), repr=False)
    utilization: dict[str, float] = field(default_factory=dict)
    latencies: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    completed_by_app: dict[str, int] = field(default_factory=dict)
    total_injected: int = 0  # all injected jobs, warm-up included
    unfinished_job_ids: tuple[int, ...] = ()  # jobs still in the system at the end
    _trace: list[tuple] | None = field(default=None, repr=False)
    _jobs: list[tuple] | None = field(default=None, repr=False)
    _pe_names: tuple[str, ...] = field(default=(), repr=False)

    #: metrics registered beyond the fields above (dssoc.metric_registry), by name
    extra_metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_simulation(cls, sim: FinishedRun, scheduler: object) -> SimResult:
        """The result of a finished (or stopped) simulation: every registered metric of its
        records (`run_records`), plus utilisation, per-application counts and traces."""
        name = scheduler if isinstance(scheduler, str) else getattr(scheduler, "name", "")
        records = run_records(sim)
        values = metric_registry.compute_all(records)
        kept: dict[str, Any] = {k: values.pop(k) for k in _METRIC_FIELDS if k in values}
        window, n = records.window_us, records.completed
        counts = (np.bincount(records.apps, minlength=len(sim.apps)) if n
                  else np.zeros(len(sim.apps), int))
        util = sim.busy_us / window if window > 0 else np.zeros(sim.n_pes)
        return cls(
            scheduler=str(name),
            seed=sim.seed,
            config=sim.config.summary(),
            **kept,
            extra_metrics=values,
            frequency_trace=tuple(sim.dvfs.trajectory) if sim.dvfs is not None else (),
            utilization={p: float(u) for p, u in zip(sim.soc.pe_names, util, strict=True)},
            latencies=records.latencies_us,
            completed_by_app={a.name: int(c) for a, c in zip(sim.apps, counts, strict=True)},
            total_injected=sim.jobs_injected,
            unfinished_job_ids=tuple(sorted(sim.active_jobs)),
            _trace=sim.trace_rows if sim.trace_enabled else None,
            _jobs=sim.job_rows if sim.trace_enabled else None,
            _pe_names=sim.soc.pe_names,
        )

    # ------------------------------------------------------------------ output
    def metrics(self) -> dict[str, float]:
        """Every registered metric (dssoc.metric_registry) by name, in declaration order: the
        per-seed results that `--json`, MLflow and the report receive."""
        out = {}
        for m in metric_registry.all_metrics():
            if m.name in _METRIC_FIELDS:
                out[m.name] = getattr(self, m.name)
            else:
                out[m.name] = self.extra_metrics.get(m.name, float("nan"))
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scheduler": self.scheduler, "seed": self.seed, **self.metrics()}
        out["utilization"] = self.utilization
        out["completed_by_app"] = self.completed_by_app
        out["config"] = self.config
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_json_default)

    @property
    def has_trace(self) -> bool:
        return self._trace is not None

    def trace(self) -> pd.DataFrame:
        """Per-task trace (one row per finished task); needs `trace=True` when simulating."""
        import pandas as pd

        if self._trace is None:
            raise ValueError("this run kept no trace: simulate with trace=True (CLI: --gantt/--validate)")
        return pd.DataFrame(self._trace, columns=list(TRACE_COLUMNS))

    def jobs(self) -> pd.DataFrame:
        """One row per finished job (arrival and finish times)."""
        import pandas as pd

        if self._jobs is None:
            raise ValueError("this run kept no trace: simulate with trace=True")
        return pd.DataFrame(self._jobs, columns=list(JOB_COLUMNS))

    def gantt(self, path: str, start_us: float | None = None, end_us: float | None = None) -> str:
        """Write a Gantt chart (PNG) of the tasks overlapping [start_us, end_us]; without a
        window, a few jobs just after the warm-up (`dssoc.gantt.default_window`)."""
        from dssoc.gantt import plot_gantt

        c = self.config
        rate = c.get("rate_jobs_per_ms")
        title = (f"{self.scheduler} · workload {c.get('workload')} · noise {c.get('noise') or 'none'}"
                 + (f" · {rate:g} jobs/ms" if isinstance(rate, int | float) else "")
                 + f" · seed {self.seed}")
        return plot_gantt(self.trace(), self._pe_names, path, start_us, end_us, title=title,
                          warmup_us=float(c.get("warmup_us") or 0.0))


#: the registered metrics kept as SimResult fields (the rest go to `extra_metrics`)
_METRIC_FIELDS = frozenset(f.name for f in fields(SimResult)) & set(metric_registry.names())


def run_records(sim: FinishedRun) -> RunRecords:
    """The records a run's metrics are computed from: the engine's per-job accounting of the
    counted jobs (finished after warm-up, by the end) and the run's totals. The arrays are
    copies, so a running simulation can keep appending to its own (a result may be taken
    mid-run)."""
    end = sim.end_time if np.isfinite(sim.end_time) else sim.now
    return RunRecords(
        latencies_us=_copy(sim.latencies, float),
        slowdowns=_copy(sim.slowdowns, float),
        lateness_us=_copy(sim.lateness, float),
        apps=_copy(sim.completed_apps, np.int32),
        injected=int(sim.injected_after_warmup),
        window_us=max(end - sim.warmup, 0.0),
        busy_window_us=max(sim.last_completion - sim.warmup, 0.0),
        energy_j=float(sim.energy_j),
        end_us=float(end),
    )


def _copy(buffer: Any, dtype: Any) -> np.ndarray:
    """A numpy copy of an `array.array` of per-job records (empty if it is)."""
    return np.frombuffer(buffer, dtype=dtype).copy() if buffer else np.zeros(0, dtype)


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))
