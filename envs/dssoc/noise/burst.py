"""Bursty arrivals: `burst:FACTOR:LENGTH_US:PERIOD_US`."""

from __future__ import annotations

from dataclasses import dataclass

from dssoc.errors import ConfigError
from dssoc.noise.base import ArrivalNoise, expect_args, noise_model, number


@noise_model("burst", "burst:FACTOR:LENGTH_US:PERIOD_US (arrival rate x FACTOR in bursts)")
@dataclass(frozen=True)
class ArrivalBurst(ArrivalNoise):
    """Bursty arrivals: during the first `length_us` of every `period_us`, the arrival rate is
    multiplied by `factor` (the inter-arrival mean divided by it)."""

    factor: float
    length_us: float
    period_us: float
    name: str = "burst"
    uses_draw = False

    def factor_at(self, t: float) -> float:
        return self.factor if (t % self.period_us) < self.length_us else 1.0

    def next_change(self, t: float) -> float:
        phase = t % self.period_us
        nxt = (self.length_us - phase) if phase < self.length_us else (self.period_us - phase)
        return t + max(nxt, 1e-9)

    @property
    def peak_factor(self) -> float:
        return max(self.factor, 1.0)

    def scale_at(self, scale_us: float, now: float) -> float:
        in_burst = (now % self.period_us) < self.length_us
        return scale_us / self.factor if in_burst else scale_us

    @property
    def spec(self) -> str:
        return f"burst:{self.factor:g}:{self.length_us:g}:{self.period_us:g}"

    @classmethod
    def parse(cls, args: list[str], where: str) -> ArrivalBurst:
        expect_args(args, 3, 3, "burst", where)
        factor, length, period = (number(a, n, where) for a, n in zip(
            args, ("factor", "length", "period"), strict=True))
        if factor <= 0 or period <= 0:
            raise ConfigError("factor and period must be > 0", where)
        return cls(factor, length, period)
