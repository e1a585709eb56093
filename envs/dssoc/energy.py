"""DS3's energy accounting at the performance governor, event-driven.

What DS3 does (DTPM.py, DTPM_power_models.py, processing_element.py, DASH_Sim_core.py):

* Time is cut into 10 us sampling windows. A running task is charged step by step: from its start
  to the next window boundary, then window by window, the last step ending with the task. Each
  step is charged *when it starts*, for its whole length, at a per-core power frozen for the step:
  ``dyn + leak`` with ``dyn = s * (row[n-1] - leak * len(row)) / n``, where ``row`` is the power
  profile of the first frequency threshold >= the current frequency, ``n`` the number of busy
  cores of the cluster at that instant (the new core included) and ``s = f V^2 / (f_th V_th^2)``
  (1 at the performance governor). Staggered starts are therefore over-charged: the first core to
  start keeps the 1-core power until the next boundary while the others start at 2, 3, ... cores.
* At every boundary, every PE that is not running across it is charged ``leak`` for the whole
  window (tasks that end at a boundary, or start at it, count as idle there), and every PE, busy
  or not, gets ``(P_mem + P_GPU) * 10 us / N`` (N = non-memory PEs; the memory pseudo-PE gets
  nothing, its share is skipped with its leakage in DTPM's ``evaluate_idle_PEs``): the base power
  is ``0.1674 W``.
* Leakage per core = cluster leakage / 4 with ``V*C1*T^2*exp(-C2/T) + Igate*V``, T = t_C + 273
  (not 273.15), /4 again for type ``LTL``, and 0 only for type exactly ``ACC`` (the shipped
  accelerators are ``ACC_1..3`` and leak). There is no switch that turns the thermal model off:
  T is the hottest of 5 hotspots, started at 42 C and advanced every 20 us by the Odroid-XU3
  model ``T' = A (T - Ta) + B P + Ta`` from the memory, GPU and last recorded cluster powers (an
  idle cluster records ``cap * leak + 0.1674 W``). In streaming runs T reaches 60-140 C and
  leakage grows several-fold: about +14 % of total energy at 2-10 jobs/ms over 20 ms.
* Only what starts at or after the warm-up counts, and every sampling instant charges a full
  window, a step its full length. A run of fixed length L (SimPy ``run(until=L)``) charges the
  instants before L; a run of a fixed number of jobs stops at the last completion (sim_done) and
  charges that instant too (a single WiFi-TX job ending at 71 us pays base and idle leakage for
  80 us). The reported energy is ``cumulative_energy_consumption`` of performance mode; DS3's
  validation mode never stops before ``simulation_length``, so single-job figures come from
  performance mode with ``inject_fixed_num_jobs``.

`EnergyMeter` reproduces all of this from task start/stop events, processing the sampling
instants lazily between events (no per-microsecond tick), including SimPy's order within an
instant: a step that began one tick before a boundary (a task started at b - 1) resumes only after
that boundary's idle evaluation, so its core is busy for it, and the temperature update fires at
the first idle core of the last cluster evaluated, so earlier clusters still leak at the old
temperature. Fed with the same schedule it equals a SimPy re-run of DS3's processes to 1e-12
(single jobs, streaming with warm-up, ETF/MET/EFT/STF/HEFT), and DS3's own single-job figures
(tests/data/ds3_reference.json: WiFi-TX, WiFi-RX and range detection under ETF, MET and STF, and
under powersave and ondemand) to the 9 decimals DS3 reports. (Until 2026-12 the memory PE was
given a base share too, 1/16 more base power than DS3: +0.2 % on single jobs, +1.88e-4 J per
18 ms of streaming.)
Where it can still deviate from DS3: cores starting at the same instant take their busy-core
counts in the order they are reported (the engine's PE order, DS3's executable-list order);
fractional times (noise, `integer_times=False`), which DS3 never has, follow the same rules with a
1 us tick; a cluster without power data costs nothing, one without a profile threshold at or
above its frequency costs leakage only, and a threshold that is not an operating point is scaled
with the current voltage (DS3 stops with an error in these cases).

`PowerModel.cluster_power_w` / `base_power_w` is the cruder per-event integration (cluster power
as a function of its busy cores, exact idle time, 42 C): it misses the staggered-start
over-charge, the window rounding and the thermal model, and reads -3.9 % (WiFi-TX) and -1.5 %
(WiFi-RX) on single jobs and about -15 % in 20 ms streaming runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from dssoc.model import Cluster, PowerSpec, SoC

# Leakage coefficients (Odroid XU3 board) and DS3's constants.
C1, C2, IGATE = 0.002488, 2660.0, 0.000519
T_AMBIENT_C = 42.0
KELVIN_OFFSET = 273.0  # DS3 converts with 273
P_MEM_W, P_GPU_W = 0.0473, 0.1201
BASE_POWER_W = P_MEM_W + P_GPU_W
SAMPLING_US = 10.0
THERMAL_SAMPLING_US = 20.0
TICK_US = 1.0  # DS3's clock

# Thermal model of the Odroid XU3 (5 hotspots): T' = A (T - Ta) + B P + Ta.
THERMAL_A = (
    (0.9928, 0.000566, 0.004281, 0.0003725, 1.34e-5),
    (0.006084, 0.9909, 0.0, 0.001016, 8.863e-5),
    (0.0, 0.0008608, 0.993, 0.0, 0.0008842),
    (0.006844, -0.0005119, 0.0, 0.9904, 0.0003392),
    (0.0007488, 0.003932, 8.654e-5, 0.002473, 0.9905),
)
THERMAL_B_MEM = (0.07423, 0.0, 0.6708, 0.0, 0.01404)
THERMAL_B_GPU = (6.898e-7, 0.001971, 2.108e-6, 0.01682, 0.03811)
THERMAL_B_BIG = (0.0471, 0.01265, 0.113, 0.01646, 0.01476)
THERMAL_B_LITTLE = (0.02399, 0.0, 0.02819, 0.007198, 0.03902)


def leakage_factor(t_celsius: float) -> float:
    """The temperature part of DS3's leakage, C1*T^2*exp(-C2/T) with T = t + 273 K."""
    tk = t_celsius + KELVIN_OFFSET
    return C1 * tk * tk * math.exp(-C2 / tk)


