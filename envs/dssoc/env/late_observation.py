"""The observation of `dssoc/SoCSched-v1` (late binding): live state, pair features, action mask.

Layout (stable; all float32; R = `max_ready` ready slots, P = PEs, C = clusters, J =
`max_jobs_in_flight`; times divided by `time_scale`, "now"-relative times clipped at 0):

- `action_mask` (R*P + 1,): entry r*P + p binds ready slot r to PE p (valid when the slot holds a
  task, PE p can run it and p is free); the last entry, `wait`, is valid when some PE is busy or
  has a bound task (so waiting always lets time advance). Never all zero.
- `observations`:
  - `pairs` (R, P, 4): per (ready slot, PE): supported, expected execution time, data-ready time
    - now, expected finish on live availability - now (exec + max(data ready, now, PE live
    available) - now); 0 where unsupported or on empty slots.
  - `ready` (R, 8): per ready slot: occupied, best execution time, best-time rank (critical path
    from the task to its job's end on the fastest PEs), time since ready, job age, job expected
    remaining critical path, fraction of the job's tasks done, job position by age / (J - 1).
  - `pes` (P, 6 + C): free, busy (running), running task's elapsed time, its expected remaining
    time, expected work bound and waiting, live availability - now, cluster one-hot.
  - `clusters` (C, 3): realized/expected duration ratio, mean over the cluster's last
    `ratio_window` completed tasks (1 before any), samples in the window / `ratio_window`, fraction
    of the cluster's PEs free. The ratio is what makes persistent slowdowns observable.
  - `global` (6,): jobs in system / J, ready tasks / R (may exceed 1), ready tasks without a slot
    / R, elapsed fraction of duration_us (0 when unset), completed fraction of max_jobs (0 when
    unset), fraction of PEs free.

Ready slots hold the ready tasks ordered by (job id, task index); beyond R they are dropped from
the observation (counted as overflow) and cannot be chosen until a slot frees.
The stale DS3 `available_time` estimate of v0 is deliberately absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from dssoc.config import SimConfig
from dssoc.errors import ConfigError

if TYPE_CHECKING:
    from dssoc.runtime import TaskRun
    from dssoc.view import SimView

HIGH = float(np.finfo(np.float32).max)
PAIR_FEATURES = ("supported", "exec", "data_ready", "finish")
READY_FEATURES = ("occupied", "best_time", "rank", "waiting", "job_age", "job_remaining_cp",
                  "job_progress", "job_position")
PE_FEATURES = ("free", "busy", "elapsed", "expected_remaining", "queued_work", "available")
CLUSTER_FEATURES = ("duration_ratio", "ratio_samples", "free_fraction")
GLOBAL_FEATURES = ("jobs_in_system", "ready_tasks", "overflow", "elapsed_fraction",
                   "completed_fraction", "free_pes")
DEFAULT_MAX_READY = 32
DEFAULT_RATIO_WINDOW = 16


def valid_actions(obs: dict[str, Any]) -> np.ndarray:
    """Indices of the valid actions of a v1 (or v0) observation, ascending."""
    return np.flatnonzero(np.asarray(obs["action_mask"]) > 0.5)


class LateObservation:
    """Builds v1 observations from a late-binding simulation's `SimView` and decodes actions."""

    def __init__(self, config: SimConfig, *, max_ready: int | None = None, time_scale: float,
                 ratio_window: int | None = None) -> None:
        self.config = config
        self.max_ready = int(max_ready) if max_ready is not None else DEFAULT_MAX_READY
        if self.max_ready < 1:
            raise ConfigError(f"must be >= 1, got {max_ready}", "max_ready")
        self.ratio_window = int(ratio_window) if ratio_window is not None else DEFAULT_RATIO_WINDOW
        if self.ratio_window < 1:
            raise ConfigError(f"must be >= 1, got {ratio_window}", "ratio_window")
        self.time_scale = float(time_scale)
        soc = config.soc
        self.n_pes = soc.n_pes
        self.n_clusters = len(soc.clusters)
        self.cluster_names = tuple(c.name for c in soc.clusters)
        self.pe_cluster = np.asarray(soc.pe_cluster)
        self._cluster_of = [int(c) for c in soc.pe_cluster]
        self._cluster_size = np.bincount(self.pe_cluster, minlength=self.n_clusters).astype(float)
        self._pe_onehot = np.eye(self.n_clusters, dtype=np.float32)[self.pe_cluster]
        # cluster x PE, rows summing to 1: free PEs per cluster as a fraction, by one matmul
        self._onehot_t = (self._pe_onehot / self._cluster_size[self.pe_cluster][:, None]).T.astype(float)
        self._pes = np.zeros((self.n_pes, len(PE_FEATURES) + self.n_clusters), dtype=np.float32)
        self._pes[:, len(PE_FEATURES):] = self._pe_onehot
        self.n_actions = self.max_ready * self.n_pes + 1
        self.wait_action = self.n_actions - 1
        self.n_jobs = config.max_jobs_in_flight
        self.observation_space = self._make_space()
        self.action_space: spaces.Discrete = spaces.Discrete(self.n_actions)
        self.sim: SimView | None = None

    def _make_space(self) -> spaces.Dict:
        r, p, c, f32 = self.max_ready, self.n_pes, self.n_clusters, np.float32
        return spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (self.n_actions,), f32),
            "observations": spaces.Dict({
                "pairs": spaces.Box(0.0, HIGH, (r, p, len(PAIR_FEATURES)), f32),
                "ready": spaces.Box(0.0, HIGH, (r, len(READY_FEATURES)), f32),
                "pes": spaces.Box(0.0, HIGH, (p, len(PE_FEATURES) + c), f32),
                "clusters": spaces.Box(0.0, HIGH, (c, len(CLUSTER_FEATURES)), f32),
                "global": spaces.Box(0.0, HIGH, (len(GLOBAL_FEATURES),), f32),
            }),
        })

    # --------------------------------------------------------------- episode
    def reset(self, sim: SimView) -> None:
        self.sim = sim
        k = self.ratio_window
        self._ring = [[0.0] * k for _ in range(self.n_clusters)]
        self._ring_pos = [0] * self.n_clusters
        self._ring_n = [0] * self.n_clusters
        self._ring_sum = [0.0] * self.n_clusters
        self._inflight: list[TaskRun] = []
        self.slots: list[TaskRun] = []
        self.mask = np.zeros(self.n_actions, dtype=bool)
        self.overflow_ready = 0
        self.invalid_actions = 0

    def bound(self, task: TaskRun) -> None:
        """Record a binding, so its realized duration enters the cluster's ratio when it ends."""
        self._inflight.append(task)

    def collect(self) -> None:
        """Move finished bound tasks' realized/expected ratios into their clusters' windows."""
        still = []
        k = self.ratio_window
        for task in self._inflight:
            if task.finish < 0:
                still.append(task)
            elif task.expected > 0:
                c = self._cluster_of[task.pe]
                pos = self._ring_pos[c]
                ratio = task.duration / task.expected
                ring = self._ring[c]
                self._ring_sum[c] += ratio - ring[pos]  # the slot holds 0 until the window fills
                ring[pos] = ratio
                self._ring_pos[c] = (pos + 1) % k
                if self._ring_n[c] < k:
                    self._ring_n[c] += 1
        self._inflight = still

    def cluster_ratio(self) -> np.ndarray:
        """Mean realized/expected duration per cluster over the recent window (1 before any)."""
        return np.array([total / n if n else 1.0 for total, n in zip(self._ring_sum, self._ring_n,
                                                                       strict=True)])

    # ---------------------------------------------------------------- observe
    def observe(self, terminal: bool = False) -> dict[str, Any]:
        """The observation of the current instant; in the `terminal` one no task is offered and
        only `wait` is valid. Remembers the slots and the mask for `decode`."""
        sim = self.sim
        assert sim is not None, "reset() was not called"
        now = sim.now
        pe, avail = self._pe_rows(sim, now)
        free = pe[:, 0] > 0.5
        n_free = int(np.count_nonzero(free))
        ready = sorted(sim.ready, key=lambda t: (t.job.id, t.index)) if not terminal else []
        slots = ready[:self.max_ready]
        self.slots = slots
        self.overflow_ready = len(ready) - len(slots)
        pairs = np.zeros((self.max_ready, self.n_pes, len(PAIR_FEATURES)), dtype=np.float32)
        feats = np.zeros((self.max_ready, len(READY_FEATURES)), dtype=np.float32)
        mask = np.zeros(self.n_actions, dtype=bool)
        if slots:
            sup = self._pair_rows(sim, slots, avail, now, pairs)
            mask[:len(slots) * self.n_pes] = (sup & free).ravel()
            feats[:len(slots)] = self._ready_rows(sim, slots, now)
        mask[-1] = terminal or n_free < self.n_pes
        self.mask = mask
        pes = self._pes.copy()
        pes[:, :len(PE_FEATURES)] = pe
        return {"action_mask": mask.astype(np.float32),
                "observations": {"pairs": pairs, "ready": feats, "pes": pes,
                                 "clusters": self._cluster_rows(free),
                                 "global": self._global_row(sim, len(ready), n_free, now)}}

    def _pe_rows(self, sim: SimView, now: float) -> tuple[np.ndarray, np.ndarray]:
        """The PE features (free, busy, elapsed, expected remaining, queued work, available -
        now; times scaled) from one pass over the live state, and the absolute live
        availability per PE (when its running and bound tasks are expected to be done)."""
        rows = []
        for run, queue in zip(sim.pe_running, sim.pe_waiting(), strict=True):
            if run is None:
                if not queue:
                    rows.append((1.0, 0.0, 0.0, 0.0, 0.0, now))
                    continue
                t, busy, elapsed = now, 0.0, 0.0
            else:
                t = run.start + run.expected
                if t < now:
                    t = now
                busy, elapsed = 1.0, now - run.start
            left = t - now
            work = 0.0
            for task in queue:
                t = max(t, task.data_at) + task.expected
                work += task.expected
            rows.append((0.0, busy, elapsed, left, work, t))
        pe = np.array(rows)
        avail = pe[:, 5].copy()
        pe[:, 5] -= now
        pe[:, 2:] *= 1.0 / self.time_scale
        return pe, avail

    def _pair_rows(self, sim: SimView, slots: list[TaskRun], avail: np.ndarray, now: float,
                   pairs: np.ndarray) -> np.ndarray:
        """Fill the (slot, PE) features of the occupied slots into `pairs`; returns where each
        slot's task is supported."""
        ex = np.array([sim.exec_times(t) for t in slots])
        start = np.array([sim.data_ready_times(t) for t in slots])
        np.maximum(start, now, out=start)
        sup = ex < np.inf
        exz = np.where(sup, ex, 0.0)
        block = pairs[:len(slots)]
        block[:, :, 0] = sup
        block[:, :, 1] = exz
        start -= now
        block[:, :, 2] = start
        np.maximum(start, avail - now, out=start)
        start += exz
        block[:, :, 3] = start
        block[:, :, 1:] *= sup[:, :, None] * (1.0 / self.time_scale)  # zero where unsupported
        return sup

    def _ready_rows(self, sim: SimView, slots: list[TaskRun],
                    now: float) -> list[tuple[float, ...]]:
        """The per-slot features (`READY_FEATURES` order) of the occupied slots."""
        scale = 1.0 / self.time_scale
        remaining = sim.jobs_remaining_critical_path()
        position = {jid: k for k, jid in enumerate(sim.active_jobs)}
        denom = 1.0 / max(self.n_jobs - 1, 1)
        return [(1.0, sim.best_time(t) * scale, sim.best_time_rank(t) * scale,
                 (now - t.ready_at) * scale, (now - t.job.arrival) * scale,
                 remaining.get(t.job.id, 0.0) * scale,
                 (t.job.app.n - t.job.remaining) / t.job.app.n,
                 min(position.get(t.job.id, 0) * denom, 1.0)) for t in slots]

    def _cluster_rows(self, free: np.ndarray) -> np.ndarray:
        """Per cluster: mean duration ratio over the window (1 before any), window fill, free
        fraction."""
        k = self.ratio_window
        free_c = self._onehot_t @ free
        return np.array([(total / n if n else 1.0, n / k, f) for total, n, f in
                         zip(self._ring_sum, self._ring_n, free_c.tolist(), strict=True)],
                        dtype=np.float32)

    def _global_row(self, sim: SimView, n_ready: int, n_free: int, now: float) -> np.ndarray:
        """`observations["global"]`, in `GLOBAL_FEATURES` order."""
        cfg, r_max = self.config, self.max_ready
        return np.array([
            sim.jobs_in_flight / self.n_jobs, n_ready / r_max, self.overflow_ready / r_max,
            min(now / cfg.duration_us, 1.0) if cfg.duration_us else 0.0,
            (sim.jobs_injected - sim.jobs_in_flight) / cfg.max_jobs if cfg.max_jobs else 0.0,
            n_free / self.n_pes,
        ], dtype=np.float32)

    def decode(self, action: int | np.integer) -> tuple[TaskRun, int] | None:
        """The (task, PE) of a valid pair action, or None for `wait`."""
        a = int(action)
        if a == self.wait_action:
            return None
        r, p = divmod(a, self.n_pes)
        return self.slots[r], p
