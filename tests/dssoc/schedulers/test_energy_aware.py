"""Energy-aware schedulers (ETF_LB, HEFT_EDP, HEFT_EDP_REL) on hand-checked cases."""

from __future__ import annotations

import pytest

from dssoc import Application, Cluster, SimConfig, SoC, Task, Workload, simulate
from dssoc.model import PowerSpec


def acc(name: str, times: dict[str, float], watts: float, governor: str = "performance",
        opps: tuple = ((1000, 1000),), capacity: int = 1) -> Cluster:
    """A leak-free (type ACC) cluster drawing `watts` per busy core at f_max."""
    return Cluster(name, "ACC", capacity, times, PowerSpec(opps, {1000: (watts,) * capacity}, {}),
                   governor)


def config(soc: SoC, app: Application, **kw) -> SimConfig:
    kw.setdefault("max_jobs", 1)
    kw.setdefault("duration_us", None)
    return SimConfig(soc=soc, workload=Workload(app.name, (app,), (1.0,)), **kw)


def test_etf_lb_follows_the_current_frequency() -> None:
    """X runs `a` in 10 us at f_max but sits at powersave (250 of 1000 MHz: 40 us); Y takes 20 us.
    ETF plans with f_max times and picks X; ETF_LB sees X's slowdown and picks Y."""
    soc = SoC("two", (acc("X", {"a": 10.0}, 1.0, "powersave", ((250, 1000), (1000, 1000))),
                      acc("Y", {"a": 20.0}, 1.0)), {})
    cfg = config(soc, Application("a", (Task("a"),)))
    assert simulate(cfg, "ETF").avg_latency_us == 40.0
    assert simulate(cfg, "ETF_LB", validate=True).avg_latency_us == 20.0


def test_etf_lb_breaks_ties_by_load() -> None:
    """Two identical PEs; jobs at 0 and 20 (fixed rate) each take 10 us. At 20 both PEs tie:
    ETF takes the first PE again, ETF_LB the one given fewer tasks."""
    soc = SoC("pair", (acc("X", {"a": 10.0}, 1.0, capacity=2),), {})
    cfg = config(soc, Application("a", (Task("a"),)), max_jobs=2, scale_us=20, fixed_rate=True)
    assert list(simulate(cfg, "ETF", trace=True).trace().pe) == [0, 0]
    assert list(simulate(cfg, "ETF_LB", trace=True).trace().pe) == [0, 1]


@pytest.fixture
def edp_case() -> SimConfig:
    """Two independent tasks `a`: accelerator X (0.1 W, 30 us) or CPU Y (1 W, 10 us).

    Task 1: X's EDP 0.1*30*30 = 90 < Y's 1*10*10 = 100 (absolute and relative alike): X.
    Task 2: absolute EDP ignores that X is busy until 30: X again, job ends at 60. Relative EDP
    charges the wait: X 3 uJ x (60 - 0) = 180 > Y 10 x 10 = 100: Y, the job ends at 30.
    HEFT (earliest finish) puts task 1 on Y (10) and task 2 on X (30): 30 too.
    """
    soc = SoC("edp", (acc("X", {"a": 30.0}, 0.1), acc("Y", {"a": 10.0}, 1.0)), {})
    return config(soc, Application("ab", (Task("a"), Task("a"))))


def test_heft_edp_absolute_by_hand(edp_case: SimConfig) -> None:
    r = simulate(edp_case, "HEFT_EDP", trace=True, validate=True)
    assert list(r.trace().pe) == [0, 0] and r.avg_latency_us == 60.0


def test_heft_edp_relative_by_hand(edp_case: SimConfig) -> None:
    r = simulate(edp_case, "HEFT_EDP_REL", trace=True, validate=True)
    assert sorted(zip(r.trace().start, r.trace().pe, strict=True)) == [(0.0, 0), (0.0, 1)]
    assert r.avg_latency_us == 30.0


def test_edp_variants_trade_latency_for_energy_on_the_wifi_mix() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=10_000, warmup_us=1000)
    heft, absolute, relative = (simulate(cfg, s, seed=1) for s in ("HEFT", "HEFT_EDP", "HEFT_EDP_REL"))
    assert absolute.energy_per_job_j < relative.energy_per_job_j < heft.energy_per_job_j
    assert heft.avg_latency_us < relative.avg_latency_us < absolute.avg_latency_us


@pytest.mark.parametrize(("low_mv", "latency", "trace"), [
    (800, 20.0, ((0.0, 0, 1000),)),  # 500 MHz at 0.8 V: 0.32 W x 40 us x 40 = 512 > 1 x 20 x 20
    (600, 30.0, ((0.0, 0, 1000), (10.0, 0, 500))),  # 0.18 W: 7.2 uJ x 40 = 288 < 400: slow down
])
def test_edp_dvfs_chooses_the_operating_point_by_hand(low_mv: int, latency: float, trace) -> None:
    """One core, task `b` of 20 us at 1000 MHz (1 W) or at 500 MHz (power x f V^2 / f_th V_th^2).
    The request holds from the next sampling instant: 10 us at 1000 MHz, the other 10 us of work
    at half speed, finish at 30."""
    soc = SoC("one", (acc("X", {"b": 20.0}, 1.0, opps=((500, low_mv), (1000, 1000))),), {})
    r = simulate(config(soc, Application("b", (Task("b"),))), "EDP_DVFS", validate=True)
    assert r.avg_latency_us == latency and r.frequency_trace == trace


def test_edp_dvfs_saves_energy_on_the_wifi_mix() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=10_000, warmup_us=1000)
    etf, edp = simulate(cfg, "ETF", seed=1), simulate(cfg, "EDP_DVFS", seed=1, validate=True)
    assert edp.energy_per_job_j < 0.6 * etf.energy_per_job_j and len(edp.frequency_trace) > 5


def test_dvfs_cannot_be_enabled_once_tasks_ran() -> None:
    from dssoc.engine import Simulation
    from dssoc.errors import SchedulerError
    from dssoc.schedulers import make_scheduler

    sim = Simulation(SimConfig.build("wifi_tx", max_jobs=1, duration_us=None))
    sim.run(make_scheduler("ETF"))
    with pytest.raises(SchedulerError, match="before the first task starts"):
        sim.request_opp(0, 0)
