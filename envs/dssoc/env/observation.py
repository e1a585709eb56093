"""The observation of a scheduling decision, shared by `SoCSchedEnv` and `PolicyScheduler`.

`ObservationBuilder` mirrors the live `Simulation` in fixed-size numpy arrays and turns it into
the padded Dict observation (`action_mask` + `observations`) that RLlib's masking modules expect.

Bookkeeping is incremental: every injected job gets a *lane* (a block of rows, one row per task)
whose static features are copied once at arrival; `sync()` (after `Simulation.advance`) picks up
tasks that started, finished or became ready; `act()` records a decision. `observe()` is then a
handful of vectorised numpy operations, independent of how the rows got there.

Slots (rows of the observation) hold the unfinished tasks of the jobs in the system, ordered by
job id (oldest first) then task index. When there are more unfinished tasks than slots, the ready
tasks are kept first, then the oldest jobs' tasks; the chosen tasks keep that (job, task) order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from dssoc import checks
from dssoc.config import SimConfig
from dssoc.env.actions import action_index, invalid_action_mode, resolve_action
from dssoc.errors import ConfigError
from dssoc.live import best_time_rank
from dssoc.runtime import CompiledApp
from dssoc.schedulers.base import earliest_finish
from dssoc.schedulers.greedy import EarliestFinishTime

if TYPE_CHECKING:
    from dssoc.runtime import JobRun, TaskRun
    from dssoc.view import SimView

_EFT_RNG = np.random.default_rng(0)  # the EFT placement draws nothing; reset() wants a stream
ACTION_MODES = ("task", "task_pe")
GRAPH_MODES = ("children", "adjacency")
DEFAULT_MAX_TASKS_CAP = 256
MAX_TASKS = 65_536  # observation slots a user may ask for (the arrays are slots x features)
HIGH = float(np.finfo(np.float32).max)  # finite "unbounded" limit (gymnasium warns on inf)

# row status; FREE = unused row or finished task
FREE, OUTSTANDING, READY, QUEUED, RUNNING = 0, 1, 2, 3, 4
# status -> the flag columns (ready, queued, running, outstanding)
_FLAGS = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], float)

PE_FEATURES = ("busy", "time_to_free", "queued_work", "queue_length", "eft_available")
GLOBAL_FEATURES = ("elapsed_fraction", "completed_fraction", "jobs_in_system", "ready_tasks",
                   "unfinished_tasks", "overflow")


def task_feature_names(cluster_names: list[str] | tuple[str, ...]) -> list[str]:
    """Column names of `observations["tasks"]` for an SoC with these clusters."""
    return ([f"exec_{c}" for c in cluster_names] + [f"supported_{c}" for c in cluster_names]
            + ["best_time", "critical_path", "children", "ready", "queued", "running",
               "outstanding", "waiting", "job_age", "remaining", "eft", "parents_left",
               "job_progress"])


def pe_feature_names(cluster_names: list[str] | tuple[str, ...]) -> list[str]:
    """Column names of `observations["pes"]`."""
    return list(PE_FEATURES) + [f"cluster_{c}" for c in cluster_names]


def _compile(config: SimConfig) -> list[CompiledApp]:
    return [CompiledApp(i, a, config.soc) for i, a in enumerate(config.workload.applications)]


def default_time_scale(config: SimConfig) -> float:
    """Time unit of the observation and rewards (µs): the mean over the workload mix of a job's
    critical path on the fastest PEs (its latency lower bound); 1 if that is 0."""
    apps = _compile(config)
    scale = float(sum(p * a.lower_bound for p, a in
                      zip(config.workload.probabilities, apps, strict=True)))
    return scale if scale > 0 else 1.0


def default_max_tasks(config: SimConfig) -> int:
    """Slots: max jobs in flight x the largest application, capped at 256."""
    n_max = max(len(a.tasks) for a in config.workload.applications)
    return min(config.max_jobs_in_flight * n_max, DEFAULT_MAX_TASKS_CAP)


class ObservationBuilder:
    """Fixed-size numpy view of a `Simulation` for learned schedulers (one implementation for the
    environment and for `PolicyScheduler`).

    Call order per episode: `reset(sim)`; the simulation's arrival hook calls `on_arrival(job)`;
    after each `sim.advance()` call `sync()`; then `observe()` / `act(action)` once per ready task.

    Observation (all float32; M = max_tasks, P = PEs, C = clusters, times / `time_scale`):

    - `action_mask` (M,) or (M*P,): ready slots (x PEs able to run them); never all zero.
    - `observations/tasks` (M, 2C+13), see `task_features`: expected time on each cluster
      (0 if unsupported), supported flags, best time, critical path to the job's end on best
      times (own time included), children count / max, status flags (ready, queued = bound
      and waiting, running, outstanding = waiting for parents), waiting time since ready (ready
      or queued), job age, remaining expected time (running: to expected finish; queued: its
      duration), EFT estimate for ready tasks (earliest finish over PEs - now), parents left
      / max parents, fraction of the job's tasks finished.
    - `children` (M, max_children): slot indices of each slot's children, -1 padding (or
      `adjacency` (M, M) with 1 at [parent, child]).
    - `task_mask` (M,): 1 for occupied slots. `job_index` (M,): rank of the slot's job by id
      among the jobs in the system (0 = oldest); 0 on empty slots.
    - `pes` (P, 5+C): busy, time to expected free, queued work, queue length / largest app,
      EFT availability estimate - now, cluster one-hot.
    - `global` (6,): elapsed fraction of duration_us, completed fraction of max_jobs (0 if
      unset), jobs in system / max_jobs_in_flight, ready tasks / M, unfinished tasks / M,
      overflow flag.
    """

    def __init__(
        self,
        config: SimConfig,
        *,
        action_mode: str = "task",
        max_tasks: int | None = None,
        graph: str = "children",
        time_scale_us: float | None = None,
        invalid_action: str = "raise",
    ) -> None:
        self.invalid_action = invalid_action_mode(invalid_action)
        if action_mode not in ACTION_MODES:
            raise ConfigError(f"unknown action mode {action_mode!r}; valid: {', '.join(ACTION_MODES)}",
                              "action_mode")
        if graph not in GRAPH_MODES:
            raise ConfigError(f"unknown graph encoding {graph!r}; valid: {', '.join(GRAPH_MODES)}",
                              "graph")
        self.config = config
        self.action_mode = action_mode
        self.graph = graph
        self.max_tasks = (checks.integer(max_tasks, "max_tasks", ge=1, le=MAX_TASKS)
                          if max_tasks is not None else default_max_tasks(config))
        self.time_scale = (checks.number(time_scale_us, "time_scale_us", gt=0, unit="microseconds")
                           if time_scale_us is not None else default_time_scale(config))
        soc = config.soc
        self.n_pes = soc.n_pes
        self.cluster_names = tuple(c.name for c in soc.clusters)
        n_c = len(self.cluster_names)
        apps = _compile(config)
        self.n_max = max(a.n for a in apps)
        self.n_lanes = config.max_jobs_in_flight
        self.max_children = max(1, max(len(s) for a in apps for s in a.succs))
        max_parents = max(1, max(len(p) for a in apps for p in a.preds))
        self.n_actions = self.max_tasks * (self.n_pes if action_mode == "task_pe" else 1)

        # per-application static tables
        first_pe = np.searchsorted(soc.pe_cluster, np.arange(n_c))
        scale = self.time_scale
        self._n_static = 2 * n_c + 3
        self._app_static, self._app_children, self._app_parents = [], [], []
        self._app_exec, self._app_succs = [], []
        for a in apps:
            ex = a.exec_pe[:, first_pe]
            ok = np.isfinite(ex)
            best = a.exec_pe.min(axis=1)
            out_deg = np.array([len(s) for s in a.succs], dtype=float)
            static = np.column_stack([np.where(ok, ex, 0.0) / scale, ok, best / scale,
                                      best_time_rank(a) / scale,
                                      out_deg / self.max_children])
            children = np.full((a.n, self.max_children), -1, dtype=np.int64)
            for i, s in enumerate(a.succs):
                children[i, :len(s)] = s
            self._app_static.append(static)
            self._app_children.append(children)
            self._app_parents.append(np.array([len(p) for p in a.preds], dtype=float))
            self._app_exec.append(np.array(a.exec_pe))
            self._app_succs.append(a.succs)
        self._inv_max_parents = 1.0 / max_parents
        self._pe_onehot = np.eye(n_c)[soc.pe_cluster]
        self.task_features = task_feature_names(self.cluster_names)
        self.pe_features = pe_feature_names(self.cluster_names)
        self.observation_space = self._make_space()
        self.action_space: spaces.Discrete = spaces.Discrete(self.n_actions)
        self.sim: SimView | None = None

    # ------------------------------------------------------------------ spaces
    def _make_space(self) -> spaces.Dict:
        m, f32 = self.max_tasks, np.float32
        n_f = len(self.task_features)
        if self.graph == "children":
            graph = spaces.Box(-1.0, m - 1, (m, self.max_children), f32)
        else:
            graph = spaces.Box(0.0, 1.0, (m, m), f32)
        glob_high = np.array([1, 1, 1, HIGH, HIGH, 1], dtype=f32)
        return spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (self.n_actions,), f32),
            "observations": spaces.Dict({
                "tasks": spaces.Box(0.0, HIGH, (m, n_f), f32),
                self.graph: graph,
                "task_mask": spaces.Box(0.0, 1.0, (m,), f32),
                "job_index": spaces.Box(0.0, self.n_lanes - 1, (m,), f32),
                "pes": spaces.Box(0.0, HIGH, (self.n_pes, len(self.pe_features)), f32),
                "global": spaces.Box(np.zeros(len(GLOBAL_FEATURES), f32), glob_high, None, f32),
            }),
        })

    # --------------------------------------------------------------- episode
    def reset(self, sim: SimView) -> None:
        """Start tracking a fresh simulation (before its first `advance()`)."""
        if sim.config is not self.config and sim.config != self.config:
            raise ConfigError("the simulation runs a different configuration than the builder's",
                              "ObservationBuilder.reset")
        self.sim = sim
        rows = self.n_lanes * self.n_max
        self._sentinel = rows  # padding target of child indices; always FREE
        self._slot_of_row = np.full(rows + 1, -1.0, dtype=np.float32)  # scratch of _graph_rows
        n_p = self.n_pes
        self._status = np.zeros(rows + 1, dtype=np.int8)
        # per-row floats: static features, then ready time, job arrival, parents left (count),
        # expected finish (running) and expected duration (bound)
        n_s = self._n_static
        self._RA, self._AR, self._PL, self._EF, self._EX = range(n_s, n_s + 5)
        self._data = np.zeros((rows + 1, n_s + 5))
        self._exec = np.full((rows + 1, n_p), np.inf)
        self._dr = np.zeros((rows + 1, n_p))
        self._children = np.full((rows + 1, self.max_children), rows, dtype=np.int64)
        self._lane_of_row = np.minimum(np.arange(rows + 1) // self.n_max, self.n_lanes - 1)
        self._lane_job: list[JobRun | None] = [None] * self.n_lanes
        self._lane_done = np.zeros(self.n_lanes)  # finished tasks per lane
        self._lane_size = np.ones(self.n_lanes)
        self._lane_rank = np.zeros(self.n_lanes)
        self._free_lanes = list(range(self.n_lanes - 1, -1, -1))  # pop() gives the lowest
        self._job_lane: dict[int, int] = {}
        self._cand_rows = np.zeros(0, dtype=np.int64)
        self._order_dirty = False
        self._queued: list[TaskRun] = []
        self._running: list[TaskRun] = []
        self._qwork = np.zeros(n_p)
        self._qlen = np.zeros(n_p)
        self._eft = EarliestFinishTime()
        self._eft.reset(sim, _EFT_RNG)
        self._slot_rows: np.ndarray | None = None
        self._mask = np.zeros(0, dtype=bool)
        self._has_choice = False
        self.overflow_tasks = 0  # unfinished tasks without a slot at the last observe()
        self.overflow_steps = 0  # observations so far that dropped tasks
        self.invalid_actions = 0

    def on_arrival(self, job: JobRun) -> None:
        """Give a newly injected job a lane and copy its static features (arrival hook)."""
        if not self._free_lanes:
            self._reclaim_finished_lanes()
        lane = self._free_lanes.pop()
        base = lane * self.n_max
        a = job.app.index
        n = job.app.n
        rows = slice(base, base + n)
        self._status[base:base + self.n_max] = FREE
        self._status[rows] = OUTSTANDING
        data = self._data
        data[rows] = 0.0
        data[rows, :self._n_static] = self._app_static[a]
        data[rows, self._AR] = job.arrival
        data[rows, self._PL] = self._app_parents[a]
        self._exec[rows] = self._app_exec[a]
        ch = self._app_children[a]
        self._children[rows] = np.where(ch >= 0, ch + base, self._sentinel)
        self._lane_job[lane] = job
        self._lane_done[lane] = 0.0
        self._lane_size[lane] = n
        self._job_lane[job.id] = lane
        self._order_dirty = True

    def _free_lane(self, lane: int) -> None:
        job = self._lane_job[lane]
        if job is not None:
            del self._job_lane[job.id]
        self._lane_job[lane] = None
        base = lane * self.n_max
        self._status[base:base + self.n_max] = FREE
        self._free_lanes.append(lane)
        self._free_lanes.sort(reverse=True)
        self._order_dirty = True

    def _reclaim_finished_lanes(self) -> None:
        """A job can finish and its successor arrive within one advance(): free done jobs now."""
        for lane, job in enumerate(self._lane_job):
            if job is not None and job.remaining == 0:  # done_at is set at every task finish
                self._free_lane(lane)
        if not self._free_lanes:
            raise RuntimeError("more jobs in flight than config.max_jobs_in_flight lanes")

    def sync(self) -> None:
        """Pick up what happened in the simulation since the last call: tasks that started,
        finished or became ready."""
        sim = self.sim
        assert sim is not None, "call reset(sim) first"
        status, n_max, job_lane = self._status, self.n_max, self._job_lane
        if self._queued:
            still = []
            for task in self._queued:
                if task.start >= 0:
                    self._qwork[task.pe] -= task.expected
                    self._qlen[task.pe] -= 1
                    lane = job_lane.get(task.job.id)
                    if lane is not None:
                        row = lane * n_max + task.index
                        status[row] = RUNNING
                        self._data[row, self._EF] = task.start + task.expected
                    self._running.append(task)
                else:
                    still.append(task)
            self._queued = still
        if self._running:
            still = []
            for task in self._running:
                if task.finish >= 0:
                    self._on_finished(task)
                else:
                    still.append(task)
            self._running = still
        for task in sim.ready:
            row = job_lane[task.job.id] * n_max + task.index
            if status[row] == OUTSTANDING:
                status[row] = READY
                self._data[row, self._RA] = task.ready_at
                self._dr[row] = sim.data_ready_times(task)

    def _on_finished(self, task: TaskRun) -> None:
        job = task.job
        lane = self._job_lane.get(job.id)
        if lane is None:  # lane already reclaimed for a newer job
            return
        base = lane * self.n_max
        self._status[base + task.index] = FREE
        self._lane_done[lane] += 1.0
        data, col = self._data, self._PL
        for s in self._app_succs[job.app.index][task.index]:
            data[base + s, col] -= 1.0
        if job.remaining == 0:
            self._free_lane(lane)

    # ------------------------------------------------------------ observation
    def _refresh_order(self) -> None:
        lanes = sorted((job.id, lane) for lane, job in enumerate(self._lane_job) if job is not None)
        n_max = self.n_max
        self._cand_rows = (np.concatenate([np.arange(lane * n_max, lane * n_max + n_max)
                                           for _, lane in lanes])
                           if lanes else np.zeros(0, dtype=np.int64))
        self._lane_rank[:] = 0
        for rank, (_, lane) in enumerate(lanes):
            self._lane_rank[lane] = rank
        self._order_dirty = False

    def observe(self) -> dict[str, Any]:
        """The observation of the current decision point (fresh arrays every call)."""
        sim = self.sim
        assert sim is not None, "call reset(sim) first"
        if self._order_dirty:
            self._refresh_order()
        now, m = sim.now, self.max_tasks
        idx, st, n_unfinished, n_ready_all = self._slot_selection()
        k = idx.size
        lanes = self._lane_of_row.take(idx)
        ready_pos = (st == READY).nonzero()[0]
        rr = idx.take(ready_pos)  # rows of the ready slots
        avail = self._eft.available
        task_mask = np.zeros(m, dtype=np.float32)
        task_mask[:k] = 1.0
        job_index = np.zeros(m, dtype=np.float32)
        job_index[:k] = self._lane_rank.take(lanes)
        return {
            "action_mask": self._action_mask(idx, ready_pos, rr),
            "observations": {
                "tasks": self._task_rows(idx, st, lanes, ready_pos, rr, avail, now),
                self.graph: self._graph_rows(idx),
                "task_mask": task_mask,
                "job_index": job_index,
                "pes": self._pe_rows(sim, avail, now),
                "global": self._global_row(sim, n_ready_all, n_unfinished, now),
            },
        }

    def _slot_selection(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(rows, statuses) of the slots, in slot order, with the counts of unfinished and
        ready tasks; beyond `max_tasks` unfinished tasks the ready ones are kept first."""
        m = self.max_tasks
        rows = self._cand_rows
        st_all = self._status[rows]
        live = st_all != FREE
        idx = rows[live]
        st = st_all[live]
        n_unfinished = idx.size
        n_ready_all = int(np.count_nonzero(st == READY))
        self.overflow_tasks = max(0, n_unfinished - m)
        if self.overflow_tasks:
            self.overflow_steps += 1
            ready_pos = np.flatnonzero(st == READY)[:m]
            other_pos = np.flatnonzero(st != READY)[:m - ready_pos.size]
            keep = np.sort(np.concatenate([ready_pos, other_pos]))
            idx, st = idx[keep], st[keep]
        return idx, st, n_unfinished, n_ready_all

    def _task_rows(self, idx: np.ndarray, st: np.ndarray, lanes: np.ndarray,
                   ready_pos: np.ndarray, rr: np.ndarray, avail: np.ndarray,
                   now: float) -> np.ndarray:
        """`observations["tasks"]`: static columns, status flags, then the time-dependent
        columns (waiting, job age, remaining, EFT), parents left and job progress."""
        k = idx.size
        rd = self._data.take(idx, axis=0)
        flags = _FLAGS.take(st, axis=0)
        n_s = self._n_static
        tasks = np.zeros((self.max_tasks, len(self.task_features)), dtype=np.float32)
        tasks[:k, :n_s] = rd[:, :n_s]
        tasks[:k, n_s:n_s + 4] = flags
        times = np.empty((k, 4))  # waiting, job age, remaining, eft (then / scale)
        times[:, 0] = (flags[:, 0] + flags[:, 1]) * (now - rd[:, self._RA])
        times[:, 1] = now - rd[:, self._AR]
        times[:, 2] = (flags[:, 2] * np.maximum(rd[:, self._EF] - now, 0.0)
                       + flags[:, 1] * rd[:, self._EX])
        times[:, 3] = 0.0
        if ready_pos.size:
            wait = np.maximum(np.maximum(self._dr.take(rr, axis=0), avail) - now, 0.0)
            times[ready_pos, 3] = (self._exec.take(rr, axis=0) + wait).min(axis=1)
        tasks[:k, n_s + 4:n_s + 8] = times * (1.0 / self.time_scale)
        tasks[:k, n_s + 8] = rd[:, self._PL] * self._inv_max_parents
        tasks[:k, n_s + 9] = (self._lane_done / self._lane_size).take(lanes)
        return tasks

    def _graph_rows(self, idx: np.ndarray) -> np.ndarray:
        """The graph entry: child slots per slot (-1 padding), or the (M, M) adjacency."""
        m, k = self.max_tasks, idx.size
        slot_of_row = self._slot_of_row  # -1 everywhere between calls
        slot_of_row[idx] = np.arange(k)
        if self.graph == "children":
            graph = np.full((m, self.max_children), -1.0, dtype=np.float32)
            graph[:k] = slot_of_row.take(self._children.take(idx, axis=0))
        else:
            graph = np.zeros((m, m), dtype=np.float32)
            child_slots = slot_of_row.take(self._children.take(idx, axis=0))
            parent, col = np.nonzero(child_slots >= 0)
            graph[parent, child_slots[parent, col].astype(np.int64)] = 1.0
        slot_of_row[idx] = -1.0
        return graph

    def _action_mask(self, idx: np.ndarray, ready_pos: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """The float action mask, remembering the boolean mask and slot rows for `act()`; a
        dummy action 0 is valid when no task is ready (e.g. in the terminal state)."""
        if self.action_mode == "task":
            mask = np.zeros(self.max_tasks, dtype=bool)
            mask[ready_pos] = True
        else:
            mask2 = np.zeros((self.max_tasks, self.n_pes), dtype=bool)
            mask2[ready_pos] = np.isfinite(self._exec.take(rr, axis=0))
            mask = mask2.reshape(-1)
        self._has_choice = bool(ready_pos.size)
        self._slot_rows = idx
        self._mask = mask.copy()
        action_mask = mask.astype(np.float32)
        if not self._has_choice:
            action_mask[0] = 1.0
        return action_mask

    def _pe_rows(self, sim: SimView, avail: np.ndarray, now: float) -> np.ndarray:
        """`observations["pes"]`: busy, time to free, queued work, queue length, EFT
        availability, cluster one-hot."""
        scale = self.time_scale
        pes = np.zeros((self.n_pes, len(self.pe_features)), dtype=np.float32)
        pes[:, 0] = [r is not None for r in sim.pe_running]
        pes[:, 1] = (sim.pe_expected_free() - now) / scale
        pes[:, 2] = np.maximum(self._qwork, 0.0) / scale
        pes[:, 3] = self._qlen / self.n_max
        pes[:, 4] = np.maximum(avail - now, 0.0) / scale
        pes[:, 5:] = self._pe_onehot
        return pes

    def _global_row(self, sim: SimView, n_ready_all: int, n_unfinished: int,
                    now: float) -> np.ndarray:
        """`observations["global"]`, in `GLOBAL_FEATURES` order."""
        cfg, m = self.config, self.max_tasks
        completed = sim.jobs_injected - sim.jobs_in_flight
        return np.array([
            min(now / cfg.duration_us, 1.0) if cfg.duration_us else 0.0,
            completed / cfg.max_jobs if cfg.max_jobs else 0.0,
            sim.jobs_in_flight / cfg.max_jobs_in_flight,
            n_ready_all / m,
            n_unfinished / m,
            1.0 if self.overflow_tasks else 0.0,
        ], dtype=np.float32)

    # ---------------------------------------------------------------- actions
    @property
    def has_choice(self) -> bool:
        """True if the last observation offers at least one real decision."""
        return self._has_choice

    def valid_actions(self) -> np.ndarray:
        """Indices of the valid actions of the last observation."""
        return np.flatnonzero(self._mask)

    def action_index(self, action: Any) -> int:
        """`action` as an index of `Discrete(n_actions)` (see `dssoc.env.actions.action_index`)."""
        return action_index(action, self.n_actions)

    def act(self, action: int | np.integer) -> tuple[TaskRun, int, bool]:
        """Decode `action` against the last observation, place the task (EFT in mode `task`) and
        record the binding. Returns (task, pe, was_valid). An action outside the action space
        raises `InvalidActionError`; one the mask rules out raises too, or with
        `invalid_action="replace"` is replaced by the first valid one (counted in
        `invalid_actions`). The caller binds it in the engine."""
        sim = self.sim
        if sim is None or self._slot_rows is None or not self._has_choice:
            raise RuntimeError("no ready task to schedule: call observe() at a decision point "
                               "(or reset() after the episode ended)")
        a, valid = resolve_action(action, self._mask, self.invalid_action)
        if not valid:
            self.invalid_actions += 1
        slot, pe = (a, -1) if self.action_mode == "task" else divmod(a, self.n_pes)
        row = int(self._slot_rows[slot])
        lane = row // self.n_max
        job = self._lane_job[lane]
        assert job is not None
        task = job.tasks[row - lane * self.n_max]
        if pe < 0:
            [(task, pe)] = self._eft.schedule([task], sim)
        else:
            finish = earliest_finish(task, sim, self._eft.available)
            self._eft.commit(pe, float(finish[pe]))
        expected = float(self._exec[row, pe])
        self._status[row] = QUEUED
        self._data[row, self._EX] = expected
        self._qwork[pe] += expected
        self._qlen[pe] += 1
        self._queued.append(task)
        self._slot_rows = None
        self._has_choice = False
        return task, int(pe), valid
