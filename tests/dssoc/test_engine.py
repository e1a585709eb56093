"""Engine semantics of the dssoc simulator, through its public interface (`dssoc.simulate`,
`SimConfig`, `SimResult`, `dssoc.validate`): determinism, common random numbers, the DS3 task
life cycle on hand-computed cases, the job cap, warm-up, stopping rules, arrivals, metric
definitions, golden single-job DS3 latencies and the schedule validator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import dssoc
from dssoc import Application, Cluster, ConfigError, SimConfig, SimResult, SoC, Task, Workload, simulate
from dssoc.validate import ScheduleViolation, assert_valid, check_schedule
from tests.conftest import sweepable_schedulers

DS3_SCHEDULERS = ("MET", "ETF", "HEFT")


# ----------------------------------------------------------------------------- helpers
def hand_soc(*clusters: tuple[str, int, dict[str, float]], bandwidth=None, self_bw=10000.0) -> SoC:
    """An SoC from (name, capacity, exec table) triples; no power model (energy 0)."""
    return SoC("hand", tuple(Cluster(n, "CPU", cap, ex) for n, cap, ex in clusters),
               bandwidth or {}, self_bandwidth=self_bw, default_bandwidth=1.0)


def single(app: Application, soc: SoC, **kw) -> SimConfig:
    """A one-application config; by default a single job (max_jobs=1, no duration)."""
    kw.setdefault("max_jobs", 1)
    kw.setdefault("duration_us", None)
    return SimConfig(soc=soc, workload=Workload(app.name, (app,), (1.0,)), **kw)


def rows(result: SimResult) -> pd.DataFrame:
    return result.trace().sort_values(["job", "task"]).reset_index(drop=True)


def metrics_without_wall(result: SimResult) -> dict:
    return {k: v for k, v in result.metrics().items() if k != "wall_time_s"}


def same_metrics(a: dict, b: dict) -> bool:
    return all((x == y) or (x != x and y != y) for x, y in zip(a.values(), b.values(), strict=True))


def in_flight_profile(jobs: pd.DataFrame) -> int:
    """Maximum number of jobs in the system (departures at an instant counted before arrivals)."""
    events = [(t, 1) for t in jobs.arrival] + [(t, -1) for t in jobs.finish]
    level = peak = 0
    for _, d in sorted(events):  # -1 sorts before +1 at the same time
        level += d
        peak = max(peak, level)
    return peak


# Chain a -> b -> c on two single-PE clusters: b is faster on B, A<->B bandwidth 5.
CHAIN = Application("chain", (Task("a"), Task("b", (0,)), Task("c", (1,))),
                    volumes={(0, 1): 12.0, (1, 2): 8.0})
CHAIN_SOC = hand_soc(("A", 1, {"a": 3.0, "b": 7.0, "c": 4.0}), ("B", 1, {"b": 2.0}),
                     bandwidth={("A", "B"): 5.0})

# Fork/join src -> (w, w) -> join; w runs on A (8) or B (4); A<->B bandwidth 10.
FORK_JOIN = Application("fj", (Task("src"), Task("w", (0,)), Task("w", (0,)), Task("join", (1, 2))),
                        volumes={(0, 1): 50.0, (0, 2): 50.0, (1, 3): 30.0, (2, 3): 30.0})
FJ_SOC = hand_soc(("A", 1, {"src": 10.0, "w": 8.0, "join": 5.0}), ("B", 1, {"w": 4.0}),
                  bandwidth={("A", "B"): 10.0})


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("scheduler", ["MET", "ETF", "HEFT", "random"])
def test_same_config_and_seed_give_identical_metrics_and_trace(scheduler: str) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=8000, noise="gaussian:0.2")
    a = simulate(cfg, scheduler, seed=3, trace=True)
    b = simulate(cfg, scheduler, seed=3, trace=True)
    assert a.completed_jobs > 10
    assert same_metrics(metrics_without_wall(a), metrics_without_wall(b))
    np.testing.assert_array_equal(a.latencies, b.latencies)
    pd.testing.assert_frame_equal(a.trace(), b.trace())
    pd.testing.assert_frame_equal(a.jobs(), b.jobs())
    assert a.utilization == b.utilization


def test_different_seeds_differ() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=8000)
    a = simulate(cfg, "ETF", seed=0, trace=True)
    b = simulate(cfg, "ETF", seed=1, trace=True)
    assert a.jobs().arrival.tolist() != b.jobs().arrival.tolist()
    assert not same_metrics(metrics_without_wall(a), metrics_without_wall(b))


def test_every_scheduler_sees_the_same_jobs_for_a_seed() -> None:
    """Common random numbers: at a low rate (the job cap never blocks) every scheduler faces the
    same arrival times and the same application per job."""
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=1, max_jobs=40, duration_us=None)
    frames = {s: simulate(cfg.replace(binding=dssoc.scheduler_binding(s)), s, seed=11,
                          trace=True).jobs().sort_values("job")
              for s in sweepable_schedulers()}
    ref = frames["MET"]
    assert len(ref) == 40 and set(ref.app) == {"wifi_tx", "wifi_rx"}  # a genuine mix
    for name, jobs in frames.items():
        assert jobs.job.tolist() == ref.job.tolist(), name
        assert jobs.arrival.tolist() == ref.arrival.tolist(), name
        assert jobs.app.tolist() == ref.app.tolist(), name
    # ...while the schedules themselves differ
    assert frames["MET"].finish.tolist() != frames["ETF"].finish.tolist()


# ------------------------------------------------------------- DS3 life cycle, by hand
@pytest.mark.parametrize("scheduler", DS3_SCHEDULERS)
def test_chain_computed_by_hand(scheduler: str) -> None:
    # a on A [0, 3); b on B after 12/5 = 2.4 -> int 2: [5, 7); c on A after 8/5 = 1.6 -> 1: [8, 12)
    r = simulate(single(CHAIN, CHAIN_SOC), scheduler, trace=True)
    t = rows(r)
    assert t.pe_name.tolist() == ["A.0", "B.0", "A.0"]
    assert t.start.tolist() == [0.0, 5.0, 8.0]
    assert t.finish.tolist() == [3.0, 7.0, 12.0]
    assert t.data_ready.tolist() == [0.0, 5.0, 8.0]
    assert t.ready.tolist() == [0.0, 3.0, 7.0]  # ready when the last predecessor finishes
    assert r.avg_latency_us == 12.0 and r.completed_jobs == 1


def test_chain_without_integer_times_keeps_fractional_transfers() -> None:
    # b: 3 + 2.4 = 5.4 -> 7.4; c: 7.4 + 1.6 = 9.0 -> 13.0
    r = simulate(single(CHAIN, CHAIN_SOC, integer_times=False, ds3_event_order=False), "MET",
                 trace=True)
    t = rows(r)
    assert t.start.tolist() == pytest.approx([0.0, 5.4, 9.0])
    assert r.avg_latency_us == pytest.approx(13.0)


def test_fork_join_under_met_by_hand() -> None:
    # MET puts both w on B (4 < 8): they queue there; join waits for the later one + 30/10.
    t = rows(simulate(single(FORK_JOIN, FJ_SOC), "MET", trace=True))
    assert t.pe_name.tolist() == ["A.0", "B.0", "B.0", "A.0"]
    assert t.data_ready.tolist() == [0.0, 15.0, 15.0, 26.0]  # 10 + 50/10; 23 + 30/10
    assert t.start.tolist() == [0.0, 15.0, 19.0, 26.0]  # the second w waits for B
    assert t.finish.max() == 31.0


def test_fork_join_under_etf_by_hand_with_same_pe_zero_transfer() -> None:
    # ETF: first w on A finishes at 10 + 0 + 8 = 18 (same-PE transfer 50/10000 truncates to 0)
    # vs 10 + 5 + 4 = 19 on B; the second w then finishes at 19 on B vs 26 on A.
    # join on A: max(18 + 0 (same PE), 19 + 3) = 22, finishing at 27.
    r = simulate(single(FORK_JOIN, FJ_SOC), "ETF", trace=True)
    t = rows(r)
    assert t.pe_name.tolist() == ["A.0", "A.0", "B.0", "A.0"]
    assert t.data_ready.tolist() == [0.0, 10.0, 15.0, 22.0]
    assert t.start.tolist() == [0.0, 10.0, 15.0, 22.0]
    assert t.finish.tolist() == [10.0, 18.0, 19.0, 27.0]
    assert r.avg_latency_us == 27.0
    # Without truncation the same-PE edge costs volume / self bandwidth.
    t2 = rows(simulate(single(FORK_JOIN, FJ_SOC, integer_times=False, ds3_event_order=False),
                       "ETF", trace=True))
    assert t2.data_ready[1] == pytest.approx(10.0 + 50 / 10000)


def test_older_job_starts_first_on_a_shared_pe() -> None:
    """PE queues are ordered by job id, not binding time: job 1's head (bound at 3) waits while
    job 0's second task (bound at 5) takes the PE at 5."""
    app = Application("ab", (Task("a"), Task("b", (0,))))
    soc = hand_soc(("P", 1, {"a": 5.0, "b": 5.0}))
    cfg = single(app, soc, max_jobs=2, fixed_rate=True, scale_us=3.0)
    t = rows(simulate(cfg, "ETF", trace=True))
    j0b = t[(t.job == 0) & (t.task == 1)].iloc[0]
    j1a = t[(t.job == 1) & (t.task == 0)].iloc[0]
    assert j1a.bound == 3.0 and j0b.bound == 5.0  # job 1's task was bound first...
    assert j0b.start == 5.0 and j1a.start == 10.0  # ...but job 0's task runs first
    assert t.finish.max() == 20.0