def cluster_static_power_w(voltage_v: float, kind: str, t_celsius: float = T_AMBIENT_C) -> float:
    """Leakage of a whole cluster: V*C1*T^2*exp(-C2/T) + Igate*V; /4 for LTL, 0 for type ACC."""
    if kind == "ACC":
        return 0.0
    p = voltage_v * leakage_factor(t_celsius) + IGATE * voltage_v
    return p / 4 if kind == "LTL" else p


@dataclass(frozen=True)
class ClusterPower:
    """Power constants of one cluster at its maximum operating point."""

    kind: str
    capacity: int
    voltage_v: float  # 0 without operating points: no leakage
    row_w: tuple[float, ...]  # profile row used: cluster power with 1..k busy cores
    dyn_scale: float  # f V^2 / (f_th V_th^2) of that row

    @classmethod
    def of(cls, c: Cluster) -> ClusterPower:
        """The constants of `c` at its maximum operating point (performance governor)."""
        p = c.power
        if p is None or not p.opps:
            return cls(c.kind, c.capacity, 0.0, (), 0.0)
        return cls.at(c.kind, c.capacity, p, *p.max_opp)

    @classmethod
    def at(cls, kind: str, capacity: int, p: PowerSpec, freq: int, mv: int) -> ClusterPower:
        """The constants of a cluster at operating point (freq MHz, mv mV): DS3 takes the profile
        row of the first threshold >= freq and scales it by f V^2 / (f_th V_th^2)."""
        row: tuple[float, ...] = ()
        scale = 0.0
        for f_th, values in p.power_profile.items():  # DS3 scans in file order
            if freq <= f_th:
                mv_th = dict(p.opps).get(f_th, mv)
                row, scale = tuple(values), (freq * mv * mv) / (f_th * mv_th * mv_th)
                break
        return cls(kind, capacity, mv / 1000.0, row, scale)

    def core_leak_w(self, t_celsius: float = T_AMBIENT_C) -> float:
        """Leakage charged per core: cluster leakage / 4, whatever the capacity."""
        return cluster_static_power_w(self.voltage_v, self.kind, t_celsius) / 4

    def leak_coefficients(self) -> tuple[float, float]:
        """(a, i) with per-core leakage = a * leakage_factor(T) + i."""
        if self.kind == "ACC":
            return 0.0, 0.0
        a = self.voltage_v / (16 if self.kind == "LTL" else 4)
        return a, IGATE * a

    def busy_core_w(self, n: int, leak: float) -> float:
        """Power DS3 charges one busy core while n cores of the cluster are busy."""
        a, b = self.busy_coefficients(n)
        return a + b * leak

    def busy_coefficients(self, n: int) -> tuple[float, float]:
        """(a, b) with `busy_core_w(n, leak) = a + b * leak` (n >= 1)."""
        p = self.row_w[min(n, len(self.row_w)) - 1] if self.row_w else 0.0
        if p <= 0:  # DS3: no dynamic power
            return 0.0, 1.0
        return self.dyn_scale * p / n, 1.0 - self.dyn_scale * len(self.row_w) / n

    def total_w(self, n: int, leak: float) -> float:
        """Cluster power with n busy cores and every idle core leaking."""
        busy = self.busy_core_w(n, leak) * n if n else 0.0
        return busy + leak * (self.capacity - n)


