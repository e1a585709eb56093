"""Job arrival processes: when the next job enters the system and which application it is.

The engine asks its process for one arrival at a time (`ArrivalProcess.next_arrival`), right after
injecting a job, so a process is a small, stateful object owned by one `Simulation`. Built-in
processes:

- `PoissonArrivals`: exponential gaps of mean `scale_us` (the default), optionally modulated by
  `burst:` noise (a piecewise-constant rate, sampled exactly);
- `FixedRateArrivals`: one job every `scale_us` (`SimConfig.fixed_rate`);
- `DS3Arrivals`: DS3's own random streams (Python's `random` for gaps, numpy's legacy generator
  for the application), for job-for-job comparisons with DS3;
- `TraceArrivals`: a recorded stream replayed exactly (`trace:PATH.csv`, see `read_arrival_trace`);
- `ModulatedPoissonArrivals`: a non-homogeneous Poisson process whose rate is the base rate times
  a product of diurnal (sinusoidal), piecewise-constant profile and burst factors, sampled exactly
  by thinning (Lewis and Shedler 1979) from the run's arrival stream.

An arrival *model* (the `ArrivalModel` protocol: `TraceReplay`, `RateModulation`, or a user's own
object with `spec` and `make_process`) is the frozen, validated configuration (`SimConfig.arrivals`,
spec strings such as `diurnal:0.5:20000`); the engine asks it for a fresh process per run through
`make_arrival_process`, drawing from the run's arrival and application streams. Without a model the
engine uses the Poisson, fixed-rate or DS3 process exactly as before the plug-in existed (same
draws, same order).
Applications are drawn from the workload mix (`MixChooser`, the run's application stream) unless
the process names them (a trace does).
"""

from __future__ import annotations

import csv
import io
import math
import random
from abc import ABC, abstractmethod
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from dssoc.errors import ConfigError, UnknownNameError
from dssoc.noise import ArrivalNoise
from dssoc.schemas import read_text

if TYPE_CHECKING:
    from dssoc.model import Workload
    from dssoc.noise import NoiseModel

#: One arrival: absolute time (µs) and the index of the application in the workload.
Arrival = tuple[float, int]


class ArrivalSettings(Protocol):
    """The `SimConfig` fields an arrival process is built from (typed structurally, so that the
    configuration module may import this one and not the reverse)."""

    @property
    def workload(self) -> Workload: ...
    @property
    def noise(self) -> tuple[NoiseModel, ...]: ...
    @property
    def arrivals(self) -> ArrivalModel | None: ...
    @property
    def arrival_streams(self) -> str: ...
    @property
    def scale_us(self) -> float: ...
    @property
    def fixed_rate(self) -> bool: ...
    @property
    def integer_times(self) -> bool: ...


class ArrivalProcess(ABC):
    """A stream of job arrivals for one run.

    `next_arrival(now)` is called once at time 0 for the first job and then once after each
    injection, with `now` the time that job entered; it returns the next job's absolute arrival
    time (>= `now`) and application index, or None when the stream has ended.
    """

    @abstractmethod
    def next_arrival(self, now: float) -> Arrival | None: ...


class MixChooser:
    """Draws applications from the workload's mix with one uniform number each (the run's
    application stream), or with DS3's numpy legacy `choice` when `ds3` is given."""

    __slots__ = ("_cum", "_ds3", "_n", "_probs", "_rng")

    def __init__(self, probabilities: tuple[float, ...], rng: np.random.Generator,
                 ds3: np.random.RandomState | None = None) -> None:
        self._probs = probabilities
        self._n = len(probabilities)
        cum = np.cumsum(probabilities)
        cum[-1] = 1.0
        self._cum = cum.tolist()  # bisect on a list = searchsorted(side="right"), without numpy's call cost
        self._rng = rng
        self._ds3 = ds3

    def choose(self) -> int:
        if self._ds3 is not None:
            return int(self._ds3.choice(self._n, 1, p=self._probs)[0])
        return bisect_right(self._cum, self._rng.random())


