"""Random persistent slow periods per PE or cluster: `persistent:pe|cluster:FACTOR:SLOW:NORMAL`."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dssoc.errors import ConfigError
from dssoc.noise.base import ExecNoise, Timeline, expect_args, noise_model, number

if TYPE_CHECKING:
    from dssoc.model import SoC


@noise_model("persistent", "persistent:pe|cluster:FACTOR:MEAN_SLOW_US:MEAN_NORMAL_US "
             "(random slow periods)")
@dataclass(frozen=True)
class PersistentSlowdown(ExecNoise):
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

    @classmethod
    def parse(cls, args: list[str], where: str) -> PersistentSlowdown:
        expect_args(args, 4, 4, "persistent", where)
        if args[0] not in ("pe", "cluster"):
            raise ConfigError(f"level must be 'pe' or 'cluster', got {args[0]!r}", where)
        factor, slow, normal = (number(a, n, where) for a, n in zip(
            args[1:], ("factor", "mean slow period", "mean normal period"), strict=True))
        if factor <= 0 or slow <= 0 or normal <= 0:
            raise ConfigError("factor and both mean periods must be > 0", where)
        return cls(args[0], factor, slow, normal)


class PersistentSlowdownRun(Timeline):
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