@dataclass(frozen=True)
class PowerModel:
    """DS3 power model of an SoC. `cluster_power_w[c][n]`: W of cluster c with n busy cores
    (ambient temperature); `base_power_w`: memory + GPU, spread over the PEs."""

    clusters: tuple[ClusterPower, ...]
    pe_cluster: tuple[int, ...]
    cluster_power_w: tuple[tuple[float, ...], ...]
    base_power_w: float
    specs: tuple[PowerSpec | None, ...] = ()  # per cluster, for other operating points (DVFS)

    @classmethod
    def for_soc(cls, soc: SoC) -> PowerModel | None:
        """The model of `soc`, or None if no cluster has power data."""
        if not any(c.power is not None for c in soc.clusters):
            return None
        clusters = tuple(ClusterPower.of(c) for c in soc.clusters)
        tables = tuple(
            tuple(cp.total_w(n, cp.core_leak_w()) for n in range(cp.capacity + 1)) for cp in clusters
        )
        pe_cluster = tuple(int(c) for c in soc.pe_cluster)
        return cls(clusters, pe_cluster, tables, BASE_POWER_W,
                   tuple(c.power for c in soc.clusters))

    def meter(self, warmup_us: float = 0.0, end_us: float | None = None, *,
              thermal: bool = True) -> EnergyMeter:
        """A fresh DS3 energy meter (see `EnergyMeter`)."""
        return EnergyMeter(self, warmup_us, end_us, thermal=thermal)


