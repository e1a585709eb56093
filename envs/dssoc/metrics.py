"""`SimResult`: the metrics of one run, plus per-task traces and a Gantt chart on request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from dssoc.observers import FinishedRun

TRACE_COLUMNS = ("job", "app", "task", "task_name", "pe", "pe_name", "job_arrival", "ready",
                 "bound", "data_ready", "start", "finish", "expected", "planned_start")
JOB_COLUMNS = ("job", "app", "arrival", "finish")


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

    METRIC_KEYS = ("avg_latency_us", "p50_latency_us", "p95_latency_us", "p99_latency_us",
                   "completed_jobs", "injected_jobs", "injection_rate_jobs_per_ms",
                   "throughput_jobs_per_ms", "energy_j", "edp", "mean_slowdown", "sim_time_us",
                   "wall_time_s", "energy_per_job_j", "deadline_miss_rate", "mean_tardiness_us",
                   "p99_lateness_us")

    @classmethod
    def from_simulation(cls, sim: FinishedRun, scheduler: object) -> SimResult:
        name = scheduler if isinstance(scheduler, str) else getattr(scheduler, "name", "")
        lat = np.frombuffer(sim.latencies, dtype=float).copy() if sim.latencies else np.zeros(0)
        n = lat.size
        end = sim.end_time if np.isfinite(sim.end_time) else sim.now
        window = max(end - sim.warmup, 0.0)
        busy_window = max(sim.last_completion - sim.warmup, 0.0)
        pct = np.percentile(lat, [50, 95, 99]) if n else np.full(3, np.nan)
        apps = (np.frombuffer(sim.completed_apps, dtype=np.int32) if sim.completed_apps
                else np.zeros(0, np.int32))
        counts = np.bincount(apps, minlength=len(sim.apps)) if n else np.zeros(len(sim.apps), int)
        util = sim.busy_us / window if window > 0 else np.zeros(sim.n_pes)
        miss, tardy, p99_late = deadline_metrics(np.frombuffer(sim.lateness, dtype=float)
                                                 if sim.lateness else np.zeros(0))
        return cls(
            scheduler=str(name),
            seed=sim.seed,
            config=sim.config.summary(),
            avg_latency_us=float(lat.mean()) if n else float("nan"),
            p50_latency_us=float(pct[0]),
            p95_latency_us=float(pct[1]),
            p99_latency_us=float(pct[2]),
            completed_jobs=int(n),
            injected_jobs=int(sim.injected_after_warmup),
            injection_rate_jobs_per_ms=sim.injected_after_warmup / window * 1000 if window else 0.0,
            throughput_jobs_per_ms=n / busy_window * 1000 if busy_window > 0 else 0.0,
            energy_j=float(sim.energy_j),
            edp=float(sim.energy_j * busy_window * 1e-6),
            mean_slowdown=float(np.mean(np.frombuffer(sim.slowdowns, dtype=float))) if n else float("nan"),
            sim_time_us=float(end),
            energy_per_job_j=float(sim.energy_j) / n if n else float("nan"),
            deadline_miss_rate=miss,
            mean_tardiness_us=tardy,
            p99_lateness_us=p99_late,
            frequency_trace=tuple(sim.dvfs.trajectory) if sim.dvfs is not None else (),
            utilization={p: float(u) for p, u in zip(sim.soc.pe_names, util, strict=True)},
            latencies=lat,
            completed_by_app={a.name: int(c) for a, c in zip(sim.apps, counts, strict=True)},
            total_injected=sim.jobs_injected,
            unfinished_job_ids=tuple(sorted(sim.active_jobs)),
            _trace=sim.trace_rows if sim.trace_enabled else None,
            _jobs=sim.job_rows if sim.trace_enabled else None,
            _pe_names=sim.soc.pe_names,
        )

    # ------------------------------------------------------------------ output
    def metrics(self) -> dict[str, float]:
        """The scalar metrics, as a flat dict (what MLflow and `--json` receive)."""
        return {k: getattr(self, k) for k in self.METRIC_KEYS}

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


def deadline_metrics(lateness: np.ndarray) -> tuple[float, float, float]:
    """(miss rate, mean tardiness, p99 lateness) of jobs with lateness = finish - deadline.

    A job misses when it finishes after its deadline (lateness > 0); tardiness is
    max(0, lateness). All NaN when no job has a deadline.
    """
    late = np.asarray(lateness, dtype=float)
    if late.size == 0:
        return float("nan"), float("nan"), float("nan")
    return (float(np.mean(late > 0)), float(np.mean(np.maximum(late, 0.0))),
            float(np.percentile(late, 99)))


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))
