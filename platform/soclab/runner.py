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
    **options: Any,
) -> SimConfig:
    """A SimConfig from CLI options: SimConfig inputs by name (None = not given, e.g.
    `rate_jobs_per_ms`, `noise`, `max_jobs`; only `max_jobs` given means no time limit). A DS3
    .ini supplies the defaults that the options override (`SimConfig.replace`)."""
    given = {k: v for k, v in options.items() if v is not None}
    if "max_jobs" in given and "duration_us" not in given:
        given["duration_us"] = None
    if ds3_config is None:
        return SimConfig.model_validate({"workload": workload, "soc": soc, **given})
    if "mapping" in given:
        raise ConfigError("a DS3 configuration has no imported workflow to map", "--mapping")
    from dssoc.ds3 import read_ds3_config

    base = read_ds3_config(Path(ds3_config)).to_sim_config()
    return base.replace(**given) if given else base


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
    """Simulate one seed of one configuration under one scheduler (a trained policy evaluated
    outside its training conditions gets one warning naming both values)."""
    sched = resolve_scheduler(scheduler)
    warn_outside_training(sched, config)
    return simulate(config, sched, seed, trace=trace, validate=validate)


def warn_outside_training(scheduler: Scheduler, config: SimConfig) -> None:
    """Warn once (stderr) when a checkpoint's policy runs at another rate, noise or workload
    than it was trained at: legitimate for a generalisation study, a mistake otherwise."""
    trained_on = getattr(scheduler, "trained_on", None)
    if not trained_on:
        return
    from soclab.rl.policy import training_mismatch
    from soclab.ui import warn_once

    diffs = training_mismatch(trained_on, config.summary())
    if diffs:
        where = getattr(scheduler, "checkpoint_path", "the checkpoint")
        warn_once(f"{where} is evaluated outside its training conditions: " + "; ".join(diffs))