class EnergyMeter:
    """DS3's windowed energy accounting, driven by task events in time order.

    Call `start(pe, t, finish)` when a task starts (its finish known, as in DS3), `stop(pe, t)`
    when it ends (possibly late, as the engine's deferred completions: the meter goes by the
    finish times), and `close(end)` at the end; `energy_j` is what DS3 has charged so far. With
    `end_us` the run has a fixed length, as DS3's `run(until=end_us)`: nothing at or after
    `end_us` counts. Without it the run stops at the last job completion (DS3's sim_done) and
    the sampling at that instant counts. `thermal=False` keeps T at 42 C.
    """

    __slots__ = ("_b_base", "_b_cols", "_busy_ab", "_cap", "_clusters", "_cpower", "_fin", "_key",
                 "_last_stop", "_leak", "_leak_coef", "_members", "_next_b", "_pc", "_running",
                 "_seq", "_specs", "_start", "_step", "_stopped", "_temp", "_update_due",
                 "_window_base_j", "end_us", "energy_j", "thermal", "warmup")

    def __init__(self, model: PowerModel, warmup_us: float = 0.0, end_us: float | None = None,
                 *, thermal: bool = True) -> None:
        self.warmup = warmup_us
        self.end_us = math.inf if end_us is None else end_us
        self.thermal = thermal
        self.energy_j = 0.0
        self._clusters = list(model.clusters)
        self._specs = model.specs
        self._pc = model.pe_cluster
        self._cap = [c.capacity for c in model.clusters]
        self._members = [[p for p, c in enumerate(model.pe_cluster) if c == k]
                         for k in range(len(model.clusters))]
        n_pes = len(model.pe_cluster)
        self._running: dict[int, None] = {}  # PEs whose task has not been stopped yet
        self._fin = [-1.0] * n_pes  # finish of that task, < 0 when idle
        self._start = [0.0] * n_pes  # its start
        self._key = [0] * n_pes  # order in which its current step was scheduled
        self._step = [0.0] * n_pes  # start of its current step
        self._stopped: list[tuple[int, float, int, float]] = []  # (pe, t, key, step start)
        self._seq = 0
        self._next_b = 0.0  # next sampling instant not yet processed
        self._last_stop = 0.0
        self._update_due = False  # a temperature update is pending at this instant
        self._temp = [T_AMBIENT_C] * 5
        self._leak_coef = [c.leak_coefficients() for c in model.clusters]
        self._leak = [c.core_leak_w() for c in model.clusters]
        # power of a busy core with n busy: a + b * leak
        self._busy_ab = [[(0.0, 1.0)] + [c.busy_coefficients(n) for n in range(1, c.capacity + 1)]
                         for c in model.clusters]
        self._cpower = [0.0] * len(model.clusters)
        self._window_base_j = model.base_power_w * SAMPLING_US * 1e-6
        self._b_base = [m * P_MEM_W + g * P_GPU_W for m, g in zip(THERMAL_B_MEM, THERMAL_B_GPU, strict=True)]
        self._b_cols = [(c, THERMAL_B_BIG if cp.kind == "BIG" else THERMAL_B_LITTLE)
                        for c, cp in enumerate(model.clusters) if cp.kind in ("BIG", "LTL")]

    @property
    def temperature_c(self) -> float:
        """The hottest hotspot (C), which sets the leakage."""
        return max(self._temp)

    def start(self, pe: int, t: float, finish: float) -> None:
        """A task starts on `pe` at `t` and will end at `finish`."""
        if t >= self.end_us:
            return
        if t >= self._next_b:
            self._advance(t, inclusive=True)  # the sampling at t sees this PE idle
        c = self._pc[pe]
        n = 1  # busy cores: this one, running ones, zero-length tasks started at t
        for q in self._members[c]:
            f = self._fin[q]
            if q != pe and (f > t or (f == t and self._start[q] == t)):
                n += 1
        self._running[pe] = None
        self._fin[pe] = finish
        self._start[pe] = self._step[pe] = t
        self._key[pe] = self._seq
        self._seq += 1
        self._charge(c, n, t, min(self._next_b, finish) - t)

    def stop(self, pe: int, t: float) -> None:
        """The task on `pe`, which ended at `t`, is over."""
        if t >= self.end_us or pe not in self._running:
            return
        if t > self._next_b:
            self._advance(t, inclusive=False)
        del self._running[pe]
        self._fin[pe] = -1.0
        self._last_stop = max(self._last_stop, t)
        self._stopped.append((pe, t, self._key[pe], self._step[pe]))

    def close(self, end: float | None = None) -> float:
        """Charge the sampling instants before `end_us`, or up to `end` (default: the last
        reported finish) when the run stops at a job completion; return the energy (J)."""
        if self.end_us < math.inf:
            self._advance(self.end_us, inclusive=False)
        else:
            self._advance(self._last_stop if end is None else end, inclusive=True)
        return self.energy_j

    # ------------------------------------------------------------------- DVFS
    def advance_to(self, t: float) -> None:
        """Charge the sampling instants before `t` (before an operating-point change at t)."""
        if t < self.end_us:
            self._advance(t, inclusive=False)

    def retime(self, pe: int, finish: float) -> None:
        """The task running on `pe` now ends at `finish` (its cluster changed frequency)."""
        if pe in self._running:
            self._fin[pe] = finish

    def set_opp(self, c: int, freq_mhz: int, mv: int) -> None:
        """Cluster c runs at (freq_mhz, mv) from now on: steps and idle windows starting from the
        next sampling instant are charged with that operating point's power (DS3's
        `Cdyn*alpha*f*V^2` from the profile row, and leakage at the new voltage)."""
        spec = self._specs[c] if c < len(self._specs) else None
        if spec is None:
            return
        old = self._clusters[c]
        cp = ClusterPower.at(old.kind, old.capacity, spec, freq_mhz, mv)
        self._clusters[c] = cp
        self._leak_coef[c] = a, i = cp.leak_coefficients()
        self._leak[c] = a * leakage_factor(max(self._temp)) + i if self.thermal else cp.core_leak_w()
        self._busy_ab[c] = [(0.0, 1.0)] + [cp.busy_coefficients(n) for n in range(1, cp.capacity + 1)]

    # ---------------------------------------------------------------- internals
    def _advance(self, t: float, inclusive: bool) -> None:
        while self._next_b < t or (inclusive and self._next_b == t):
            self._sample(self._next_b)
            self._next_b += SAMPLING_US

    def _sample(self, b: float) -> None:
        """DS3 at sampling instant b: running cores step on, then the idle evaluation.

        Steps scheduled one tick before b (tasks started at b - 1) resume only after the idle
        evaluation, as in SimPy; every core that resumes or ends at b evaluates its cluster, and
        the temperature update fires when the last cluster is evaluated.
        """
        cap, n_clusters, pc = self._cap, len(self._cap), self._pc
        ended = [(p, key, step) for p, t, key, step in self._stopped if t == b]
        self._stopped.clear()
        self._update_due = self.thermal and b > 0 and b % THERMAL_SAMPLING_US == 0
        if not ended and not self._running:
            self._sample_idle(b)
            return
        marked: set[int] = set()
        running = [0] * n_clusters  # cores running across b
        late_ended = [0] * n_clusters  # cores ending at b after the idle evaluation
        early: list[tuple[int, int, bool]] = []
        late: list[tuple[int, int, bool]] = []
        for p in self._running:
            f = self._fin[p]
            if f > b:
                running[pc[p]] += 1
                (late if b - self._step[p] <= TICK_US else early).append((self._key[p], p, True))
            elif f == b:  # ended at b, stop not reported yet
                ended.append((p, self._key[p], self._step[p]))
        for p, key, step in ended:
            if b - step <= TICK_US:
                late.append((key, p, False))
                late_ended[pc[p]] += 1
            else:
                early.append((key, p, False))
        if early:
            self._resume(b, sorted(early), running, ended, marked)
        # Idle evaluation: cores not busy at this tick leak for the whole window.
        leak_used = self._leak
        idle = [k - running[c] - late_ended[c] for c, k in enumerate(cap)]
        unmarked = [c for c in range(n_clusters) if c not in marked]
        if self._update_due and unmarked and all(idle[c] > 0 for c in unmarked):
            # The update fires at the first idle core of the last cluster not yet evaluated:
            # clusters before it record their idle power and leak at the old temperature.
            first_new = unmarked[-1]
            for c in range(first_new):
                if running[c] + late_ended[c] == 0:
                    self._cpower[c] = leak_used[c] * cap[c] + BASE_POWER_W
            self._thermal_update()
            leak_used = leak_used[:first_new] + self._leak[first_new:]
        marked.update(c for c in unmarked if idle[c] > 0)
        idle_w = 0.0
        for c in range(n_clusters):
            if running[c] + late_ended[c] == 0:
                self._cpower[c] = leak_used[c] * cap[c] + BASE_POWER_W
            idle_w += idle[c] * leak_used[c]
        if b >= self.warmup:
            self.energy_j += self._window_base_j + idle_w * SAMPLING_US * 1e-6
        if late:
            self._resume(b, sorted(late), running, ended, marked)

    def _sample_idle(self, b: float) -> None:
        """`_sample` when every core is idle: the update fires at the last cluster."""
        cap, leak = self._cap, self._leak
        last = len(cap) - 1
        if self._update_due:
            for c in range(last):
                self._cpower[c] = leak[c] * cap[c] + BASE_POWER_W
            self._thermal_update()
            leak = leak[:last] + self._leak[last:]
        idle_w = 0.0
        for c, k in enumerate(cap):
            self._cpower[c] = leak[c] * k + BASE_POWER_W
            idle_w += k * leak[c]
        if b >= self.warmup:
            self.energy_j += self._window_base_j + idle_w * SAMPLING_US * 1e-6

    def _resume(self, b: float, order: list[tuple[int, int, bool]], running: list[int],
                ended: list[tuple[int, int, float]], marked: set[int]) -> None:
        """Cores resuming (or ending) at b, in scheduling order: the running ones start a step."""
        pc = self._pc
        for key, p, cont in order:
            c = pc[p]
            marked.add(c)
            if self._update_due and len(marked) == len(self._cap):
                self._thermal_update()
            if cont:
                n = running[c]  # and cores that end at b but resume later
                if ended:
                    n += sum(1 for q, k, _ in ended if pc[q] == c and k > key)
                self._charge(c, n, b, min(b + SAMPLING_US, self._fin[p]) - b)
                self._key[p] = self._seq
                self._seq += 1
                self._step[p] = b

    def _thermal_update(self) -> None:
        self._update_due = False
        ta = T_AMBIENT_C
        d = [t - ta for t in self._temp]
        new = []
        for i, a in enumerate(THERMAL_A):
            v = ta + self._b_base[i] + a[0] * d[0] + a[1] * d[1] + a[2] * d[2] + a[3] * d[3] + a[4] * d[4]
            for c, col in self._b_cols:
                v += col[i] * self._cpower[c]
            new.append(v)
        self._temp = new
        g = leakage_factor(max(new))
        self._leak = [a * g + i for a, i in self._leak_coef]

    def _charge(self, c: int, n: int, t: float, length: float) -> None:
        """A core of cluster c starts a step of `length` us at t with n busy cores."""
        leak = self._leak[c]
        a, b = self._busy_ab[c][n]
        power = a + b * leak
        if t >= self.warmup:
            self.energy_j += power * length * 1e-6
        self._cpower[c] = (power - leak) * n + leak * self._cap[c]


