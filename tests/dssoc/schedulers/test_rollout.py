"""Snapshots of a run (`copy.deepcopy` of a Simulation), re-drawn futures
(`Simulation.resample_future`) and the `late-rollout` scheduler built on them (no Ray)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import dssoc
from dssoc import ConfigError, SimConfig, Simulation, simulate
from dssoc.validate import check_schedule


def noisy(binding: str = "late", **kw) -> SimConfig:
    """A short noisy wifi run (energy accounting on, so the meter's copy is exercised too)."""
    kw.setdefault("duration_us", 1500)
    kw.setdefault("warmup_us", 200)
    return SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, noise="gaussian:0.3",
                           binding=binding, **kw)


def deterministic(max_jobs: int = 3) -> SimConfig:
    """No noise and fixed-rate arrivals: a sampled future is the true one."""
    return SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=14, max_jobs=max_jobs, duration_us=None,
                           binding="late", fixed_rate=True, energy=False)


def run_to(cfg: SimConfig, scheduler: str, decisions: int,
           seed: int = 3) -> tuple[Simulation, dssoc.Scheduler]:
    """A run (and its scheduler) stopped at its `decisions`-th decision point, before binding."""
    sim = Simulation(cfg, seed)
    sched = dssoc.make_scheduler(scheduler)
    sched.reset(sim, sim.scheduler_rng)
    while sim.advance():
        if sim.decisions == decisions:
            return sim, sched
        for task, pe in sched.schedule(list(sim.ready), sim):
            sim.assign(task, pe)
    raise AssertionError("the run ended before that decision")


def finish(sim: Simulation, sched: dssoc.Scheduler) -> dssoc.SimResult:
    """Bind the pending decision of a run stopped by `run_to` (or of its copy), then run it to
    its end, as `Simulation.run` does."""
    while True:
        for task, pe in sched.schedule(list(sim.ready), sim):
            sim.assign(task, pe)
        if not sim.advance():
            return sim.result(sched.name)


@pytest.mark.parametrize(("binding", "scheduler"), [("late", "late-ETF"), ("early", "ETF")])
def test_a_deep_copy_continues_exactly_as_the_original(binding: str, scheduler: str) -> None:
    cfg = noisy(binding)
    straight = simulate(cfg, scheduler, seed=3)
    sim, sched = run_to(cfg, scheduler, 60)
    twin, twin_sched = copy.deepcopy((sim, sched))  # DS3's ETF keeps state: copied with the run
    got_twin = finish(twin, twin_sched)  # the copy first: it must not disturb the original
    got = finish(sim, sched)
    for r in (got, got_twin):
        np.testing.assert_array_equal(r.latencies, straight.latencies)
        assert r.energy_j == straight.energy_j and r.total_injected == straight.total_injected
    assert twin.decisions == sim.decisions


def test_resampling_keeps_the_past_and_redraws_only_the_unrevealed() -> None:
    sim, sched = run_to(noisy(), "late-ETF", 80)
    twin = copy.deepcopy(sim)
    twin.resample_future(np.random.default_rng(1))
    now = sim.now
    for job_id, job in sim.active_jobs.items():
        other = twin.active_jobs[job_id]
        for t, u in zip(job.tasks, other.tasks, strict=True):
            assert (u.start, u.finish, u.pe) == (t.start, t.finish, t.pe)  # the past is kept
            if t.start >= 0 and t.finish < 0:  # running: a new duration it has not outlived
                assert u.start + u.duration > now or t.start + t.duration <= now
        not_started = [t.index for t in job.tasks if t.start < 0]
        if not_started:  # the draws of the tasks not started are new
            assert not np.array_equal(job.z[0][not_started], other.z[0][not_started])
    again = copy.deepcopy(sim)
    again.resample_future(np.random.default_rng(1))
    a, b = finish(twin, sched), finish(again, sched)  # late-ETF is stateless: one object serves
    np.testing.assert_array_equal(a.latencies, b.latencies)  # a seed fixes the sampled future
    assert not np.array_equal(a.latencies, finish(sim, sched).latencies)


@pytest.mark.parametrize("params", [{"horizon_us": 0.0}, {"top_k": 0, "wait": False}],
                         ids=["zero-horizon", "no-alternatives"])
def test_degenerate_rollout_is_its_base_rule(params: dict) -> None:
    cfg = noisy()
    for base in ("late-ETF", "late-CP"):
        rollout = dssoc.make_scheduler("late-rollout", base=base, samples=2, **params)
        got = simulate(cfg, rollout, seed=2)
        np.testing.assert_array_equal(got.latencies, simulate(cfg, base, seed=2).latencies)
        assert rollout.stats["deviations"] == 0 and rollout.stats["decisions"] > 50


def test_exact_rollout_never_loses_to_its_base() -> None:
    """With the true future (no noise, fixed-rate arrivals) and a horizon to the end of the
    run, the rollout's total time in system (all jobs finish) is at most its base rule's."""
    cfg = deterministic()
    for base in ("late-ETF", "late-HEFT_RT"):
        rollout = dssoc.make_scheduler("late-rollout", base=base, horizon_us=1e9, samples=1,
                                       top_k=2)
        got = simulate(cfg, rollout, seed=0)
        ref = simulate(cfg, base, seed=0)
        assert got.total_injected == ref.total_injected == len(got.latencies) == 3
        assert sum(got.latencies) <= sum(ref.latencies), base
        assert rollout.stats["choices"] > 0
    assert rollout.stats["rollouts"] > 0


def test_rollout_is_deterministic_for_a_seed_and_gives_a_valid_schedule() -> None:
    cfg = noisy(duration_us=500, warmup_us=0)
    runs = []
    for _ in range(2):
        rollout = dssoc.make_scheduler("late-rollout", horizon_us=60, samples=2, top_k=1)
        runs.append((simulate(cfg, rollout, seed=5, trace=True), dict(rollout.stats)))
    (a, stats_a), (b, stats_b) = runs
    np.testing.assert_array_equal(a.latencies, b.latencies)
    assert stats_a == stats_b and stats_a["deviations"] > 0  # it does depart from its base
    assert check_schedule(a, cfg) == []


def test_rollout_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="late-binding rule"):
        dssoc.make_scheduler("late-rollout", base="ETF")
    with pytest.raises(ConfigError, match="samples >= 2"):
        dssoc.make_scheduler("late-rollout", samples=1, margin_z=1.0)
    with pytest.raises(ConfigError):
        dssoc.make_scheduler("late-rollout", horizon_us=-1)
    assert dssoc.scheduler_binding("late-rollout") == "late"