def test_job_finish_is_its_last_task_finish() -> None:
    """Regression: a deferred completion (processed at finish + 1) may be a job's last event
    although another of its tasks finished later; the job still ends at its latest finish."""
    # a (1 µs, completion deferred to t=2) and b (1.5 µs, completion at t=1.5) run in parallel
    soc = hand_soc(("P", 2, {"a": 1.0, "b": 1.5}))
    app = Application("ab", (Task("a"), Task("b")))
    cfg = single(app, soc)
    r = simulate(cfg, "ETF", trace=True)
    assert r.trace().finish.max() == 1.5
    assert r.avg_latency_us == 1.5  # used to be 1.0, the deferred task's finish
    assert check_schedule(r, cfg) == []


def test_ds3_tick_order_delays_after_a_one_microsecond_task() -> None:
    """DS3 handles the completion of a task started in a tick that lasts <= 1 µs one tick late."""
    app = Application("short", (Task("a"), Task("b", (0,))))
    soc = hand_soc(("P", 1, {"a": 1.0, "b": 5.0}))
    late = rows(simulate(single(app, soc), "MET", trace=True))
    plain = rows(simulate(single(app, soc, ds3_event_order=False), "MET", trace=True))
    assert late.finish[0] == 1.0 and late.start[1] == 2.0
    assert plain.start[1] == 1.0