class PoissonArrivals(ArrivalProcess):
    """The first job at 0, then exponential gaps of mean `scale_us` (truncated to whole µs when
    `integer`). With bursts, the rate changes at burst edges and one Exp(1) draw is spent across
    the piecewise-constant rate (exact, unlike a rate frozen at the draw)."""

    def __init__(self, scale_us: float, rng: np.random.Generator, mix: MixChooser,
                 bursts: tuple[ArrivalNoise, ...] = (), integer: bool = True) -> None:
        self.scale = scale_us
        self.rng = rng
        self.mix = mix
        self.bursts = bursts
        self.integer = integer
        self._started = False

    def gap(self, now: float) -> float:
        if self.bursts:
            return self._bursty_gap(now)
        return self.rng.exponential(self.scale)

    def _bursty_gap(self, now: float) -> float:
        need = self.rng.exponential(1.0)
        t = now
        while True:
            local = self.scale
            edge = math.inf
            for b in self.bursts:
                local = b.scale_at(local, t)
                edge = min(edge, b.next_change(t))
            room = (edge - t) / local
            if need <= room:
                return t + need * local - now
            need -= room
            t = edge

    def next_arrival(self, now: float) -> Arrival | None:
        if not self._started:
            self._started = True
            return 0.0, self.mix.choose()
        gap = self.gap(now)
        if self.integer:
            gap = float(int(gap))
        return now + gap, self.mix.choose()


class FixedRateArrivals(PoissonArrivals):
    """One job every `scale_us` (divided by the factor of any burst in progress)."""

    def gap(self, now: float) -> float:
        scale = self.scale
        for b in self.bursts:
            scale = b.scale_at(scale, now)
        return scale


class DS3Arrivals(PoissonArrivals):
    """DS3's streams: gaps from Python's Mersenne Twister, applications from numpy's legacy
    generator, both seeded with the run's seed (DS3's iteration number)."""

    def __init__(self, scale_us: float, seed: int, mix: MixChooser, integer: bool = True) -> None:
        self._py = random.Random(seed)
        super().__init__(scale_us, np.random.default_rng(0), mix, (), integer)

    def gap(self, now: float) -> float:
        return self._py.expovariate(1.0 / self.scale)


class TraceArrivals(ArrivalProcess):
    """Replays recorded arrivals exactly: times and applications as given, then stops."""

    def __init__(self, times: tuple[float, ...], apps: tuple[int, ...]) -> None:
        self.times = times
        self.apps = apps
        self._k = 0

    def next_arrival(self, now: float) -> Arrival | None:
        k = self._k
        if k >= len(self.times):
            return None
        self._k = k + 1
        return max(self.times[k], now), self.apps[k]


class ModulatedPoissonArrivals(ArrivalProcess):
    """A non-homogeneous Poisson process of rate `factor(t) / scale_us`, sampled by thinning:
    candidates at the maximal rate, each kept with probability factor(t) / max factor. Exact for
    any bounded rate; the first job arrives at the first accepted candidate after 0."""

    def __init__(self, scale_us: float, model: RateModulation, bursts: tuple[ArrivalNoise, ...],
                 rng: np.random.Generator, mix: MixChooser, integer: bool) -> None:
        self.scale = scale_us
        self.model = model
        self.bursts = bursts
        self.rng = rng
        self.mix = mix
        self.integer = integer
        self.peak = model.max_factor * math.prod(b.peak_factor for b in bursts)
        self._t = 0.0  # the process's own clock (time of the last accepted candidate)

    def factor(self, t: float) -> float:
        f = self.model.factor(t)
        for b in self.bursts:
            f *= b.factor_at(t)
        return f

    def next_arrival(self, now: float) -> Arrival | None:
        rng = self.rng
        t = max(self._t, now)
        mean = self.scale / self.peak
        while True:
            t += rng.exponential(mean)
            if rng.random() * self.peak < self.factor(t):
                break
        self._t = t
        if self.integer:
            t = float(math.floor(t))
        return max(t, now), self.mix.choose()


# ---------------------------------------------------------------- models (configuration)
@dataclass(frozen=True)
class TraceReplay:
    """Arrivals replayed from a CSV file (`read_arrival_trace`)."""

    path: str
    times: tuple[float, ...]
    applications: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"trace:{self.path}"

    def make_process(self, config: ArrivalSettings, seed: int, arrival_rng: np.random.Generator,
                     app_rng: np.random.Generator) -> ArrivalProcess:
        names = [a.name for a in config.workload.applications]
        return TraceArrivals(self.times, tuple(names.index(a) for a in self.applications))


