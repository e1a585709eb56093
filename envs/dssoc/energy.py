"""DS3's power model at the performance governor, as cluster power per number of busy cores.

Integrated event by event by the engine: energy = sum over clusters of P_c(busy cores) dt, plus
a base power, counted only after warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dssoc.model import Cluster, SoC

# Leakage coefficients of DS3 (Odroid XU3 board), domain.md section 4.
C1, C2, IGATE = 0.002488, 2660.0, 0.000519
T_AMBIENT_C = 42.0
BASE_POWER_W = 0.0473 + 0.1201  # memory + GPU, spread over the PEs in DS3


def cluster_static_power_w(voltage_v: float, kind: str, t_celsius: float = T_AMBIENT_C) -> float:
    """Leakage of a whole cluster: V*C1*T^2*exp(-C2/T) + Igate*V (T in kelvin); /4 for LITTLE."""
    t = t_celsius + 273.15
    p = voltage_v * C1 * t * t * math.exp(-C2 / t) + IGATE * voltage_v
    return p / 4 if kind == "LTL" else p


@dataclass(frozen=True)
class PowerModel:
    """`cluster_power_w[c][n]` is the power (W) of cluster c with n busy cores."""

    cluster_power_w: tuple[tuple[float, ...], ...]
    base_power_w: float

    @classmethod
    def for_soc(cls, soc: SoC) -> PowerModel | None:
        if not any(c.power is not None for c in soc.clusters):
            return None
        return cls(tuple(_cluster_table(c) for c in soc.clusters), BASE_POWER_W)


def _cluster_table(c: Cluster) -> tuple[float, ...]:
    if c.power is None or not c.power.power_profile:
        return (0.0,) * (c.capacity + 1)
    freq, mv = c.power.max_opp
    thresholds = sorted(c.power.power_profile)
    row_freq = next((f for f in thresholds if f >= freq), thresholds[-1])
    profile = c.power.power_profile[row_freq]
    leak_core = cluster_static_power_w(mv / 1000.0, c.kind) / 4
    table = [leak_core * c.capacity]
    for n in range(1, c.capacity + 1):
        busy = profile[min(n, len(profile)) - 1]
        table.append(busy - leak_core * len(profile) + leak_core * c.capacity)
    return tuple(table)
