"""Cluster-correlated Gaussian execution times: `correlated:SIGMA:RHO[:WINDOW_US]`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dssoc.errors import ConfigError
from dssoc.noise.base import ExecNoise, Timeline, expect_args, noise_model, number

if TYPE_CHECKING:
    from dssoc.model import SoC


@noise_model("correlated", "correlated:SIGMA:RHO[:WINDOW_US] (Gaussian, correlation RHO within a "
             "cluster and window, default 1000 µs)")
@dataclass(frozen=True)
class CorrelatedNoise(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> CorrelatedNoise:
        expect_args(args, 2, 3, "correlated", where)
        sigma = number(args[0], "sigma", where)
        rho = number(args[1], "rho", where)
        window = number(args[2], "window", where) if len(args) > 2 else 1000.0
        if rho > 1 or window <= 0:
            raise ConfigError("rho must be in [0, 1] and the window > 0", where)
        return cls(sigma, rho, window)


class CorrelatedNoiseRun(Timeline):
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