def busy_core_power_w(soc: SoC, opps: list[tuple[int, int] | None] | None = None) -> list[float]:
    """Per cluster, the power (W) DS3 charges one busy core when it is the only busy one, at
    the given operating points (default: f_max), leakage at 42 C; 0 without power data. What
    an energy-aware scheduler multiplies by a task's execution time to estimate its energy."""
    out = []
    for k, c in enumerate(soc.clusters):
        p = c.power
        if p is None or not p.opps:
            out.append(0.0)
            continue
        f, mv = p.max_opp if opps is None or opps[k] is None else opps[k]  # type: ignore[misc]
        cp = ClusterPower.at(c.kind, c.capacity, p, f, mv)
        out.append(cp.busy_core_w(1, cp.core_leak_w()))
    return out


def opp_power_table(soc: SoC) -> list[list[float]]:
    """Per cluster and OPP level (slowest first), one busy core's power (W) as in
    `busy_core_power_w`; an empty list for a cluster without operating points."""
    table: list[list[float]] = []
    for c in soc.clusters:
        p = c.power
        if p is None or not p.opps:
            table.append([])
            continue
        row = []
        for f, mv in p.opps:
            cp = ClusterPower.at(c.kind, c.capacity, p, f, mv)
            row.append(cp.busy_core_w(1, cp.core_leak_w()))
        table.append(row)
    return table


