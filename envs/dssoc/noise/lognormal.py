"""Heavy-tailed, mean-preserving log-normal execution times: `lognormal:SIGMA`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc.noise.base import ExecNoise, expect_args, noise_model, number


@noise_model("lognormal", "lognormal:SIGMA (mean-preserving log-normal execution times)")
@dataclass(frozen=True)
class LogNormalNoise(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> LogNormalNoise:
        expect_args(args, 1, 1, "lognormal", where)
        return cls(number(args[0], "sigma", where))
