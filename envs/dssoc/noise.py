"""Noise models: seeded perturbations of *actual* execution times and arrivals.

Schedulers always plan with the expected execution times; noise reaches only what happens.
Every model is named and parameterised by a short spec (`gaussian:0.2`, `lognormal:0.3`,
`pareto:2.5`, `slowdown:A15:2:5000:15000`, `persistent:pe:3:2000:8000`, `correlated:0.3:0.5:1000`,
`burst:5:1000:10000`); several combine with `+`.
Per-task random draws are made when a job is injected, in task order, from the noise stream,
so every scheduler faces the same draws for the same seed (common random numbers). Models with
state over time (`persistent`, `correlated`) draw their timelines from their own child streams of
the noise seed, lazily but in a fixed order per PE or cluster, so the timeline depends on the seed
only, never on which scheduler asked first or when.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dssoc.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from dssoc.model import SoC


@dataclass(frozen=True)
class GaussianNoise:
    """gym-ds3's model: actual = max(round(N(mu, (sigma*mu)^2)), 1) for mu > 0 (sigma relative)."""

    sigma: float
    name: str = "gaussian"
    uses_draw = True

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if mu <= 0:
            return mu
        return float(max(round(mu + self.sigma * mu * z), 1))

    @property
    def spec(self) -> str:
        return f"gaussian:{self.sigma:g}"


@dataclass(frozen=True)
class LogNormalNoise:
    """Heavy-tailed, mean-preserving: actual = max(round(mu * exp(sigma*z - sigma^2/2)), 1)."""

    sigma: float
    name: str = "lognormal"
    uses_draw = True

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if mu <= 0:
            return mu
        return float(max(round(mu * math.exp(self.sigma * z - 0.5 * self.sigma**2)), 1))

    @property
    def spec(self) -> str:
        return f"lognormal:{self.sigma:g}"


@dataclass(frozen=True)
class PESlowdown:
    """Every PE of cluster `cluster_name` runs `factor` times slower for tasks started in
    [start_us, end_us) (a thermal throttle or a co-runner). Resolved to an index per SoC."""

    cluster_name: str
    factor: float
    start_us: float = 0.0
    end_us: float = math.inf
    cluster: int = -1  # filled by `bind`
    name: str = "slowdown"
    uses_draw = False

    def bind(self, cluster_names: list[str]) -> PESlowdown:
        if self.cluster_name not in cluster_names:
            raise UnknownNameError("cluster", self.cluster_name, cluster_names, "noise slowdown")
        return PESlowdown(
            self.cluster_name, self.factor, self.start_us, self.end_us,
            cluster_names.index(self.cluster_name),
        )

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if cluster == self.cluster and self.start_us <= now < self.end_us:
            return float(round(mu * self.factor))
        return mu

    @property
    def spec(self) -> str:
        end = "inf" if math.isinf(self.end_us) else f"{self.end_us:g}"
        return f"slowdown:{self.cluster_name}:{self.factor:g}:{self.start_us:g}:{end}"


@dataclass(frozen=True)
class ParetoNoise:
    """Heavy-tailed, mean-preserving Pareto durations: actual = max(round(mu * X), 1) with
    X ~ Pareto(shape alpha, scale (alpha-1)/alpha), so E[X] = 1 and P(X > x) ~ x^-alpha.
    alpha must be > 1 (finite mean); the variance is infinite for alpha <= 2. X comes from the
    task's standard-normal draw through its CDF, so it shares the common-random-number stream."""

    alpha: float
    name: str = "pareto"
    uses_draw = True

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if mu <= 0:
            return mu
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))  # 1 - Phi(z), precise in the upper tail
        x = (self.alpha - 1.0) / self.alpha * max(tail, 1e-300) ** (-1.0 / self.alpha)
        return float(max(round(mu * x), 1))

    @property
    def spec(self) -> str:
        return f"pareto:{self.alpha:g}"


class _Timeline:
    """Per unit (PE or cluster), a lazily extended random sequence drawn from the unit's own
    generator in order, so entry k is a function of the seed only."""

    def __init__(self, seed: np.random.SeedSequence, n_units: int) -> None:
        self.rngs = [np.random.default_rng(s) for s in seed.spawn(n_units)]


@dataclass(frozen=True)
class PersistentSlowdown:
    """Each PE (`level="pe"`) or each cluster (`"cluster"`, all its PEs together) alternates
    between normal periods (Exp, mean `mean_normal_us`) and slow periods (Exp, mean `mean_slow_us`),
    starting normal at t = 0. A task started during a slow period runs `factor` times longer
    (rounded). The long-run slow fraction is mean_slow / (mean_slow + mean_normal)."""

    level: str
    factor: float
    mean_slow_us: float
    mean_normal_us: float
    name: str = "persistent"
    uses_draw = False
    stateful = True

    def runtime(self, seed: np.random.SeedSequence, soc: SoC) -> PersistentSlowdownRun:
        return PersistentSlowdownRun(self, seed, soc)

    @property
    def spec(self) -> str:
        return (f"persistent:{self.level}:{self.factor:g}:{self.mean_slow_us:g}:"
                f"{self.mean_normal_us:g}")


