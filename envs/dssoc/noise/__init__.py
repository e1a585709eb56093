"""Noise models: seeded perturbations of *actual* execution times and arrivals.

Schedulers always plan with the expected execution times; noise reaches only what happens.
Every model is named and parameterised by a short spec (`gaussian:0.2`, `lognormal:0.3`,
`pareto:2.5`, `slowdown:A15:2:5000:15000`, `persistent:pe:3:2000:8000`, `correlated:0.3:0.5:1000`,
`burst:5:1000:10000`); several combine with `+`.
Per-task random draws are made when a job is injected, in task order, from the noise stream,
so every scheduler faces the same draws for the same seed (common random numbers). Models with
state over time (`persistent`, `correlated`) draw their timelines from their own child streams of
the noise seed, lazily but in a fixed order per PE or cluster, so the timeline depends on the seed
only, never on which scheduler asked first or when.

A model is one module of this package: a dataclass subclassing `ExecNoise` or `ArrivalNoise`
with `@noise_model(PREFIX, USAGE)`, a `parse` classmethod and a `spec` property (see
`dssoc.noise.base`). Every module here is imported with the package, so a new file is all a
new model needs; a model defined elsewhere registers the same way when its module is imported.
"""

from __future__ import annotations

import importlib
import pkgutil

from dssoc.noise.base import (
    ArrivalNoise,
    ExecNoise,
    NoiseKind,
    NoiseModel,
    Timeline,
    expect_args,
    kinds,
    noise_model,
    noise_runtime,
    noise_spec,
    number,
    parse_noise,
    unregister_noise,
)
from dssoc.noise.burst import ArrivalBurst
from dssoc.noise.correlated import CorrelatedNoise, CorrelatedNoiseRun
from dssoc.noise.gaussian import GaussianNoise
from dssoc.noise.lognormal import LogNormalNoise
from dssoc.noise.pareto import ParetoNoise
from dssoc.noise.persistent import PersistentSlowdown, PersistentSlowdownRun
from dssoc.noise.slowdown import PESlowdown

for _module in pkgutil.iter_modules(__path__):  # the models beyond the built-ins above
    importlib.import_module(f"{__name__}.{_module.name}")


def noise_models() -> dict[str, str]:
    """Every spec prefix with its usage line (`none` included), for listings and errors."""
    return {k.prefix: k.usage for k in kinds().values()} | {"none": "none (no noise)"}


__all__ = [
    "ArrivalBurst",
    "ArrivalNoise",
    "CorrelatedNoise",
    "CorrelatedNoiseRun",
    "ExecNoise",
    "GaussianNoise",
    "LogNormalNoise",
    "NoiseKind",
    "NoiseModel",
    "PESlowdown",
    "ParetoNoise",
    "PersistentSlowdown",
    "PersistentSlowdownRun",
    "Timeline",
    "expect_args",
    "kinds",
    "noise_model",
    "noise_models",
    "noise_runtime",
    "noise_spec",
    "number",
    "parse_noise",
    "unregister_noise",
]