# ------------------------------------------------------------------------------ job cap
def test_job_cap_blocks_arrivals_until_a_job_leaves() -> None:
    # One PE, a 10 µs job, an arrival every µs, at most 2 jobs in flight: job 0 at 0, job 1 at 1,
    # the arrival at 2 blocks; each later job enters exactly when the oldest one leaves.
    app = Application("one", (Task("x"),))
    soc = hand_soc(("P", 1, {"x": 10.0}))
    cfg = single(app, soc, max_jobs=6, fixed_rate=True, scale_us=1.0, max_jobs_in_flight=2)
    jobs = simulate(cfg, "MET", trace=True).jobs().sort_values("job")
    assert jobs.arrival.tolist() == [0.0, 1.0, 10.0, 20.0, 30.0, 40.0]
    assert jobs.finish.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert in_flight_profile(jobs) == 2


@pytest.mark.parametrize("cap", [1, 3])
def test_never_more_jobs_in_flight_than_the_cap(cap: int) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=200, max_jobs=60, duration_us=None,
                          max_jobs_in_flight=cap)
    r = simulate(cfg, "ETF", seed=2, trace=True)
    jobs = r.jobs().sort_values("job")
    assert len(jobs) == 60 and r.unfinished_job_ids == ()
    assert in_flight_profile(jobs) == cap
    # Saturated: most jobs enter at the instant an earlier job leaves (the blocked arrival). A
    # completion DS3 processes after its tick (see dssoc.engine) frees the slot 1 µs later.
    finishes = set(jobs.finish)
    entered_on_departure = sum(a in finishes or a - 1 in finishes for a in jobs.arrival.iloc[cap:])
    assert entered_on_departure >= 0.8 * (60 - cap)
    assert (np.diff(jobs.arrival.to_numpy()) >= 0).all()  # ids follow injection order


