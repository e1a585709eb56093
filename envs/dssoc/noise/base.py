"""What every noise model is, and the registry of spec-string prefixes that `parse_noise` reads.

A model is a frozen dataclass subclassing `ExecNoise` (perturbs actual execution times) or
`ArrivalNoise` (perturbs the arrival process), decorated with `@noise_model(PREFIX, USAGE)`; its
`parse(args, where)` classmethod builds it from the spec's `:`-separated arguments and its
`spec` property writes it back (so `parse_noise(noise_spec(m)) == m`). Helpers here check
argument counts and numbers with one-line errors that name the spec part.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from dssoc.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from dssoc.model import SoC


class NoiseModel:
    """Base of every noise model. Subclasses set `name`, `uses_draw` (consumes the task's
    standard-normal draw from the common-random-number stream), and `stateful` (then
    `runtime(seed, soc)` returns the per-simulation object that applies it). `acts_on` says who
    applies it: the engine (`"execution"`) or the arrival process (`"arrivals"`)."""

    name: str = ""
    uses_draw: bool = False
    stateful: bool = False
    acts_on: str = "execution"

    @property
    def spec(self) -> str:
        """The model's canonical spec string (inverse of its `parse`)."""
        raise NotImplementedError

    def bind(self, cluster_names: list[str]) -> NoiseModel:
        """The model with names resolved against a SoC's clusters (default: itself)."""
        return self

    @classmethod
    def parse(cls, args: list[str], where: str) -> NoiseModel:
        """Build the model from its spec's arguments (the parts after the prefix)."""
        raise NotImplementedError


class ExecNoise(NoiseModel):
    """Perturbs actual execution times: `apply(mu, z, cluster, now, pe)` -> the actual time of a
    task with expected time `mu` and standard-normal draw `z`, started at `now` on `pe`."""

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        raise NotImplementedError

    def runtime(self, seed: np.random.SeedSequence, soc: SoC) -> Any:
        """The per-simulation state of a `stateful` model (stateless models apply themselves)."""
        return self


class ArrivalNoise(NoiseModel):
    """Modulates the arrival rate piecewise: `factor_at(t)` multiplies the rate at time t,
    constant between `next_change(t)` edges, and never above `peak_factor` (the arrival
    processes of dssoc.arrivals sample exactly with these three)."""

    acts_on = "arrivals"

    def factor_at(self, t: float) -> float:
        raise NotImplementedError

    def next_change(self, t: float) -> float:
        """The first time after `t` at which `factor_at` may change (inf: never)."""
        raise NotImplementedError

    @property
    def peak_factor(self) -> float:
        """An upper bound of `factor_at` (at least 1)."""
        raise NotImplementedError

    def scale_at(self, scale_us: float, now: float) -> float:
        """The inter-arrival mean in force at `now` for a base mean `scale_us`."""
        return scale_us / self.factor_at(now)


@dataclass(frozen=True)
class NoiseKind:
    """A registered spec-string prefix: its usage line and the parser of its arguments."""

    prefix: str
    usage: str
    parse: Callable[[list[str], str], NoiseModel]


_KINDS: dict[str, NoiseKind] = {}
M = TypeVar("M", bound=type[NoiseModel])


def noise_model(prefix: str, usage: str) -> Callable[[M], M]:
    """Class decorator: register a model class under spec prefix `prefix` (`usage` is the line
    error messages and listings show, e.g. `gaussian:SIGMA (relative std ...)`)."""
    if not prefix.isidentifier() or prefix == "none":
        raise ValueError(f"noise prefix {prefix!r} must be an identifier other than 'none'")

    def wrap(cls: M) -> M:
        _KINDS[prefix] = NoiseKind(prefix, usage, cls.parse)
        return cls

    return wrap


def unregister_noise(prefix: str) -> None:
    """Remove a registered prefix (for tests that define a model of their own)."""
    _KINDS.pop(prefix, None)


def kinds() -> dict[str, NoiseKind]:
    """The registered prefixes, in registration order."""
    return dict(_KINDS)


def usage(prefix: str) -> str:
    return _KINDS[prefix].usage


def expect_args(args: Sequence[str], low: int, high: int, prefix: str, where: str) -> None:
    """Refuse a spec with fewer than `low` or more than `high` arguments, showing the usage."""
    if not low <= len(args) <= high:
        raise ConfigError(f"expected {usage(prefix)}", where)


def number(text: str, what: str, where: str, allow_inf: bool = False) -> float:
    """`text` as a finite number >= 0 (or +inf if allowed); a one-line error otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, got {text!r}", where) from None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise ConfigError(f"{what} must be a finite number >= 0, got {text!r}", where)
    return value


class Timeline:
    """Per unit (PE or cluster), a lazily extended random sequence drawn from the unit's own
    generator in order, so entry k is a function of the seed only."""

    def __init__(self, seed: np.random.SeedSequence, n_units: int) -> None:
        self.rngs = [np.random.default_rng(s) for s in seed.spawn(n_units)]


def parse_noise(spec: str | None) -> tuple[NoiseModel, ...]:
    """Parse `gaussian:0.2+slowdown:A15:2` into noise models; '' or 'none' means no noise.
    Each `+`-separated part is dispatched on its prefix to the registered model's parser."""
    if spec is None or spec.strip() in ("", "none"):
        return ()
    models: list[NoiseModel] = []
    for part in spec.split("+"):
        where = f"noise spec {part!r}"
        kind, *args = part.strip().split(":")
        if kind not in _KINDS:
            raise UnknownNameError("noise model", kind, [*_KINDS, "none"], where)
        models.append(_KINDS[kind].parse(args, where))
    return tuple(models)


def noise_spec(models: tuple[NoiseModel, ...]) -> str:
    """The canonical spec string of a tuple of models (inverse of `parse_noise`)."""
    return "+".join(m.spec for m in models) or "none"


def noise_runtime(models: Sequence[NoiseModel], seed: np.random.SeedSequence, soc: SoC) -> list:
    """The execution-noise models of one simulation: stateless models as they are, stateful
    ones (`runtime`) instantiated on child streams of the noise seed, one per model in order.
    Models acting on arrivals (`acts_on = "arrivals"`: bursts) are left to the arrival process."""
    out = []
    for m in models:
        if m.acts_on != "execution":
            continue
        if m.stateful and isinstance(m, ExecNoise):
            out.append(m.runtime(seed.spawn(1)[0], soc))
        else:
            out.append(m)
    return out
