"""gym-ds3's relative Gaussian execution-time noise: `gaussian:SIGMA`."""

from __future__ import annotations

from dataclasses import dataclass

from dssoc.noise.base import ExecNoise, expect_args, noise_model, number


@noise_model("gaussian", "gaussian:SIGMA (relative std of execution times, gym-ds3)")
@dataclass(frozen=True)
class GaussianNoise(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> GaussianNoise:
        expect_args(args, 1, 1, "gaussian", where)
        return cls(number(args[0], "sigma", where))
