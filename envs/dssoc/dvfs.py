"""DVFS governors with DS3's semantics, and the controller the engine consults when they matter.

Governors (per cluster; DS3's `DVFS_mode`, domain.md section 4):

* `performance`: the highest operating point (OPP), always. The default; with every cluster at
  `performance` the engine never builds a controller and runs exactly as without DVFS.
* `powersave`: the lowest OPP, always.
* `constant-<MHz>`: a pinned OPP (the frequency must be one of the cluster's OPPs, as in DS3).
* `ondemand`: starts at the highest OPP; at every sampling instant (multiples of 10 us, from
  10 us on) the cluster's utilisation over the last window decides: above 0.8 -> highest OPP,
  below 0.3 -> one OPP down, otherwise unchanged. As in DS3, the utilisation is the mean busy
  fraction of the cluster's cores times its number of active cores (so the *sum* of the cores'
  busy fractions), a finished task counting up to its truncated (integer) finish time.

Execution: profiled times are at f_max; a task's remaining work (in f_max microseconds) runs
`f_max / f` times slower at frequency f. Frequencies change only at sampling instants, so the
controller rescales the remaining work of the running tasks of a cluster whose frequency changes
and reschedules their completion (the superseded completion event is invalidated by a per-PE
generation number). DS3 advances a task window by window with float arithmetic, so a task's
finish time can be fractional (37.33 us): its completion is seen by DS3's scheduler tick at the
next whole microsecond and recorded as the truncated time (DS3's `int(env.now)`), while the
job's latency keeps the fractional finish; the controller does the same.

Optional thermal throttling (DS3's `enable_throttling`): every 20 us the hottest hotspot of the
energy meter's thermal model is compared with the trip temperatures 85/90/95 C (hysteresis 3 C);
above trip point k every cluster is capped at its `trip_freq[k]` (-1: no cap). Unlike DS3, where
the throttled frequency is overwritten by the next ondemand decision, the cap here holds until the
temperature falls below the trip point minus the hysteresis.

ondemand's decision, as in DS3: DS3 decides once per cluster and sampling instant, when the
*first* of its cores is evaluated (its DTPM `evaluate_PE`, in SimPy's event order); only that
core's utilisation is of the window just ended, the others still hold the value of the previous
instant. The controller reproduces the order (`first_evaluated`: busy cores whose step ends at
the instant, by start, then idle cores in PE order, then cores started one tick before) and the
stale values. Measured against DS3 with every core's window counting instead, the rule moves
DS3's streaming latency by about 1 % on average and single runs by up to 4.4 % (docs/simulator.md).

Completions are queued in DS3's order within each microsecond (`_push_in_ds3_order`): with it
and the first-core rule, every run of DS3's governor load study (tests/data/ds3_reference.json)
is DS3's run, latency, jobs and energy.

Where the controller still differs from DS3: DS3's throttled frequency is overwritten by the
next ondemand decision, the cap here holds (above).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from dssoc.errors import ConfigError
from dssoc.governors import GOVERNOR_FORMS, check_governor, parse_governor  # noqa: F401  (re-exported)
from dssoc.runtime import DEFERRED, NORMAL, completes_after_tick

if TYPE_CHECKING:
    from dssoc.energy import EnergyMeter
    from dssoc.model import SoC
    from dssoc.runtime import JobRun, TaskRun

UTIL_HIGH, UTIL_LOW = 0.8, 0.3  # DS3's ondemand thresholds
SAMPLING_US = 10
THERMAL_PERIOD_US = 20
TRIP_TEMPERATURES_C = (85.0, 90.0, 95.0)
TRIP_HYSTERESIS_C = (3.0, 3.0, 3.0)
DVFS_DONE, DVFS_TICK = 4, 5  # engine event kinds handled here
# heap priorities of the controller's completions (engine: DEFERRED 0 < NORMAL 1): between two
# ticks, and at a whole microsecond after that instant's arrivals (see _push_in_ds3_order)
FRACTIONAL, WHOLE = 0.5, 1.5


def governor_assignment(spec: str | dict[str, str], cluster_names: list[str] | tuple[str, ...],
                        where: str = "governor") -> dict[str, str]:
    """Which governor each cluster gets from `spec`.

    `"powersave"` sets every cluster; `"A7=powersave,A15=ondemand"` sets those clusters; a bare
    name and `CLUSTER=NAME` items can be mixed (`"ondemand,A15=performance"`), later items win.
    A dict maps cluster names to governors.
    """
    items: list[tuple[str | None, str]] = []
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        for part in (p.strip() for p in str(spec).split(",")):
            if not part:
                continue
            if "=" in part:
                k, v = part.split("=", 1)
                items.append((k.strip(), v.strip()))
            else:
                items.append((None, part))
    if not items:
        raise ConfigError(f"empty governor setting; expected {GOVERNOR_FORMS} or CLUSTER=NAME", where)
    out: dict[str, str] = {}
    for cluster, gov in items:
        name = parse_governor(gov, where)
        if cluster is None:
            out = dict.fromkeys(cluster_names, name)
        elif cluster not in cluster_names:
            raise ConfigError(f"unknown cluster {cluster!r} (this SoC has {', '.join(cluster_names)})",
                              where)
        else:
            out[cluster] = name
    return out


def apply_governors(soc: SoC, spec: str | dict[str, str], where: str = "governor") -> SoC:
    """A copy of `soc` with the governors of `spec` (see `governor_assignment`) set."""
    from dataclasses import replace

    names = [c.name for c in soc.clusters]
    chosen = governor_assignment(spec, names, where)
    clusters = []
    for c in soc.clusters:
        if c.name in chosen:
            try:
                c = replace(c, governor=chosen[c.name])
            except ConfigError as e:
                raise ConfigError(str(e), where) from None
        clusters.append(c)
    return replace(soc, clusters=tuple(clusters))


def needs_controller(soc: SoC, throttling: bool) -> bool:
    """Whether a run needs the DVFS controller (some cluster off `performance`, or throttling)."""
    return throttling or any(c.governor != "performance" for c in soc.clusters)


def governors_of(soc: SoC) -> str:
    """Compact description of the governors: `performance`, or `A7=powersave,A15=ondemand,...`."""
    govs = [c.governor for c in soc.clusters]
    if len(set(govs)) == 1:
        return govs[0]
    return ",".join(f"{c.name}={c.governor}" for c in soc.clusters)


def trip_state(temp_c: float, state: int) -> int:
    """DS3's throttling state after a temperature reading: -1 (none) or the trip point k in force.
    A state k is entered above trip k and left (to k - 1) below trip k minus its hysteresis."""
    for k, trip in enumerate(TRIP_TEMPERATURES_C):
        if temp_c > trip and state < k:
            state = k
        elif state == k and temp_c < trip - TRIP_HYSTERESIS_C[k]:
            state = k - 1
    return state


def _snap(t: float) -> float:
    """Float noise of the window-by-window arithmetic: 34.99999999 us is 35 us."""
    r = round(t)
    return float(r) if abs(t - r) < 1e-9 else t


class _TimingFlags(Protocol):
    @property
    def integer_times(self) -> bool: ...
    @property
    def ds3_event_order(self) -> bool: ...


class DvfsHost(Protocol):
    """The engine as the controller sees it (`dssoc.engine.Simulation`): its platform, meter and
    running tasks, and the two engine calls the controller makes (queue an event, end a task)."""

    soc: SoC
    @property
    def config(self) -> _TimingFlags: ...

    n_pes: int
    pe_cluster: np.ndarray
    meter: EnergyMeter | None
    pe_running: list[TaskRun | None]
    active_jobs: dict[int, JobRun]
    now: float
    _arrivals_open: bool

    def _push(self, t: float, kind: int, payload: object, prio: int = ...) -> None: ...

    def push_ordered(self, t: float, prio: float, order: int, kind: int, payload: object) -> None: ...

    def _on_done(self, task: TaskRun) -> None: ...


class DvfsController:
    """Per-cluster operating points of one run, driven by the engine's task starts and by its own
    sampling-instant events (`DVFS_TICK`), and owner of the completion events (`DVFS_DONE`) of the
    tasks it times.

    `trajectory` lists every frequency change as (time us, cluster index, MHz); it starts with
    each cluster's initial frequency at time 0.
    """

    def __init__(self, sim: DvfsHost, throttling: bool = False) -> None:
        self.sim = sim
        soc = sim.soc
        self.throttling = throttling
        if throttling and sim.meter is None:
            raise ConfigError("thermal throttling needs the energy model (energy=True and power "
                              "data): it reads the meter's temperature", "config.throttling")
        self.integer = sim.config.integer_times
        self.ds3_order = sim.config.ds3_event_order
        self.opps = [tuple(c.power.opps) if c.power is not None else () for c in soc.clusters]
        self.governor = [c.governor for c in soc.clusters]
        self.trip = [tuple(c.power.trip_freq) if c.power is not None else () for c in soc.clusters]
        self.fmax = [o[-1][0] if o else 0 for o in self.opps]
        self.members = [[p for p, k in enumerate(sim.pe_cluster) if k == c] for c in range(len(self.opps))]
        self.pc = [int(c) for c in sim.pe_cluster]
        n_pes = sim.n_pes
        self.rem = [0.0] * n_pes  # remaining work (f_max us) of the running task, as of upd[pe]
        self.upd = [0.0] * n_pes
        self.gen = [0] * n_pes
        self.done_log: list[list[tuple[float, float]]] = [[] for _ in range(n_pes)]
        self.policy = [self._initial_level(c) for c in range(len(self.opps))]  # governor's choice
        self.cap: list[int | None] = [None] * len(self.opps)  # throttling cap (MHz)
        self.throttle_state = -1
        self.level = list(self.policy)
        self.ratio = [self._ratio(c, self.level[c]) for c in range(len(self.opps))]
        self.dynamic = throttling or "ondemand" in self.governor
        self._armed = False
        # DS3's per-core utilisation as of the previous sampling instant (see _decision_utilization)
        self.last_util = [0.0] * n_pes
        self.last_tick = -math.inf
        self.trajectory: list[tuple[float, int, int]] = [
            (0.0, c, self.frequency_mhz(c)) for c in range(len(self.opps))]
        meter = sim.meter
        for c in range(len(self.opps)):
            if self.opps[c] and self.level[c] != len(self.opps[c]) - 1 and meter is not None:
                meter.set_opp(c, *self.opps[c][self.level[c]])
        if self.dynamic:
            self._arm(0.0)

    # ------------------------------------------------------------------ state
    def _initial_level(self, c: int) -> int:
        opps, g = self.opps[c], self.governor[c]
        if not opps:
            return 0
        if g == "powersave":
            return 0
        if g.startswith("constant-"):
            mhz = int(g.split("-")[1])
            return [f for f, _ in opps].index(mhz)
        return len(opps) - 1  # performance, ondemand

    def _ratio(self, c: int, level: int) -> float:
        opps = self.opps[c]
        return 1.0 if not opps else self.fmax[c] / opps[level][0]

    def frequency_mhz(self, c: int) -> int:
        """Current frequency of cluster c (MHz; 0 for a cluster without operating points)."""
        opps = self.opps[c]
        return opps[self.level[c]][0] if opps else 0

    def slowdown(self, c: int) -> float:
        """f_max / f of cluster c now: how much longer than profiled a task would take."""
        return self.ratio[c]

    # ------------------------------------------------------------------ tasks
    def start(self, task: TaskRun, pe: int, now: float, work: float) -> None:
        """A task starts on `pe` with `work` f_max-microseconds to do: time and schedule it."""
        r = self.ratio[self.pc[pe]]
        self.rem[pe] = work
        self.upd[pe] = now
        finish = now + work if r == 1.0 else _snap(now + (work + work * (r - 1.0)))
        self._schedule_done(task, pe, finish)
        if self.sim.meter is not None:
            self.sim.meter.start(pe, now, finish)
        if self.dynamic and not self._armed:
            self._arm(now)

    def _schedule_done(self, task: TaskRun, pe: int, finish: float) -> None:
        task.duration = finish - task.start
        self.gen[pe] += 1
        payload = (task, self.gen[pe])
        if not self.integer:
            self.sim._push(finish, DVFS_DONE, payload, NORMAL)
        elif finish == int(finish):
            if self.ds3_order and completes_after_tick(task.start, finish):
                self.sim._push(finish + 1, DVFS_DONE, payload, DEFERRED)
            else:
                self._push_in_ds3_order(finish, WHOLE, 0, task, payload)
        else:  # between two DS3 ticks: seen by the next one
            t = float(math.ceil(finish))
            self._push_in_ds3_order(t, FRACTIONAL, round((finish - (t - 1.0)) * 1e6), task, payload)

    def _push_in_ds3_order(self, t: float, prio: float, frac: int, task: TaskRun,
                           payload: tuple[TaskRun, int]) -> None:
        """Queue a completion seen at whole microsecond t in the order DS3 handles it.

        DS3 handles a completion at the task's own finish time, in SimPy's event order, and its
        scheduler tick at t sees the ready list in that order (which decides ETF's ties when a
        saturated SoC at a low frequency ends many equal tasks together). Completions between
        t - 1 and t (priority FRACTIONAL, between the engine's DEFERRED and NORMAL) come in the
        order of their finish times (`frac`, in 1e-6 us). Equal finish times come in the order
        of the tasks' last steps, which is that of their starts: start time, then DS3's
        job-ordered executable list (job id, binding order). Completions at t itself (priority
        WHOLE) come after t's arrivals: DS3's generator queued an arrival at the previous one,
        while a task's last step is queued at its last sampling instant, at most 10 us before.
        In place of the heap's push counter the entry carries that order as an integer key
        (unique: it ends with the task's generation).
        """
        key = ((((frac * 10**9 + int(task.start)) * 10**7 + task.job.id) * 10**9 + task.seq)
               * 10**6 + payload[1] % 10**6)
        # the engine's priorities are ints; ours sit between and after them (floats compare fine)
        self.sim.push_ordered(t, prio, key, DVFS_DONE, payload)

    def handle(self, kind: int, payload: object) -> None:
        """An event of the controller's own kinds, popped by the engine at `sim.now`."""
        if kind == DVFS_DONE:
            task, gen = cast("tuple[TaskRun, int]", payload)
            pe = task.pe
            if gen != self.gen[pe] or self.sim.pe_running[pe] is not task:
                return  # superseded by a rescheduled completion
            finish = task.start + task.duration
            end = math.floor(finish) if self.integer else finish
            if self.dynamic:  # only ondemand (and agents) read utilisation; pruned at each tick
                self.done_log[pe].append((task.start, end))
            self.sim._on_done(task)
            if self.integer:
                task.finish = float(end)  # DS3 records int(now) as the task's finish
        else:
            self._tick(self.sim.now)

    # --------------------------------------------------------------- sampling
    def _arm(self, now: float) -> None:
        nxt = (math.floor(now / SAMPLING_US) + 1) * SAMPLING_US
        self._armed = True
        self.sim._push(float(nxt), DVFS_TICK, None, DEFERRED)

    def busy_us(self, pe: int, b: float) -> float:
        """Busy time of `pe` in the window (b - 10, b], as DS3 counts it (truncated finishes)."""
        lb = b - SAMPLING_US
        total = 0.0
        for s, f in self.done_log[pe]:
            if f >= lb:
                total += f - max(s, lb)
        task = self.sim.pe_running[pe]
        if task is not None and task.start <= b:
            fin = task.start + task.duration
            end = b if fin > b else (math.floor(fin) if self.integer else fin)
            if end >= lb:
                total += end - max(task.start, lb)
        return total

    def first_evaluated(self, c: int, b: float) -> int:
        """The core of cluster c that DS3 evaluates first at sampling instant b (SimPy's order).

        DS3's scheduler tick at b was queued at b - 1. Before it come the busy cores whose step
        ends at b, queued earlier: those running a task started at b - 2 or before, in the order
        of their starts (start time, then the job-ordered executable list: job id, binding
        order). Then the tick evaluates the idle cores in PE order. Last come the cores whose
        task started at b - 1, whose first step was queued after the tick.
        """
        running = self.sim.pe_running
        busy, late, idle = [], [], []
        for pe in self.members[c]:
            task = running[pe]
            if task is None or task.start + task.duration < b:
                idle.append(pe)  # ended before b (fractional ends count as before the tick)
            elif task.start <= b - 2:
                busy.append((task.start, task.job.id, task.seq, pe))
            else:
                late.append((task.start, task.job.id, task.seq, pe))
        if busy:
            return min(busy)[3]
        if idle:
            return idle[0]
        return min(late)[3]

    def _decision_utilization(self, c: int, b: float, fresh: dict[int, float]) -> float:
        """DS3's ondemand utilisation of cluster c at b: DS3 decides once per cluster and instant,
        when the first of its cores is evaluated (its DTPM `evaluate_PE`), so only that core's
        busy fraction is of the window just ended; the other cores still hold the value computed
        at the previous instant (0 if no tick ran there: the SoC was idle then)."""
        first = self.first_evaluated(c, b)
        stale = self.last_tick == b - SAMPLING_US
        return fresh[first] + sum(self.last_util[pe] for pe in self.members[c]
                                  if pe != first and stale)

    def _tick(self, b: float) -> None:
        self._armed = False
        sim = self.sim
        if not sim.active_jobs and not sim._arrivals_open:
            return  # the run is over: charge nothing more
        fresh: dict[int, float] = {}
        for c, g in enumerate(self.governor):
            if g == "ondemand" and self.opps[c]:
                for pe in self.members[c]:
                    fresh[pe] = self.busy_us(pe, b) / SAMPLING_US
        for c, g in enumerate(self.governor):
            if g != "ondemand" or not self.opps[c]:
                continue
            u = self._decision_utilization(c, b, fresh)
            if u > UTIL_HIGH:
                self.policy[c] = len(self.opps[c]) - 1
            elif u < UTIL_LOW and self.policy[c] > 0:
                self.policy[c] -= 1
        if self.throttling and b % THERMAL_PERIOD_US == 0:
            self._throttle(sim.meter.temperature_c)  # type: ignore[union-attr]
        for pe, u in fresh.items():
            self.last_util[pe] = u
        self.last_tick = b
        for c in range(len(self.opps)):
            level = self._effective_level(c)
            if level != self.level[c]:
                self._set_level(c, level, b)
        for log in self.done_log:
            if log:
                log[:] = [x for x in log if x[1] >= b]
        running = any(t is not None for t in sim.pe_running)
        settled = all(self.governor[c] != "ondemand" or self.policy[c] == 0 for c in range(len(self.opps)))
        if self.throttling or running or not settled:
            self._arm(b)

    def _throttle(self, temp: float) -> None:
        state = self.throttle_state = trip_state(temp, self.throttle_state)
        for c in range(len(self.opps)):
            caps = self.trip[c]
            cap = caps[state] if 0 <= state < len(caps) else -1
            self.cap[c] = None if cap == -1 else cap

    def _effective_level(self, c: int) -> int:
        level, cap, opps = self.policy[c], self.cap[c], self.opps[c]
        if cap is not None and opps:
            while level > 0 and opps[level][0] > cap:
                level -= 1
        return level

    def set_policy_level(self, c: int, level: int, now: float) -> None:
        """Pin cluster c's operating point from outside (the RL frequency action): it holds from
        the next sampling instant, as a governor's decision would."""
        if not self.opps[c]:
            return
        self.policy[c] = max(0, min(int(level), len(self.opps[c]) - 1))
        self.governor[c] = "userspace"  # an agent now owns this cluster
        self.dynamic = True
        if not self._armed:
            self._arm(now)

    def _set_level(self, c: int, level: int, b: float) -> None:
        """Move cluster c to OPP `level` at sampling instant b, rescaling its running tasks."""
        meter = self.sim.meter
        if meter is not None:
            meter.advance_to(b)
        old, new = self.ratio[c], self._ratio(c, level)
        for pe in self.members[c]:
            task = self.sim.pe_running[pe]
            if task is None or task.start + task.duration <= b:
                continue
            self.rem[pe] -= (b - self.upd[pe]) / old
            self.upd[pe] = b
            rem = self.rem[pe]
            finish = _snap(b + (rem + rem * (new - 1.0)))
            self._schedule_done(task, pe, finish)
            if meter is not None:
                meter.retime(pe, finish)
        self.level[c] = level
        self.ratio[c] = new
        f, mv = self.opps[c][level]
        if meter is not None:
            meter.set_opp(c, f, mv)
        self.trajectory.append((b, c, f))