# ---------------------------------------------------------- warm-up and stopping rules
def test_warmup_excludes_early_completions() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, max_jobs=80, duration_us=None,
                          warmup_us=5000)
    r = simulate(cfg, "ETF", seed=4, trace=True)
    jobs = r.jobs()
    counted = jobs[jobs.finish >= 5000]
    assert 0 < len(counted) < len(jobs)  # some completions fall in the warm-up
    assert r.completed_jobs == len(counted)
    np.testing.assert_allclose(np.sort(r.latencies), np.sort(counted.finish - counted.arrival))
    assert r.injected_jobs == int((jobs.arrival >= 5000).sum())
    assert sum(r.completed_by_app.values()) == r.completed_jobs


def test_max_jobs_mode_drains_and_stops() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=20, max_jobs=25, duration_us=None)
    r = simulate(cfg, "HEFT", seed=5, trace=True)
    jobs = r.jobs()
    assert r.total_injected == 25 and r.completed_jobs == 25 and len(jobs) == 25
    assert r.unfinished_job_ids == ()
    assert r.sim_time_us == jobs.finish.max()
    sizes = {"wifi_tx": 27, "wifi_rx": 34}
    assert len(r.trace()) == sum(sizes[a] for a in jobs.app)


def test_duration_mode_stops_at_the_duration() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=20, duration_us=3000)
    r = simulate(cfg, "MET", seed=6, trace=True)
    t, jobs = r.trace(), r.jobs()
    assert r.sim_time_us == 3000
    assert t.finish.max() <= 3000 and t.job_arrival.max() <= 3000
    assert r.unfinished_job_ids  # overloaded: jobs are still in flight when time runs out
    assert len(jobs) + len(r.unfinished_job_ids) == r.total_injected
    assert r.completed_jobs == len(jobs)  # no warm-up: every finished job counts
    assert check_schedule(r, cfg) == []


# ---------------------------------------------------------------------------- arrivals
def test_fixed_rate_arrivals_every_scale() -> None:
    cfg = SimConfig.build("radar", scale_us=250, fixed_rate=True, max_jobs=20, duration_us=None)
    jobs = simulate(cfg, "ETF", trace=True).jobs().sort_values("job")
    assert jobs.arrival.tolist() == [250.0 * k for k in range(20)]


def test_rate_and_scale_are_two_views_of_one_parameter() -> None:
    assert SimConfig.build("radar", rate_jobs_per_ms=5).scale_us == 200.0
    assert SimConfig.build("radar", scale_us=50).rate_jobs_per_ms == 20.0
    assert SimConfig.build("radar", rate_jobs_per_ms=5).summary()["rate_jobs_per_ms"] == 5.0
    with pytest.raises(ConfigError, match="either"):
        SimConfig.build("radar", rate_jobs_per_ms=5, scale_us=200)
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="rate"):
            SimConfig.build("radar", rate_jobs_per_ms=bad)
    with pytest.raises(ConfigError, match="scale"):
        SimConfig.build("radar", scale_us=-3)


