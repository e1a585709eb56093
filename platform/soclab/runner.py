"""Building simulator configs from user options, and running one (config, scheduler, seed) cell.

The one place where a scheduler *name* becomes an object: registered heuristics by name, trained
policies as `checkpoint:PATH`, so every tool that takes a scheduler takes a learned one too.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dssoc import SimConfig, SimResult, make_scheduler, simulate
from dssoc.errors import ConfigError
from dssoc.schedulers.base import Scheduler

CHECKPOINT_PREFIX = "checkpoint:"


def build_sim_config(
    workload: str | Path = "wifi-tx-rx",
    soc: str | Path | None = None,
    ds3_config: str | Path | None = None,
    probabilities: list[float] | None = None,
    scale_us: float | None = None,
    rate_jobs_per_ms: float | None = None,
    duration_us: float | None = None,
    warmup_us: float | None = None,
    max_jobs: int | None = None,
    noise: str | None = None,
    arrivals: str | None = None,
    mapping: str | None = None,
    workload_seed: int = 0,
    **extra: object,
) -> SimConfig:
    """A SimConfig from CLI/spec options; a DS3 .ini supplies defaults that options override.
    `arrivals` and `mapping` are spec strings (dssoc.arrivals, dssoc.mapping); `workload_seed`
    seeds generated workloads (`wfcommons:RECIPE:TASKS`)."""
    if rate_jobs_per_ms is not None and scale_us is not None:
        raise ConfigError("give either --scale or --rate, not both", "arrivals")
    if rate_jobs_per_ms is not None:
        if not rate_jobs_per_ms > 0:
            raise ConfigError(f"rate must be > 0 jobs/ms, got {rate_jobs_per_ms}", "--rate")
        scale_us = 1000.0 / rate_jobs_per_ms
    if ds3_config is not None:
        from dssoc.ds3 import read_ds3_config

        cfg = read_ds3_config(Path(ds3_config)).to_sim_config(
            scale_us=scale_us, duration_us=duration_us, warmup_us=warmup_us,
            probabilities=probabilities,
        )
        changes: dict[str, object] = dict(extra)
        if max_jobs is not None:
            changes.update(max_jobs=max_jobs, duration_us=duration_us)
        if noise is not None:
            from dssoc.noise import parse_noise

            changes["noise"] = parse_noise(noise)
        if arrivals is not None:
            from dssoc.arrivals import parse_arrivals

            changes["arrivals"] = parse_arrivals(arrivals)
        if mapping is not None:
            raise ConfigError("a DS3 configuration has no imported workflow to map", "--mapping")
        return cfg.replace(**changes) if changes else cfg
    kwargs: dict[str, object] = dict(extra)
    if warmup_us is not None:
        kwargs["warmup_us"] = warmup_us
    if max_jobs is not None:
        kwargs["max_jobs"] = max_jobs
        kwargs["duration_us"] = duration_us
    elif duration_us is not None:
        kwargs["duration_us"] = duration_us
    return SimConfig.build(
        workload, soc, scale_us=scale_us, probabilities=probabilities, noise=noise, arrivals=arrivals,
        mapping=mapping, workload_seed=workload_seed, **kwargs
    )


def resolve_scheduler(spec: str | Scheduler, params: dict[str, Any] | None = None) -> Scheduler:
    """A registered heuristic by name, a trained policy from `checkpoint:PATH`, or a user's
    Scheduler class as `package.module:ClassName`; `params` are the heuristic's constructor
    arguments (an agent's `params:` in a spec)."""
    params = params or {}
    if isinstance(spec, str) and spec.startswith(CHECKPOINT_PREFIX):
        from soclab.rl.policy import load_policy_scheduler

        path = Path(spec[len(CHECKPOINT_PREFIX):])
        if not path.exists():
            raise ConfigError("checkpoint not found", str(path))
        return load_policy_scheduler(path)
    if isinstance(spec, str) and ":" in spec:
        module_name, _, class_name = spec.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot import scheduler class: {e}", spec) from None
        if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
            raise ConfigError("not a dssoc Scheduler subclass", spec)
        return cls(**params)
    return make_scheduler(spec, **params)


def run_cell(
    config: SimConfig, scheduler: str | Scheduler, seed: int, *, trace: bool = False,
    validate: bool = False,
) -> SimResult:
    """Simulate one seed of one configuration under one scheduler."""
    return simulate(config, resolve_scheduler(scheduler), seed, trace=trace, validate=validate)
