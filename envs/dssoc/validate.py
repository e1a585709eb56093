"""Schedule checker, in the style of gymnasium's `check_env`: small checks returning violations.

`check_schedule(result, config)` re-derives every constraint from the configuration and the
per-task trace (a run with `trace=True`): each task on a PE that supports it, precedence plus
transfer delays, no overlap on a PE, a consistent life cycle, and every injected job accounted for.

`plan_drift(result)` measures, for schedulers that plan (their trace has a `planned_start`), how far
the executed schedule drifted from the plan: under execution-time noise a plan goes stale (a task
that runs long delays what is planned behind it, one that runs short leaves a gap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dssoc.config import SimConfig
from dssoc.dvfs import needs_controller
from dssoc.errors import DssocError
from dssoc.metrics import SimResult
from dssoc.model import transfer_time

EPS = 1e-6


@dataclass(frozen=True)
class Violation:
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


class ScheduleViolation(DssocError):
    """Raised by `assert_valid` with the first violations found."""


def _dvfs(config: SimConfig) -> bool:
    """Whether tasks run off f_max (dssoc.dvfs): durations scale, finishes are truncated."""
    return needs_controller(config.soc, config.throttling)


def check_support(trace: pd.DataFrame, config: SimConfig, dvfs: bool | None = None) -> list[Violation]:
    """Every task ran on a PE whose cluster has an execution time for its name (and, without
    noise, took its profiled time, or no less under DVFS)."""
    clusters = config.soc.clusters
    pe_cluster = config.soc.pe_cluster
    dvfs = _dvfs(config) if dvfs is None else dvfs
    out = []
    for row in trace.itertuples(index=False):
        c = clusters[int(pe_cluster[row.pe])]
        if row.task_name not in c.exec_us:
            out.append(Violation("support", f"job {row.job} task {row.task_name!r} ran on "
                                            f"{row.pe_name}, which cannot run it"))
        elif dvfs and not config.noise and (row.finish - row.start) + EPS < c.exec_us[row.task_name]:
            out.append(Violation("duration", f"job {row.job} task {row.task_name!r} took "
                                             f"{row.finish - row.start} on {row.pe_name}, less "
                                             f"than its f_max time {c.exec_us[row.task_name]}"))
        elif not dvfs and not config.noise and abs((row.finish - row.start) - c.exec_us[row.task_name]) > EPS:
            out.append(Violation("duration", f"job {row.job} task {row.task_name!r} took "
                                             f"{row.finish - row.start} on {row.pe_name}, "
                                             f"expected {c.exec_us[row.task_name]}"))
    return out


def check_precedence(trace: pd.DataFrame, config: SimConfig, dvfs: bool | None = None) -> list[Violation]:
    """A task starts only after each predecessor finished and its data crossed the link."""
    apps = {a.name: a for a in config.workload.applications}
    bw = config.soc.pe_bandwidth
    dvfs = _dvfs(config) if dvfs is None else dvfs
    truncate = dvfs and config.integer_times  # DS3 hands on int(finish) under DVFS
    by_key = {(r.job, r.task): r for r in trace.itertuples(index=False)}
    out = []
    for r in by_key.values():
        app = apps[r.app]
        for p in app.tasks[r.task].predecessors:
            pr = by_key.get((r.job, p))
            if pr is None:
                out.append(Violation("precedence", f"job {r.job} task {r.task_name!r} ran but its "
                                                   f"predecessor #{p} never finished"))
                continue
            transfer = float(transfer_time(app.volume(p, r.task), bw[pr.pe, r.pe], config.integer_times))
            if r.start + EPS < (math.floor(pr.finish) if truncate else pr.finish) + transfer:
                out.append(Violation("precedence", f"job {r.job} task {r.task_name!r} started at "
                                                   f"{r.start} before its input from #{p} arrived "
                                                   f"at {pr.finish + transfer}"))
    return out


def check_pe_overlap(trace: pd.DataFrame, config: SimConfig) -> list[Violation]:
    """Each PE runs one task at a time."""
    out = []
    for _, g in trace.sort_values(["pe", "start", "finish"]).groupby("pe"):
        starts, finishes = g["start"].to_numpy(), g["finish"].to_numpy()
        bad = np.flatnonzero(starts[1:] + EPS < finishes[:-1])
        for k in bad[:5]:
            a, b = g.iloc[k], g.iloc[k + 1]
            out.append(Violation("overlap", f"PE {a.pe_name}: job {a.job} {a.task_name!r} "
                                            f"[{a.start}, {a.finish}) overlaps job {b.job} "
                                            f"{b.task_name!r} [{b.start}, {b.finish})"))
    return out


def check_lifecycle(trace: pd.DataFrame, config: SimConfig) -> list[Violation]:
    """arrival <= ready <= bound <= start, data_ready <= start, start <= finish."""
    out = []
    t = trace
    conds = {
        "ready before its job arrived": t.ready + EPS < t.job_arrival,
        "bound before it was ready": t.bound + EPS < t.ready,
        "started before it was bound": t.start + EPS < t.bound,
        "started before its data was ready": t.start + EPS < t.data_ready,
        "finished before it started": t.finish + EPS < t.start,
    }
    for what, mask in conds.items():
        for row in t[mask].head(5).itertuples(index=False):
            out.append(Violation("lifecycle", f"job {row.job} task {row.task_name!r} {what}"))
    return out


def check_jobs(trace: pd.DataFrame, result: SimResult, config: SimConfig) -> list[Violation]:
    """Every injected job is either finished with all its tasks, or still in flight at the end."""
    out = []
    sizes = {a.name: len(a.tasks) for a in config.workload.applications}
    jobs = result.jobs()
    done_tasks = trace.groupby("job").size()
    for row in jobs.itertuples(index=False):
        n = int(done_tasks.get(row.job, 0))
        if n != sizes[row.app]:
            out.append(Violation("jobs", f"job {row.job} ({row.app}) finished with {n} of "
                                         f"{sizes[row.app]} tasks done"))
        last = trace.loc[trace.job == row.job, "finish"].max()
        if abs(last - row.finish) > EPS:
            out.append(Violation("jobs", f"job {row.job} finished at {row.finish} but its last "
                                         f"task at {last}"))
    ids = set(jobs.job) | set(result.unfinished_job_ids)
    if len(ids) != result.total_injected or ids != set(range(result.total_injected)):
        missing = sorted(set(range(result.total_injected)) - ids)[:5]
        out.append(Violation("jobs", f"{result.total_injected} jobs injected but "
                                     f"{len(jobs)} finished and {len(result.unfinished_job_ids)} in "
                                     f"flight; missing e.g. {missing}"))
    if config.max_jobs is not None and config.duration_us is None and result.unfinished_job_ids:
        out.append(Violation("jobs", f"{len(result.unfinished_job_ids)} jobs never finished"))
    return out


def check_schedule(result: SimResult, config: SimConfig) -> list[Violation]:
    """All violations of the schedule in `result` (empty list: valid)."""
    trace = result.trace()
    dvfs = _dvfs(config) or bool(result.frequency_trace)  # a scheduler or agent may retune
    return (check_support(trace, config, dvfs) + check_precedence(trace, config, dvfs)
            + check_pe_overlap(trace, config) + check_lifecycle(trace, config)
            + check_jobs(trace, result, config))


@dataclass(frozen=True)
class PlanDrift:
    """Start times executed vs planned, over the finished tasks that had a planned start."""

    planned_tasks: int
    mean_delay_us: float  # mean of (start - planned start); negative when tasks ran early
    max_delay_us: float  # the largest start delay
    late: int  # tasks started after their planned start
    early: int  # tasks started before it

    @property
    def off_plan(self) -> int:
        """Tasks started out of their planned time (late or early)."""
        return self.late + self.early

    def to_dict(self) -> dict[str, float | int]:
        return {"planned_tasks": self.planned_tasks, "mean_delay_us": self.mean_delay_us,
                "max_delay_us": self.max_delay_us, "off_plan": self.off_plan, "late": self.late,
                "early": self.early}

    def __str__(self) -> str:
        return (f"{self.off_plan} of {self.planned_tasks} tasks started off plan ({self.late} late, "
                f"{self.early} early); start delay vs plan mean {self.mean_delay_us:.2f} µs, "
                f"max {self.max_delay_us:.2f} µs")


def plan_drift(result: SimResult) -> PlanDrift | None:
    """Drift of the executed schedule from the scheduler's plan; None if it planned nothing."""
    trace = result.trace()
    planned = trace.dropna(subset=["planned_start"])
    if planned.empty:
        return None
    delay = (planned["start"] - planned["planned_start"]).to_numpy()
    return PlanDrift(planned_tasks=len(delay), mean_delay_us=float(delay.mean()),
                     max_delay_us=float(delay.max()), late=int((delay > EPS).sum()),
                     early=int((delay < -EPS).sum()))


def assert_valid(result: SimResult, config: SimConfig) -> None:
    """Raise `ScheduleViolation` naming the first violations, if any."""
    violations = check_schedule(result, config)
    if violations:
        shown = "; ".join(str(v) for v in violations[:3])
        raise ScheduleViolation(f"{len(violations)} schedule violation(s): {shown}")