def test_exponential_arrivals_have_mean_gap_scale() -> None:
    cfg = SimConfig.build("radar", rate_jobs_per_ms=4, max_jobs=1500, duration_us=None,
                          max_jobs_in_flight=1000)
    gaps = np.diff(simulate(cfg, "MET", seed=7, trace=True).jobs().sort_values("job").arrival)
    # 1500 exponential gaps of mean 250 (DS3 truncation lowers it by 0.5): sd of the mean ~6.5
    assert abs(gaps.mean() - 250) < 25
    assert gaps.std() > 150  # exponential, not fixed


def test_integer_times_truncates_arrival_gaps() -> None:
    base = SimConfig.build("wifi-tx-rx", scale_us=300.0, max_jobs=200, duration_us=None,
                           max_jobs_in_flight=1000)
    ints = simulate(base, "MET", seed=8, trace=True).jobs().arrival.to_numpy()
    assert (ints == np.floor(ints)).all()
    raw = simulate(base.replace(integer_times=False, ds3_event_order=False), "MET", seed=8,
                   trace=True).jobs().sort_values("job").arrival.to_numpy()
    assert (raw != np.floor(raw)).sum() > 150
    # the same exponential draws, truncated gap by gap
    np.testing.assert_array_equal(np.sort(ints), np.cumsum(np.r_[0, np.floor(np.diff(raw))]))


# --------------------------------------------------------------------- metric definitions
def lower_bound(app: Application, soc: SoC) -> float:
    """Critical path with every task on its fastest PE, no contention, no transfers."""
    best = [min(c.exec_us[t.name] for c in soc.clusters if t.name in c.exec_us) for t in app.tasks]
    finish = [0.0] * len(app.tasks)
    for i in app.topological_order:
        finish[i] = best[i] + max((finish[p] for p in app.tasks[i].predecessors), default=0.0)
    return max(finish)


def test_metric_definitions() -> None:
    warm, end = 5000.0, 30000.0
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, duration_us=end, warmup_us=warm)
    r = simulate(cfg, "ETF", seed=9, trace=True)
    jobs = r.jobs()
    counted = jobs[(jobs.finish >= warm) & (jobs.finish <= end)]
    lat = (counted.finish - counted.arrival).to_numpy()
    assert r.completed_jobs == len(lat) > 100
    np.testing.assert_allclose(np.sort(r.latencies), np.sort(lat))
    assert r.avg_latency_us == pytest.approx(lat.mean())
    p50, p95, p99 = np.percentile(r.latencies, [50, 95, 99])
    assert (r.p50_latency_us, r.p95_latency_us, r.p99_latency_us) == pytest.approx((p50, p95, p99))
    assert r.p50_latency_us <= r.p95_latency_us <= r.p99_latency_us
    last = counted.finish.max()
    assert r.throughput_jobs_per_ms == pytest.approx(len(lat) / (last - warm) * 1000)
    # Job ids follow injection order and every job injected in the warm-up has finished.
    early = jobs[jobs.arrival < warm]
    assert sorted(early.job) == list(range(len(early)))
    assert r.injected_jobs == r.total_injected - len(early)
    assert r.injection_rate_jobs_per_ms == pytest.approx(r.injected_jobs / (end - warm) * 1000)
    assert r.edp == pytest.approx(r.energy_j * (last - warm) * 1e-6)
    assert r.energy_j > 0
    util = np.array(list(r.utilization.values()))
    assert ((util >= 0) & (util <= 1)).all() and util.max() > 0
    bounds = {a.name: lower_bound(a, cfg.soc) for a in cfg.workload.applications}
    expect = np.mean((counted.finish - counted.arrival) / counted.app.map(bounds))
    assert r.mean_slowdown == pytest.approx(expect)
    assert r.mean_slowdown >= 1.0


