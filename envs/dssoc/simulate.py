"""`simulate()`: the one-call entry point to the simulator."""

from __future__ import annotations

import time
from pathlib import Path

from dssoc.config import SimConfig
from dssoc.engine import Simulation
from dssoc.metrics import SimResult
from dssoc.schedulers import Scheduler, make_scheduler


def simulate(
    config: SimConfig | str | Path | None = None,
    scheduler: str | Scheduler = "ETF",
    seed: int = 0,
    *,
    trace: bool = False,
    validate: bool = False,
) -> SimResult:
    """Simulate `config` (a SimConfig, or a workload name/path with defaults) under `scheduler`
    (a registered name or a Scheduler object) with `seed`; `trace=True` keeps per-task rows for
    `result.trace()` and Gantt charts; `validate=True` checks the schedule and raises on violations.
    """
    if not isinstance(config, SimConfig):
        config = SimConfig.build() if config is None else SimConfig.build(config)
    sched = make_scheduler(scheduler)
    sim = Simulation(config, seed, trace=trace or validate)
    t0 = time.perf_counter()
    result = sim.run(sched)
    result.wall_time_s = time.perf_counter() - t0
    if validate:
        from dssoc.validate import assert_valid

        assert_valid(result, config)
    return result
