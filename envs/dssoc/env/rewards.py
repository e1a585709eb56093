"""Per-step rewards whose episode sums are exact totals (all jobs of the episode, warm-up included).

Between two consecutive decisions at times t0 <= t1 (the last interval ends when the simulation
ends: at `duration_us`, or at the last completion when stopping after `max_jobs`):

- `time_in_system` (Decima / DeepSoCS): -(sum over jobs j of |[arrival_j, end_j] ∩ [t0, t1]|) / scale
  where end_j is the job's completion (or t1 if still running). The episode return is
  -(total time all jobs spent in the system up to the end) / scale.
- `latency`: -(sum of the latencies of the jobs completed in (t0, t1]) / scale; episode return
  -(sum of the latencies of all completed jobs) / scale.
- `throughput`: +(number of jobs completed in (t0, t1]); episode return = completed jobs.
- `differential` (average-reward form, `dssoc/SoCSched-v1` only; DeepSoCS/Decima for long
  episodes): -(time_in_system(t0, t1) - rho * (t1 - t0)) / scale, where rho = the time in system
  accumulated before t0 divided by the time elapsed before t0 (the running mean number of jobs in
  the system, i.e. the average reward rate so far; 0 before any time has passed). Returns then
  measure how much better than the running average the policy does, so they stay bounded as
  episodes grow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dssoc.engine import JobRun

REWARDS = ("time_in_system", "latency", "throughput")
V1_REWARDS = (*REWARDS, "differential")


class RewardTracker:
    """Accumulates job time in system, completed latency and completions interval by interval."""

    def __init__(self, kind: str, time_scale: float, valid: tuple[str, ...] = REWARDS) -> None:
        if kind not in valid:
            from dssoc.errors import ConfigError

            raise ConfigError(f"unknown reward {kind!r}; valid: {', '.join(valid)}", "reward")
        self.kind = kind
        self.time_scale = float(time_scale)
        self.reset()

    def reset(self, now: float = 0.0) -> None:
        self._t = now
        self._t0 = now
        self._jobs: list[JobRun] = []  # jobs in the system at the last update (or arrived since)
        self.time_in_system_us = 0.0
        self.latency_us = 0.0
        self.completed = 0

    def on_arrival(self, job: JobRun) -> None:
        self._jobs.append(job)

    def update(self, now: float) -> float:
        """Close the interval [last update, now] and return its reward."""
        t0 = self._t
        in_system = latency = 0.0
        completed = 0
        still = []
        for job in self._jobs:
            start = job.arrival if job.arrival > t0 else t0
            if job.remaining == 0:  # done_at is the latest task finish, not a done flag
                in_system += job.done_at - start
                latency += job.done_at - job.arrival
                completed += 1
            else:
                in_system += now - start
                still.append(job)
        self._jobs = still
        self._t = now
        if self.kind == "differential":
            elapsed = t0 - self._t0
            rho = self.time_in_system_us / elapsed if elapsed > 0 else 0.0
            self.time_in_system_us += in_system
            self.latency_us += latency
            self.completed += completed
            return 0.0 - (in_system - rho * (now - t0)) / self.time_scale
        self.time_in_system_us += in_system
        self.latency_us += latency
        self.completed += completed
        if self.kind == "time_in_system":
            return 0.0 - in_system / self.time_scale
        if self.kind == "latency":
            return 0.0 - latency / self.time_scale
        return float(completed)
