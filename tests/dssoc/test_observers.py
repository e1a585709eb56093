"""Engine observers (`dssoc.observers`): what an attached observer hears, in which order, that
attaching one changes nothing in the run, and that schedulers hear of arrivals only when they
opt in (`Scheduler.observes_arrivals`)."""

from __future__ import annotations

import numpy as np
import pytest

from dssoc import ConfigError, SimConfig, Simulation, make_scheduler
from dssoc.observers import EVENTS, Observer, fanout
from dssoc.runtime import JobRun, TaskRun
from dssoc.schedulers import Scheduler
from dssoc.schedulers.greedy import EarliestFinishTime
from dssoc.view import SimView


def small_config(**kw: object) -> SimConfig:
    return SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=3_000, warmup_us=500, **kw)


class Log(Observer):
    """Records every event it subscribes to, as (event, what)."""

    events = EVENTS

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def on_arrival(self, job: JobRun) -> None:
        self.seen.append(("arrival", job.id))

    def on_start(self, task: TaskRun) -> None:
        self.seen.append(("start", task.uid))

    def on_finish(self, task: TaskRun) -> None:
        self.seen.append(("finish", task.uid))

    def on_job_done(self, job: JobRun) -> None:
        self.seen.append(("job_done", job.id))

    def on_end(self, now: float) -> None:
        self.seen.append(("end", now))


def test_an_observer_hears_every_event_in_causal_order() -> None:
    cfg = small_config(noise="gaussian:0.2")
    sim = Simulation(cfg, seed=2)
    log = Log()
    sim.attach(log)
    result = sim.run(make_scheduler("ETF"))
    kinds = [k for k, _ in log.seen]
    assert kinds.count("arrival") == result.total_injected
    assert kinds.count("finish") == sim.tasks_done
    assert kinds[-1] == "end" and log.seen[-1][1] == result.sim_time_us
    pos = {(k, v): i for i, (k, v) in enumerate(log.seen)}
    for (kind, uid), i in pos.items():
        if kind == "finish":  # every finished task started before
            assert pos[("start", uid)] < i
    done = [v for k, v in log.seen if k == "job_done"]
    assert len(done) == result.total_injected - len(result.unfinished_job_ids)
    for jid in done:
        assert pos[("arrival", jid)] < pos[("job_done", jid)]


def test_attaching_an_observer_changes_nothing() -> None:
    cfg = small_config(noise="gaussian:0.3")
    plain = Simulation(cfg, seed=5).run(make_scheduler("HEFT"))
    sim = Simulation(cfg, seed=5)
    sim.attach(Log())
    sim.subscribe("finish", lambda task: None)
    watched = sim.run(make_scheduler("HEFT"))
    np.testing.assert_array_equal(plain.latencies, watched.latencies)
    assert plain.energy_j == watched.energy_j


def test_subscribe_refuses_an_unknown_event() -> None:
    sim = Simulation(small_config(), seed=0)
    with pytest.raises(ConfigError, match="unknown event 'done'"):
        sim.subscribe("done", lambda task: None)


def test_fanout_calls_every_subscriber_in_order() -> None:
    calls: list[tuple[int, int]] = []
    assert fanout([]) is None
    one = lambda x: calls.append((1, x))  # noqa: E731
    assert fanout([one]) is one
    for n in (2, 3):
        calls.clear()
        f = fanout([lambda x, k=k: calls.append((k, x)) for k in range(n)])
        assert f is not None
        f(7)
        assert calls == [(k, 7) for k in range(n)]


class CountingEFT(EarliestFinishTime):
    """EFT that counts the arrival hooks it receives (without opting in to them)."""

    def __init__(self) -> None:
        self.arrivals = 0

    def on_job_arrival(self, job: JobRun, system: SimView) -> None:
        self.arrivals += 1


class ListeningEFT(CountingEFT):
    observes_arrivals = True


@pytest.mark.parametrize("cls", [CountingEFT, ListeningEFT])
def test_schedulers_hear_of_arrivals_only_when_they_opt_in(cls: type[CountingEFT]) -> None:
    sched = cls()
    result = Simulation(small_config(), seed=1).run(sched)
    assert sched.arrivals == (result.total_injected if cls.observes_arrivals else 0)
    assert result.total_injected > 0


def test_planners_keep_their_plans_and_forget_them_once_bound() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=None, max_jobs=12)
    sched = make_scheduler("HEFT")
    assert isinstance(sched, Scheduler) and sched.observes_arrivals
    sim = Simulation(cfg, seed=3)
    result = sim.run(sched)
    assert result.total_injected == 12 and not result.unfinished_job_ids
    assert sched.plans == {}  # type: ignore[attr-defined]  (every job bound: nothing kept)
    assert not hasattr(JobRun(0, sim.apps[0], 0.0), "plan")  # no planner slot in the engine
