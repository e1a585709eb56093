"""Heavy-tailed, mean-preserving Pareto execution times: `pareto:ALPHA`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc.errors import ConfigError
from dssoc.noise.base import ExecNoise, expect_args, noise_model, number


@noise_model("pareto", "pareto:ALPHA (mean-preserving Pareto execution times, tail index ALPHA > 1)")
@dataclass(frozen=True)
class ParetoNoise(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> ParetoNoise:
        expect_args(args, 1, 1, "pareto", where)
        alpha = number(args[0], "alpha", where)
        if alpha <= 1:
            raise ConfigError(f"alpha must be > 1 (finite mean), got {args[0]}", where)
        return cls(alpha)