@dataclass(frozen=True)
class RateModulation:
    """Base rate times a diurnal sinusoid `1 + amplitude * sin(2π (t + phase) / period)` and a
    piecewise-constant `profile` over `profile_period_us` (equal slots); either part optional."""

    amplitude: float = 0.0
    period_us: float = 0.0
    phase_us: float = 0.0
    profile: tuple[float, ...] = ()
    profile_period_us: float = 0.0

    def factor(self, t: float) -> float:
        f = 1.0
        if self.amplitude:
            f += self.amplitude * math.sin(2.0 * math.pi * (t + self.phase_us) / self.period_us)
        if self.profile:
            slot = int((t % self.profile_period_us) / self.profile_period_us * len(self.profile))
            f *= self.profile[min(slot, len(self.profile) - 1)]
        return f

    @property
    def max_factor(self) -> float:
        return (1.0 + self.amplitude) * (max(self.profile) if self.profile else 1.0)

    @property
    def mean_factor(self) -> float:
        """Long-run mean of the factor (the sinusoid averages to 1; the profile to its mean)."""
        return sum(self.profile) / len(self.profile) if self.profile else 1.0

    def make_process(self, config: ArrivalSettings, seed: int, arrival_rng: np.random.Generator,
                     app_rng: np.random.Generator) -> ArrivalProcess:
        bursts = tuple(m for m in config.noise if isinstance(m, ArrivalNoise))
        ds3 = np.random.RandomState(seed) if config.arrival_streams == "ds3" else None
        mix = MixChooser(config.workload.probabilities, app_rng, ds3)
        return ModulatedPoissonArrivals(config.scale_us, self, bursts, arrival_rng, mix,
                                        config.integer_times)

    @property
    def spec(self) -> str:
        parts = []
        if self.amplitude:
            phase = f":{self.phase_us:g}" if self.phase_us else ""
            parts.append(f"diurnal:{self.amplitude:g}:{self.period_us:g}{phase}")
        if self.profile:
            parts.append(f"profile:{self.profile_period_us:g}:" + ",".join(f"{p:g}" for p in self.profile))
        return "+".join(parts)


class ArrivalModel(Protocol):
    """What `SimConfig.arrivals` holds: a frozen configuration with a canonical `spec` string that
    makes a fresh `ArrivalProcess` for each run (the plug-in point for user arrival models)."""

    @property
    def spec(self) -> str: ...

    def make_process(self, config: ArrivalSettings, seed: int, arrival_rng: np.random.Generator,
                     app_rng: np.random.Generator) -> ArrivalProcess: ...

ARRIVAL_MODELS = {
    "poisson": "poisson (exponential gaps at --rate; the default)",
    "trace": "trace:PATH.csv (replay recorded arrivals: columns time_us, application)",
    "diurnal": "diurnal:AMPLITUDE:PERIOD_US[:PHASE_US] (rate x (1 + A sin(2π(t+phase)/period)), 0<=A<1)",
    "profile": "profile:PERIOD_US:F1,F2,... (rate x F_k in the k-th equal slot of every period)",
}


