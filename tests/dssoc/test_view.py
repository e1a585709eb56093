"""`dssoc.view.SimView`: every registered scheduler runs on the view alone. Each one is driven
through a proxy that exposes only the protocol's members, and must produce exactly the run
`Simulation.run` produces (so no scheduler reaches past the view into the engine)."""

from __future__ import annotations

import numpy as np
import pytest

from dssoc import SimConfig, Simulation, make_scheduler, scheduler_binding
from dssoc.schedulers.base import check_binding
from dssoc.view import SimView
from tests.conftest import sweepable_schedulers

VIEW_MEMBERS = frozenset(
    name for name in dir(SimView) if not name.startswith("_")
) - frozenset(dir(object))


class ViewOnly:
    """Forwards the `SimView` members of a simulation and refuses everything else."""

    def __init__(self, sim: Simulation) -> None:
        object.__setattr__(self, "_sim", sim)

    def __getattr__(self, name: str) -> object:
        if name not in VIEW_MEMBERS:
            raise AttributeError(f"{name!r} is not part of SimView")
        return getattr(object.__getattribute__(self, "_sim"), name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SimView is read-only ({name!r})")


def drive_through_view(sim: Simulation, scheduler) -> None:
    """`Simulation.run`'s loop, with the scheduler seeing only the proxy."""
    view = ViewOnly(sim)
    check_binding(scheduler, sim.config.binding)
    scheduler.reset(view, sim.scheduler_rng)
    if scheduler.observes_arrivals:
        sim.subscribe("arrival", lambda job: scheduler.on_job_arrival(job, view))
    while sim.advance():
        for task, pe in scheduler.schedule(list(sim.ready), view):
            sim.assign(task, pe)


def config_for(name: str) -> SimConfig:
    binding = scheduler_binding(name)
    governor = "ondemand" if name == "EDP_DVFS" else None
    return SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=2_500, warmup_us=300,
                           noise="gaussian:0.2", binding=binding, governor=governor)


def test_the_view_lists_what_schedulers_read() -> None:
    for member in ("now", "ready", "pe_running", "active_jobs", "exec_times", "mean_exec_time",
                   "best_time_rank", "data_ready_times", "transfer_times", "pe_waiting",
                   "pe_live_available", "jobs_remaining_critical_path", "hold_after", "request_opp"):
        assert member in VIEW_MEMBERS
    assert "assign" not in VIEW_MEMBERS and "pe_queue" not in VIEW_MEMBERS


@pytest.mark.parametrize("name", sweepable_schedulers())
def test_every_scheduler_runs_on_the_view_alone(name: str) -> None:
    cfg = config_for(name)
    expected = Simulation(cfg, seed=4).run(make_scheduler(name))
    sim = Simulation(cfg, seed=4)
    drive_through_view(sim, make_scheduler(name))
    got = sim.result(name)
    assert got.total_injected == expected.total_injected > 0
    np.testing.assert_array_equal(got.latencies, expected.latencies)