@pytest.mark.parametrize("scheduler", ["MET", "ETF", "HEFT", "STF", "random"])
def test_utilisation_is_busy_time_over_the_window(scheduler: str) -> None:
    cfg = SimConfig.build("ds3-mix6", rate_jobs_per_ms=5, max_jobs=60, duration_us=None,
                          warmup_us=2000)
    r = simulate(cfg, scheduler, seed=1, trace=True)
    t = r.trace()
    window = r.sim_time_us - 2000
    busy = (t.finish.clip(lower=2000) - t.start.clip(lower=2000)).groupby(t.pe_name).sum()
    for pe, u in r.utilization.items():
        assert 0.0 <= u <= 1.0
        assert u == pytest.approx(busy.get(pe, 0.0) / window, abs=1e-12)
    assert r.mean_slowdown >= 1.0
    assert (r.latencies >= min(lower_bound(a, cfg.soc) for a in cfg.workload.applications)).all()


# ------------------------------------------------------------ golden DS3 single-job runs
# Published single-job latencies (DS3 paper, Table 5) are MET/ETF 69 for WiFi-TX, but DS3's own
# code (and this simulator) gives 71 for both: we match the code. STF serialises on the first
# A15 core in DS3 (strict `<` tie-break), hence 165.
GOLDEN = [
    ("wifi_rx", "ETF", 301.0),
    ("wifi_rx", "MET", 389.0),
    ("wifi_tx", "MET", 71.0),  # the paper's table says 69; DS3's code gives 71
    ("wifi_tx", "ETF", 71.0),
    ("wifi_tx", "STF", 165.0),
    *(("range_detection", s, 177.0) for s in ("MET", "EFT", "ETF", "STF", "HEFT", "HEFT_RT", "PEFT")),
]


@pytest.mark.parametrize(("app", "scheduler", "latency"), GOLDEN)
def test_golden_single_job_latency(app: str, scheduler: str, latency: float) -> None:
    cfg = SimConfig.build(app, soc="MULTIPLE_BAL", max_jobs=1, duration_us=None)
    r = simulate(cfg, scheduler, seed=0, validate=True)
    assert r.completed_jobs == 1
    assert r.avg_latency_us == latency


def test_range_detection_is_177_not_176_because_of_the_tick_order() -> None:
    cfg = SimConfig.build("range_detection", soc="MULTIPLE_BAL", max_jobs=1, duration_us=None)
    assert simulate(cfg.replace(ds3_event_order=False), "ETF").avg_latency_us == 176.0


# ------------------------------------------------------------------------------ validator
@pytest.mark.parametrize("noise", [None, "gaussian:0.3+lognormal:0.2"])
@pytest.mark.parametrize("workload", ["wifi-tx-rx", "ds3-mix6", "synthetic-top"])
def test_validator_accepts_every_scheduler(workload: str, noise: str | None) -> None:
    cfg = SimConfig.build(workload, rate_jobs_per_ms=6, duration_us=4000, warmup_us=500, noise=noise)
    for name in sweepable_schedulers():  # each under the binding it is written for
        r = simulate(cfg.replace(binding=dssoc.scheduler_binding(name)), name, seed=5, trace=True)
        assert r.total_injected > 10
        violations = check_schedule(r, cfg)
        assert violations == [], (name, [str(v) for v in violations[:3]])


@pytest.fixture(scope="module")
def wifi_run() -> tuple[SimResult, SimConfig]:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, max_jobs=8, duration_us=None)
    r = simulate(cfg, "ETF", seed=1, trace=True)
    assert check_schedule(r, cfg) == []
    return r, cfg


