"""A cluster running slower in a time window: `slowdown:CLUSTER:FACTOR[:START_US[:END_US]]`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc.errors import ConfigError, UnknownNameError
from dssoc.noise.base import ExecNoise, expect_args, noise_model, number


@noise_model("slowdown", "slowdown:CLUSTER:FACTOR[:START_US[:END_US]] (a cluster runs FACTOR x slower)")
@dataclass(frozen=True)
class PESlowdown(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> PESlowdown:
        expect_args(args, 2, 4, "slowdown", where)
        factor = number(args[1], "factor", where)
        start = number(args[2], "start", where) if len(args) > 2 else 0.0
        end = number(args[3], "end", where, allow_inf=True) if len(args) > 3 else math.inf
        if factor <= 0:
            raise ConfigError("factor must be > 0", where)
        return cls(args[0], factor, start, end)