class PersistentSlowdownRun(_Timeline):
    """One simulation's slow/normal timeline of a `PersistentSlowdown`."""

    uses_draw = False

    def __init__(self, model: PersistentSlowdown, seed: np.random.SeedSequence, soc: SoC) -> None:
        self.model = model
        self.per_pe = model.level == "pe"
        super().__init__(seed, soc.n_pes if self.per_pe else len(soc.clusters))
        # edges[u] = [0, end of 1st normal, end of 1st slow, ...]; even intervals normal
        self.edges: list[list[float]] = [[0.0] for _ in self.rngs]

    def slow(self, unit: int, now: float) -> bool:
        """Whether `unit` (a PE or cluster index, per the model's level) is slow at `now`."""
        edges = self.edges[unit]
        m = self.model
        while edges[-1] <= now:
            rng = self.rngs[unit]
            for _ in range(32):
                mean = m.mean_normal_us if len(edges) % 2 == 1 else m.mean_slow_us
                edges.append(edges[-1] + float(rng.exponential(mean)))
        return (bisect_right(edges, now) - 1) % 2 == 1

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if mu > 0 and self.slow(pe if self.per_pe else cluster, now):
            return float(round(mu * self.model.factor))
        return mu


@dataclass(frozen=True)
class CorrelatedNoise:
    """Cluster-correlated Gaussian noise: actual = max(round(mu * (1 + sigma * e)), 1) with
    e = sqrt(rho) * Z_c + sqrt(1 - rho) * z, where z is the task's own draw and Z_c a draw shared
    by every task started on cluster c in the same window of `window_us` (one per window, fresh
    each window). Two such tasks' relative errors have correlation rho; sigma as in `gaussian`."""

    sigma: float
    rho: float
    window_us: float = 1000.0
    name: str = "correlated"
    uses_draw = True
    stateful = True

    def runtime(self, seed: np.random.SeedSequence, soc: SoC) -> CorrelatedNoiseRun:
        return CorrelatedNoiseRun(self, seed, soc)

    @property
    def spec(self) -> str:
        return f"correlated:{self.sigma:g}:{self.rho:g}:{self.window_us:g}"


