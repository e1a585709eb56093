"""Per-step rewards whose episode sums are exact totals (all jobs of the episode, warm-up included).

Between two consecutive decisions at times t0 <= t1 (the last interval ends when the simulation
ends: at `duration_us`, or at the last completion when stopping after `max_jobs`):

- `time_in_system` (Decima / DeepSoCS): -(sum over jobs j of |[arrival_j, end_j] ∩ [t0, t1]|) / scale
  where end_j is the job's completion (or t1 if still running). The episode return is
  -(total time all jobs spent in the system up to the end) / scale.
- `latency`: -(sum of the latencies of the jobs completed in (t0, t1]) / scale; episode return
  -(sum of the latencies of all completed jobs) / scale.
- `throughput`: +(number of jobs completed in (t0, t1]); episode return = completed jobs.
- `latency_energy`: -(latency of the jobs completed in (t0, t1] + lambda * energy charged in
  (t0, t1]) / scale, with lambda (`energy_weight`, default 100) in microseconds per millijoule:
  how much latency one millijoule is worth. Episode return -(sum of latencies + lambda *
  energy) / scale.
- `edp`: -(E(t1) t1 - E(t0) t0) / (scale * 1 mJ) with E(t) the energy charged up to t (mJ):
  telescoping, so the episode return is -(energy x run time) / (scale * 1 mJ), the run's EDP.

Energy is what the engine's DS3 meter has charged (after the warm-up, as `SimResult.energy_j`;
0 when energy accounting is off). Every step also yields a two-objective vector,
`vector(...)` = (-(latency completed) / scale, -(energy charged, mJ)), both to maximise, in the
order of `VECTOR_OBJECTIVES` (MO-Gymnasium's convention for `info["vector_reward"]`).
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
    from dssoc.runtime import JobRun

REWARDS = ("time_in_system", "latency", "throughput", "latency_energy", "edp")
VECTOR_OBJECTIVES = ("latency", "energy")
DEFAULT_ENERGY_WEIGHT = 100.0  # us of latency per mJ
V1_REWARDS = (*REWARDS, "differential")


class RewardTracker:
    """Accumulates job time in system, completed latency and completions interval by interval."""

    def __init__(self, kind: str, time_scale: float,
                 energy_weight: float = DEFAULT_ENERGY_WEIGHT, valid: tuple[str, ...] = REWARDS) -> None:
        from dssoc.errors import ConfigError

        if kind not in valid:
            raise ConfigError(f"unknown reward {kind!r}; valid: {', '.join(valid)}", "reward")
        if not energy_weight >= 0:
            raise ConfigError(f"must be >= 0 (us per mJ), got {energy_weight}", "energy_weight")
        self.kind = kind
        self.time_scale = float(time_scale)
        self.energy_weight = float(energy_weight)
        self.reset()

    def reset(self, now: float = 0.0) -> None:
        self._t = now
        self._t0 = now
        self._jobs: list[JobRun] = []  # jobs in the system at the last update (or arrived since)
        self.time_in_system_us = 0.0
        self.latency_us = 0.0
        self.completed = 0
        self.energy_mj = 0.0  # charged up to the last update
        self.last_vector = (0.0, 0.0)

    def on_arrival(self, job: JobRun) -> None:
        self._jobs.append(job)

    def update(self, now: float, energy_j: float = 0.0) -> float:
        """Close the interval [last update, now] and return its reward; `energy_j` is the energy
        charged so far (the engine's `Simulation.energy_j`; NaN counts as 0)."""
        t0 = self._t
        e0 = self.energy_mj
        e1 = energy_j * 1e3 if energy_j == energy_j else 0.0
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
        elapsed = t0 - self._t0  # the differential form's running rate, before this interval
        rho = self.time_in_system_us / elapsed if elapsed > 0 else 0.0
        self.time_in_system_us += in_system
        self.latency_us += latency
        self.completed += completed
        self.energy_mj = e1
        self.last_vector = (0.0 - latency / self.time_scale, 0.0 - (e1 - e0))
        if self.kind == "differential":
            return 0.0 - (in_system - rho * (now - t0)) / self.time_scale
        if self.kind == "time_in_system":
            return 0.0 - in_system / self.time_scale
        if self.kind == "latency":
            return 0.0 - latency / self.time_scale
        if self.kind == "latency_energy":
            return 0.0 - (latency + self.energy_weight * (e1 - e0)) / self.time_scale
        if self.kind == "edp":
            return 0.0 - (e1 * now - e0 * t0) / self.time_scale
        return float(completed)
