"""Noise models: seeded perturbations of *actual* execution times and arrivals.

Schedulers always plan with the expected execution times; noise reaches only what happens.
Every model is named and parameterised by a short spec (`gaussian:0.2`, `lognormal:0.3`,
`slowdown:A15:2:5000:15000`, `burst:5:1000:10000`); several combine with `+`.
Per-task random draws are made when a job is injected, in task order, from the noise stream,
so every scheduler faces the same draws for the same seed (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class GaussianNoise:
    """gym-ds3's model: actual = max(round(N(mu, (sigma*mu)^2)), 1) for mu > 0 (sigma relative)."""

    sigma: float
    name: str = "gaussian"
    uses_draw = True

    def apply(self, mu: float, z: float, cluster: int, now: float) -> float:
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

    def apply(self, mu: float, z: float, cluster: int, now: float) -> float:
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

    def apply(self, mu: float, z: float, cluster: int, now: float) -> float:
        if cluster == self.cluster and self.start_us <= now < self.end_us:
            return float(round(mu * self.factor))
        return mu

    @property
    def spec(self) -> str:
        end = "inf" if math.isinf(self.end_us) else f"{self.end_us:g}"
        return f"slowdown:{self.cluster_name}:{self.factor:g}:{self.start_us:g}:{end}"


@dataclass(frozen=True)
class ArrivalBurst:
    """Bursty arrivals: during the first `length_us` of every `period_us`, the arrival rate is
    multiplied by `factor` (the inter-arrival mean divided by it)."""

    factor: float
    length_us: float
    period_us: float
    name: str = "burst"
    uses_draw = False

    def scale_at(self, scale_us: float, now: float) -> float:
        in_burst = (now % self.period_us) < self.length_us
        return scale_us / self.factor if in_burst else scale_us

    @property
    def spec(self) -> str:
        return f"burst:{self.factor:g}:{self.length_us:g}:{self.period_us:g}"


ExecNoise = GaussianNoise | LogNormalNoise | PESlowdown
NoiseModel = ExecNoise | ArrivalBurst

NOISE_MODELS = {
    "gaussian": "gaussian:SIGMA (relative std of execution times, gym-ds3)",
    "lognormal": "lognormal:SIGMA (mean-preserving log-normal execution times)",
    "slowdown": "slowdown:CLUSTER:FACTOR[:START_US[:END_US]] (a cluster runs FACTOR x slower)",
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