class CorrelatedNoiseRun(_Timeline):
    """One simulation's per-cluster window draws of a `CorrelatedNoise`."""

    uses_draw = True

    def __init__(self, model: CorrelatedNoise, seed: np.random.SeedSequence, soc: SoC) -> None:
        self.model = model
        super().__init__(seed, len(soc.clusters))
        self.draws: list[list[float]] = [[] for _ in self.rngs]
        self.a = math.sqrt(model.rho)
        self.b = math.sqrt(1.0 - model.rho)

    def common(self, cluster: int, now: float) -> float:
        """The draw shared by tasks started on `cluster` in the window containing `now`."""
        k = int(now // self.model.window_us)
        draws = self.draws[cluster]
        while len(draws) <= k:
            draws.extend(self.rngs[cluster].standard_normal(max(64, k + 1 - len(draws))).tolist())
        return draws[k]

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        if mu <= 0:
            return mu
        e = self.a * self.common(cluster, now) + self.b * z
        return float(max(round(mu * (1.0 + self.model.sigma * e)), 1))


@dataclass(frozen=True)
class ArrivalBurst:
    """Bursty arrivals: during the first `length_us` of every `period_us`, the arrival rate is
    multiplied by `factor` (the inter-arrival mean divided by it)."""

    factor: float
    length_us: float
    period_us: float
    name: str = "burst"
    uses_draw = False
    acts_on = "arrivals"  # read by the arrival processes (dssoc.arrivals), not the engine

    def scale_at(self, scale_us: float, now: float) -> float:
        in_burst = (now % self.period_us) < self.length_us
        return scale_us / self.factor if in_burst else scale_us

    @property
    def spec(self) -> str:
        return f"burst:{self.factor:g}:{self.length_us:g}:{self.period_us:g}"


ExecNoise = GaussianNoise | LogNormalNoise | ParetoNoise | PESlowdown | PersistentSlowdown | CorrelatedNoise
NoiseModel = ExecNoise | ArrivalBurst


def noise_runtime(models: Sequence[NoiseModel], seed: np.random.SeedSequence, soc: SoC) -> list:
    """The execution-noise models of one simulation: stateless models as they are, stateful
    ones (`runtime`) instantiated on child streams of the noise seed, one per model in order.
    Models acting on arrivals (`acts_on = "arrivals"`: bursts) are left to the arrival process."""
    out = []
    for m in models:
        if getattr(m, "acts_on", "execution") != "execution":
            continue
        if getattr(m, "stateful", False):
            out.append(m.runtime(seed.spawn(1)[0], soc))  # type: ignore[union-attr]
        else:
            out.append(m)
    return out

NOISE_MODELS = {
    "gaussian": "gaussian:SIGMA (relative std of execution times, gym-ds3)",
    "lognormal": "lognormal:SIGMA (mean-preserving log-normal execution times)",
    "pareto": "pareto:ALPHA (mean-preserving Pareto execution times, tail index ALPHA > 1)",
    "slowdown": "slowdown:CLUSTER:FACTOR[:START_US[:END_US]] (a cluster runs FACTOR x slower)",
    "persistent": "persistent:pe|cluster:FACTOR:MEAN_SLOW_US:MEAN_NORMAL_US (random slow periods)",
    "correlated": "correlated:SIGMA:RHO[:WINDOW_US] (Gaussian, correlation RHO within a cluster "
                  "and window, default 1000 µs)",
    "burst": "burst:FACTOR:LENGTH_US:PERIOD_US (arrival rate x FACTOR in bursts)",
    "none": "none (no noise)",
}


def _number(text: str, what: str, where: str, allow_inf: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, got {text!r}", where) from None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise ConfigError(f"{what} must be a finite number >= 0, got {text!r}", where)
    return value


def parse_noise(spec: str | None) -> tuple[NoiseModel, ...]:
    """Parse `gaussian:0.2+slowdown:A15:2` into noise models; '' or 'none' means no noise."""
    if spec is None or spec.strip() in ("", "none"):
        return ()
    models: list[NoiseModel] = []
    for part in spec.split("+"):
        where = f"noise spec {part!r}"
        kind, *args = part.strip().split(":")
        if kind in ("gaussian", "lognormal"):
            if len(args) != 1:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            sigma = _number(args[0], "sigma", where)
            models.append(GaussianNoise(sigma) if kind == "gaussian" else LogNormalNoise(sigma))
        elif kind == "pareto":
            if len(args) != 1:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            alpha = _number(args[0], "alpha", where)
            if alpha <= 1:
                raise ConfigError(f"alpha must be > 1 (finite mean), got {args[0]}", where)
            models.append(ParetoNoise(alpha))
        elif kind == "persistent":
            if len(args) != 4:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            if args[0] not in ("pe", "cluster"):
                raise ConfigError(f"level must be 'pe' or 'cluster', got {args[0]!r}", where)
            factor, slow, normal = (_number(a, n, where) for a, n in zip(
                args[1:], ("factor", "mean slow period", "mean normal period"), strict=True))
            if factor <= 0 or slow <= 0 or normal <= 0:
                raise ConfigError("factor and both mean periods must be > 0", where)
            models.append(PersistentSlowdown(args[0], factor, slow, normal))
        elif kind == "correlated":
            if not 2 <= len(args) <= 3:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            sigma = _number(args[0], "sigma", where)
            rho = _number(args[1], "rho", where)
            window = _number(args[2], "window", where) if len(args) > 2 else 1000.0
            if rho > 1 or window <= 0:
                raise ConfigError("rho must be in [0, 1] and the window > 0", where)
            models.append(CorrelatedNoise(sigma, rho, window))
        elif kind == "slowdown":
            if not 2 <= len(args) <= 4:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            factor = _number(args[1], "factor", where)
            start = _number(args[2], "start", where) if len(args) > 2 else 0.0
            end = _number(args[3], "end", where, allow_inf=True) if len(args) > 3 else math.inf
            if factor <= 0:
                raise ConfigError("factor must be > 0", where)
            models.append(PESlowdown(args[0], factor, start, end))
        elif kind == "burst":
            if len(args) != 3:
                raise ConfigError(f"expected {NOISE_MODELS[kind]}", where)
            factor, length, period = (_number(a, n, where) for a, n in zip(
                args, ("factor", "length", "period"), strict=True))
            if factor <= 0 or period <= 0:
                raise ConfigError("factor and period must be > 0", where)
            models.append(ArrivalBurst(factor, length, period))
        else:
            raise UnknownNameError("noise model", kind, NOISE_MODELS, where)
    return tuple(models)


def noise_spec(models: tuple[NoiseModel, ...]) -> str:
    """The canonical spec string of a tuple of models (inverse of `parse_noise`)."""
    return "+".join(m.spec for m in models) or "none"
