"""`SimView`: the one read-only view of a running simulation that schedulers and observation
builders see, and `SimDriver`, the same view plus the calls that move a simulation forward.

Every heuristic, planner and learned-policy adapter is written against `SimView` only, never
against the concrete engine (`dssoc.engine.Simulation` implements it). What it offers:

- the clock and the platform: `now`, `config`, `soc`, `n_pes`, `pe_cluster`, `pe_bandwidth`;
- tasks: `ready` (unbound ready tasks), `pe_running` (the task on each PE), `pe_waiting()` (the
  bound tasks waiting for each PE), expected times (`exec_times`, `mean_exec_time`, `best_time`,
  `best_time_rank`), `transfer_times` and data-ready times (`data_ready_times`, `data_ready_matrix`);
- PEs: `pe_idle`, `pe_free`, `pe_expected_free`, `pe_queue_lengths`, `pe_queued_work`,
  `pe_elapsed`, `pe_expected_remaining`, live availability (`pe_live_available`), DVFS state
  (`pe_slowdown`, `pe_power_w`);
- jobs: `active_jobs` (the job records in the system), `jobs_in_flight`, `jobs_injected`,
  `jobs_remaining_critical_path`, `job_age`, `job_tasks_done`;
- four requests a scheduler may make, none of which binds anything: `hold_after` (a plan
  predecessor), `note_planned_start` (for traces and the validator's drift report),
  `request_opp` and `enable_dvfs` (operating points).

Times are *expected* ones: a scheduler never sees the noisy actual durations before a task ends.
Records (`dssoc.runtime.TaskRun`, `JobRun`) may be read, never written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from dssoc.config import SimConfig
    from dssoc.dvfs import DvfsController
    from dssoc.model import SoC
    from dssoc.runtime import JobRun, TaskRun


class SimView(Protocol):
    """What a scheduler or an observation builder may look at (read-only, expected times)."""

    @property
    def now(self) -> float:
        """The current simulated time (µs)."""
        ...

    @property
    def config(self) -> SimConfig:
        """The run's configuration."""
        ...

    @property
    def soc(self) -> SoC:
        """The platform."""
        ...

    @property
    def n_pes(self) -> int:
        """Number of PEs."""
        ...

    @property
    def pe_cluster(self) -> np.ndarray:
        """Cluster index of every PE."""
        ...

    @property
    def pe_bandwidth(self) -> np.ndarray:
        """PE x PE bandwidth matrix."""
        ...

    @property
    def ready(self) -> Sequence[TaskRun]:
        """The ready tasks not bound yet, in the order they became ready."""
        ...

    @property
    def pe_running(self) -> Sequence[TaskRun | None]:
        """The task running on each PE (None if idle)."""
        ...

    @property
    def active_jobs(self) -> Mapping[int, JobRun]:
        """The jobs in the system by id, oldest first."""
        ...

    @property
    def jobs_in_flight(self) -> int:
        """Number of jobs in the system."""
        ...

    @property
    def jobs_injected(self) -> int:
        """Number of jobs injected so far (warm-up included)."""
        ...

    # ------------------------------------------------------------- tasks
    def exec_times(self, task: TaskRun) -> np.ndarray:
        """Expected execution time of `task` on every PE (inf where unsupported); read-only."""
        ...

    def mean_exec_time(self, task: TaskRun) -> float:
        """Mean expected execution time of `task` over the PEs that support it."""
        ...

    def best_time(self, task: TaskRun) -> float:
        """Expected execution time of `task` on its fastest PE."""
        ...

    def best_time_rank(self, task: TaskRun) -> float:
        """Critical path from `task` (included) to its job's end on the fastest PEs, no transfers."""
        ...

    def data_ready_times(self, task: TaskRun) -> np.ndarray:
        """Earliest time the inputs of a *ready* task could be on each PE."""
        ...

    def data_ready_matrix(self, tasks: list[TaskRun]) -> np.ndarray:
        """Data-ready times of ready tasks (rows) on every PE (columns)."""
        ...

    def transfer_times(self, volume: float, src_pe: int) -> np.ndarray:
        """Time to move `volume` from `src_pe` to every PE (DS3 truncation when integer_times)."""
        ...

    # --------------------------------------------------------------- PEs
    def pe_waiting(self) -> list[list[TaskRun]]:
        """Per PE, the bound tasks waiting for it: its queue in order, then tasks held behind a
        plan predecessor that has not started."""
        ...

    def pe_idle(self) -> np.ndarray:
        """True for PEs that run nothing right now."""
        ...

    def pe_free(self) -> np.ndarray:
        """True for PEs with nothing running and nothing bound (late binding binds only there)."""
        ...

    def pe_expected_free(self) -> np.ndarray:
        """Expected time each PE finishes its running task (now if idle)."""
        ...

    def pe_queue_lengths(self) -> np.ndarray:
        """Number of bound tasks waiting for each PE (not counting the running one)."""
        ...

    def pe_queued_work(self) -> np.ndarray:
        """Expected execution time bound to each PE and waiting."""
        ...

    def pe_elapsed(self) -> np.ndarray:
        """Time the running task of each PE has run so far (0 if idle)."""
        ...

    def pe_expected_remaining(self) -> np.ndarray:
        """Expected time left of each PE's running task (0 if idle or overrun)."""
        ...

    def pe_live_available(self) -> np.ndarray:
        """When each PE is expected to have finished all its bound work, from the live state."""
        ...

    def pe_slowdown(self) -> np.ndarray:
        """f_max / f of each PE's cluster now (DVFS; ones at the performance governor)."""
        ...

    def pe_power_w(self) -> np.ndarray:
        """Power (W) of one busy core of each PE at its current operating point."""
        ...

    # -------------------------------------------------------------- jobs
    def jobs_remaining_critical_path(self) -> dict[int, float]:
        """Expected remaining critical path of every job in the system, by job id."""
        ...

    def job_age(self, job: JobRun) -> float:
        """Time since the job arrived."""
        ...

    def job_tasks_done(self, job: JobRun) -> int:
        """Number of the job's tasks that have finished."""
        ...

    # ---------------------------------------------------------- requests
    def hold_after(self, task: TaskRun, after: TaskRun | None) -> None:
        """Let `task` start only after `after` has started (its plan predecessor; None: free)."""
        ...

    def note_planned_start(self, task: TaskRun, start: float) -> None:
        """Record when the scheduler plans `task` to start (traces' `planned_start`, plan drift)."""
        ...

    def request_opp(self, cluster: int, level: int) -> None:
        """Set a cluster's operating point (OPP index) from the next sampling instant."""
        ...

    def enable_dvfs(self) -> DvfsController:
        """The run's DVFS controller, built now if needed (call it from `reset`)."""
        ...


class SimDriver(SimView, Protocol):
    """A `SimView` that can also be driven: bind tasks and run to the next decision point (the
    Gymnasium environments and the late-binding policy adapter bind as they decide)."""

    def assign(self, task: TaskRun, pe: int) -> None:
        """Bind a ready task to a PE."""
        ...

    def advance(self) -> bool:
        """Run to the next decision point (True) or the end (False)."""
        ...

    def has_decision(self) -> bool:
        """Whether a late-binding decision point is open now."""
        ...