def _num(text: str, what: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, got {text!r}", where) from None
    if not math.isfinite(v):
        raise ConfigError(f"{what} must be finite, got {text!r}", where)
    return v


def parse_arrivals(spec: str | None, base: Path | None = None) -> ArrivalModel | None:
    """Parse an arrival spec (`poisson`, `trace:PATH`, `diurnal:...+profile:...`); None and
    `poisson` mean today's Poisson arrivals. Relative trace paths resolve against `base`."""
    if spec is None or spec.strip() in ("", "poisson"):
        return None
    spec = spec.strip()
    if spec.startswith("trace:"):
        path = Path(spec[len("trace:"):])
        if base is not None and not path.is_absolute():
            path = base / path
        return read_arrival_trace(path)
    mod: dict[str, object] = {}
    for part in spec.split("+"):
        where = f"arrivals spec {part!r}"
        kind, *args = part.strip().split(":")
        if kind == "diurnal":
            if len(args) not in (2, 3):
                raise ConfigError(f"expected {ARRIVAL_MODELS[kind]}", where)
            amp = _num(args[0], "amplitude", where)
            period = _num(args[1], "period", where)
            if not 0 <= amp < 1 or period <= 0:
                raise ConfigError("amplitude must be in [0, 1) and period > 0", where)
            mod.update(amplitude=amp, period_us=period,
                       phase_us=_num(args[2], "phase", where) if len(args) == 3 else 0.0)
        elif kind == "profile":
            if len(args) != 2:
                raise ConfigError(f"expected {ARRIVAL_MODELS[kind]}", where)
            period = _num(args[0], "period", where)
            factors = tuple(_num(f, "factor", where) for f in args[1].split(","))
            if period <= 0 or any(f < 0 for f in factors) or max(factors) <= 0:
                raise ConfigError("period must be > 0, factors >= 0 and not all 0", where)
            mod.update(profile=factors, profile_period_us=period)
        elif kind in ("trace", "poisson"):
            raise ConfigError(f"{kind!r} cannot be combined with other arrival models", where)
        else:
            raise UnknownNameError("arrival model", kind, ARRIVAL_MODELS, where)
    return RateModulation(**mod)  # type: ignore[arg-type]


@cache
def _read_trace_cached(path: str, stamp: tuple[int, int]) -> TraceReplay:
    times: list[float] = []
    apps: list[str] = []
    with io.StringIO(read_text(Path(path), "arrival trace"), newline="") as f:  # binary: refused
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None:
            raise ConfigError("empty arrival trace (expected a header: time_us,application)", path)
        cols = [h.strip().lower() for h in header]
        try:
            ti = next(i for i, c in enumerate(cols) if c in ("time_us", "arrival_us", "time"))
            ai = next(i for i, c in enumerate(cols) if c in ("application", "app"))
        except StopIteration:
            raise ConfigError(f"header {header} must name columns time_us and application",
                              f"{path}:1") from None
        last = -math.inf
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(cols):
                raise ConfigError(f"expected {len(cols)} fields, got {len(row)}", f"{path}:{line}")
            try:
                t = float(row[ti])
            except ValueError:
                raise ConfigError(f"arrival time must be a number, got {row[ti]!r}",
                                  f"{path}:{line}") from None
            if not (math.isfinite(t) and t >= 0):
                raise ConfigError(f"arrival time must be finite and >= 0, got {row[ti]!r}",
                                  f"{path}:{line}")
            if t < last:
                raise ConfigError(f"arrival times must not decrease ({t:g} after {last:g})",
                                  f"{path}:{line}")
            last = t
            name = row[ai].strip()
            if not name:
                raise ConfigError("empty application name", f"{path}:{line}")
            times.append(t)
            apps.append(name)
    if not times:
        raise ConfigError("the arrival trace has no rows", path)
    return TraceReplay(path, tuple(times), tuple(apps))


def read_arrival_trace(path: str | Path) -> TraceReplay:
    """Read a CSV of job arrivals: a header naming `time_us` (µs, non-decreasing) and
    `application` (a name of the workload's applications), then one row per job."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("arrival trace not found", str(p))
    st = p.stat()
    return _read_trace_cached(str(p), (st.st_mtime_ns, st.st_size))


def write_arrival_trace(path: str | Path, times: list[float], applications: list[str]) -> Path:
    """Write arrivals in the format `read_arrival_trace` reads (e.g. a recorded run's jobs)."""
    p = Path(path)
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_us", "application"])
        for t, a in zip(times, applications, strict=True):
            w.writerow([repr(float(t)), a])
    return p


def check_arrivals(model: ArrivalModel | None, app_names: list[str]) -> None:
    """Refuse a trace naming applications the workload does not have."""
    if isinstance(model, TraceReplay):
        for k, name in enumerate(model.applications):
            if name not in app_names:
                raise UnknownNameError("application", name, app_names,
                                       f"{model.path}: row {k + 1}")


def make_arrival_process(config: ArrivalSettings, seed: int, arrival_rng: np.random.Generator,
                         app_rng: np.random.Generator) -> ArrivalProcess:
    """The arrival process of one run of `config`, drawing from the run's arrival and
    application streams (DS3 streams are seeded with `seed` itself)."""
    if config.arrivals is not None:
        return config.arrivals.make_process(config, seed, arrival_rng, app_rng)
    wl = config.workload
    bursts = tuple(m for m in config.noise if isinstance(m, ArrivalNoise))
    ds3 = config.arrival_streams == "ds3"
    mix = MixChooser(wl.probabilities, app_rng, np.random.RandomState(seed) if ds3 else None)
    if config.fixed_rate:
        return FixedRateArrivals(config.scale_us, arrival_rng, mix, bursts, config.integer_times)
    if ds3 and not bursts:  # bursts draw their gaps from the dssoc stream (as before)
        return DS3Arrivals(config.scale_us, seed, mix, config.integer_times)
    return PoissonArrivals(config.scale_us, arrival_rng, mix, bursts, config.integer_times)