def doctored(result: SimResult, trace_rows: list[tuple] | None = None,
             job_rows: list[tuple] | None = None) -> SimResult:
    return dataclasses.replace(result, _trace=trace_rows if trace_rows is not None else result._trace,
                               _jobs=job_rows if job_rows is not None else result._jobs)


def checks(result: SimResult, cfg: SimConfig) -> set[str]:
    return {v.check for v in check_schedule(result, cfg)}


def _field(name: str) -> int:
    from dssoc.metrics import TRACE_COLUMNS

    return TRACE_COLUMNS.index(name)


def test_validator_reports_overlap(wifi_run) -> None:
    r, cfg = wifi_run
    t = r.trace()
    # two tasks of different jobs on one PE; move the later one onto the earlier one's slot
    pe = t.groupby("pe").filter(lambda g: g.job.nunique() > 1).pe.iloc[0]
    on_pe = t[t.pe == pe].sort_values("start")
    first, second = on_pe.index[0], on_pe.index[-1]
    new = list(r._trace)
    row = list(new[second])
    dur = row[_field("finish")] - row[_field("start")]
    row[_field("start")] = t.start[first]
    row[_field("finish")] = t.start[first] + dur
    new[second] = tuple(row)
    assert "overlap" in checks(doctored(r, new), cfg)


def test_validator_reports_precedence(wifi_run) -> None:
    r, cfg = wifi_run
    t = r.trace()
    k = int(t.index[(t.job == 0) & (t.task == 1)][0])  # task 1 of a WiFi job follows task 0
    pred = t[(t.job == 0) & (t.task == 0)].iloc[0]
    new = list(r._trace)
    row = list(new[k])
    dur = row[_field("finish")] - row[_field("start")]
    row[_field("start")] = pred.finish - 1
    row[_field("finish")] = pred.finish - 1 + dur
    new[k] = tuple(row)
    found = checks(doctored(r, new), cfg)
    assert "precedence" in found


def test_validator_reports_unsupported_pe(wifi_run) -> None:
    r, cfg = wifi_run
    soc = cfg.soc
    fft = next(i for i, n in enumerate(soc.pe_names) if n.startswith("FFT"))
    new = list(r._trace)
    k = next(i for i, row in enumerate(new) if row[_field("task_name")] not in
             soc.clusters[int(soc.pe_cluster[fft])].exec_us)
    row = list(new[k])
    row[_field("pe")], row[_field("pe_name")] = fft, soc.pe_names[fft]
    new[k] = tuple(row)
    assert "support" in checks(doctored(r, new), cfg)


def test_validator_reports_missing_jobs_and_tasks(wifi_run) -> None:
    r, cfg = wifi_run
    # a finished job dropped from the job list
    assert "jobs" in checks(doctored(r, job_rows=r._jobs[1:]), cfg)
    # a finished job with one of its task rows lost
    assert "jobs" in checks(doctored(r, trace_rows=r._trace[1:]), cfg)
    # a job that vanished altogether (from both lists)
    gone = r._jobs[0][0]
    trace = [row for row in r._trace if row[0] != gone]
    bad = doctored(r, trace, [row for row in r._jobs if row[0] != gone])
    violations = check_schedule(bad, cfg)
    assert any(v.check == "jobs" and "missing" in v.message for v in violations)
    with pytest.raises(ScheduleViolation, match="violation"):
        assert_valid(bad, cfg)


def test_validator_reports_wrong_duration_without_noise(wifi_run) -> None:
    r, cfg = wifi_run
    new = list(r._trace)
    row = list(new[-1])
    row[_field("finish")] += 3
    new[-1] = tuple(row)
    assert "duration" in checks(doctored(r, new), cfg)


def test_validation_needs_a_trace() -> None:
    r = simulate(SimConfig.build("radar", max_jobs=2, duration_us=None), "ETF")
    assert not r.has_trace
    with pytest.raises(ValueError, match="trace"):
        check_schedule(r, SimConfig.build("radar", max_jobs=2, duration_us=None))