def energy_from_trace(
    model: PowerModel,
    tasks: Iterable[tuple[int, float, float]],
    end: float,
    warmup_us: float = 0.0,
    *,
    fixed_length: bool = False,
    thermal: bool = True,
) -> float:
    """DS3's energy (J) of a schedule given as (pe, start, finish) rows, for a run that stops at
    `end`: a job completion, or a fixed length with `fixed_length` (see `EnergyMeter`).

    Events are replayed as the engine emits them: at each instant, ends first, then starts in
    PE order; a zero-length task ends after the other starts of its instant, unless its PE
    starts another task then.
    """
    rows = list(tasks)
    reused = {(pe, s) for pe, s, f in rows if f > s}
    events: list[tuple[float, int, float, float, bool, int, float]] = []
    for pe, s, f in rows:
        if f > s:
            events.append((s, 1, pe, 1, True, pe, f))
            events.append((f, 0, 0, 0, False, pe, f))
        else:
            events.append((s, 1, pe, 0, True, pe, f))
            events.append((s, 1, pe, 0.5, False, pe, f) if (pe, s) in reused else (s, 2, pe, 0, False, pe, f))
    events.sort(key=lambda e: e[:4])
    m = model.meter(warmup_us, end if fixed_length else None, thermal=thermal)
    for t, _, _, _, is_start, pe, f in events:
        if t > end:
            break
        if is_start:
            m.start(pe, t, f)
        else:
            m.stop(pe, t)
    return m.close(end)
