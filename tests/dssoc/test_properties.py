"""Property-based tests (hypothesis): on random DAGs, random small SoCs, random rates, seeds and
noise, every registered scheduler produces a schedule the validator accepts, and every injected
job is accounted for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dssoc
from dssoc import Application, Cluster, SimConfig, SoC, Task, Workload, simulate
from dssoc.noise import parse_noise
from dssoc.validate import check_schedule
from tests.conftest import sweepable_schedulers

TYPES = ("ta", "tb", "tc", "td")
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def dags(draw, name: str) -> Application:
    """1-8 tasks of random types; edges only from lower to higher index (acyclic)."""
    n = draw(st.integers(1, 8))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=n, max_size=n))
    preds: list[list[int]] = [[] for _ in range(n)]
    volumes = {}
    for j in range(1, n):
        for i in range(j):
            if draw(st.booleans()):
                preds[j].append(i)
                volumes[i, j] = float(draw(st.integers(0, 400)))
    tasks = tuple(Task(types[i], tuple(preds[i])) for i in range(n))
    return Application(name, tasks, volumes)


@st.composite
def socs(draw, needed: set[str], integer: bool) -> SoC:
    """1-3 clusters of capacity 1-3; each task type supported by at least one cluster."""
    k = draw(st.integers(1, 3))
    times = st.integers(0, 40).map(float) if integer else \
        st.floats(0.0, 40.0, allow_nan=False).map(lambda x: round(x, 2))
    tables: list[dict[str, float]] = [{} for _ in range(k)]
    for t in sorted(needed):
        support = draw(st.lists(st.booleans(), min_size=k, max_size=k))
        if not any(support):
            support[draw(st.integers(0, k - 1))] = True
        for c in range(k):
            if support[c]:
                tables[c][t] = draw(times)
    clusters = tuple(Cluster(f"C{c}", "CPU", draw(st.integers(1, 3)), tables[c]) for c in range(k))
    bandwidth = {(f"C{a}", f"C{b}"): float(draw(st.integers(1, 1000)))
                 for a in range(k) for b in range(a, k) if draw(st.booleans())}
    return SoC("random", clusters, bandwidth,
               self_bandwidth=float(draw(st.integers(50, 10000))),
               default_bandwidth=float(draw(st.integers(1, 100))))


@st.composite
def configs(draw) -> SimConfig:
    n_apps = draw(st.integers(1, 2))
    apps = tuple(draw(dags(f"app{i}")) for i in range(n_apps))
    integer = draw(st.booleans())
    soc = draw(socs({t.name for a in apps for t in a.tasks}, integer))
    weights = [draw(st.integers(1, 5)) for _ in apps]
    probs = tuple(w / sum(weights) for w in weights)
    noise = draw(st.sampled_from([
        "none", "gaussian:0.3", "lognormal:0.5", "gaussian:0.2+burst:4:200:1000",
        f"slowdown:C{len(soc.clusters) - 1}:2.5:100:2000", "lognormal:1+slowdown:C0:1.5",
    ]))
    by_jobs = draw(st.booleans())
    warmup = float(draw(st.sampled_from([0, 0, 50, 300])))
    return SimConfig(
        soc=soc,
        workload=Workload("random", apps, probs),
        scale_us=float(draw(st.sampled_from([1, 3, 10, 40, 150]))),
        fixed_rate=draw(st.booleans()),
        max_jobs_in_flight=draw(st.integers(1, 12)),
        warmup_us=warmup,
        duration_us=None if by_jobs else float(draw(st.integers(400, 3000))),
        max_jobs=draw(st.integers(1, 25)) if by_jobs else None,
        noise=parse_noise(noise),
        integer_times=integer,
        ds3_event_order=draw(st.booleans()),
    )


@pytest.mark.parametrize("name", sweepable_schedulers())
@settings(SETTINGS, max_examples=12)
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1))
def test_every_scheduler_gives_a_valid_schedule(name: str, cfg: SimConfig, seed: int) -> None:
    """Each scheduler on its own random configurations (12 each, derandomized), under the binding
    it is written for: a valid schedule, no job lost or doubled, sane metrics."""
    cfg = cfg.replace(binding=dssoc.scheduler_binding(name))
    r = simulate(cfg, name, seed=seed, trace=True)
    violations = check_schedule(r, cfg)
    assert violations == [], (name, [str(v) for v in violations[:3]])
    jobs = r.jobs()
    # every injected job is finished or still in flight, never both, never lost
    assert set(jobs.job).isdisjoint(r.unfinished_job_ids)
    assert len(jobs) + len(r.unfinished_job_ids) == r.total_injected >= 1
    if cfg.max_jobs is not None:
        assert r.total_injected == cfg.max_jobs and r.unfinished_job_ids == ()
    counted = jobs[jobs.finish >= cfg.warmup_us]
    assert r.completed_jobs == len(counted)
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in r.utilization.values())
    if r.completed_jobs:
        assert r.throughput_jobs_per_ms >= 0
        assert math.isfinite(r.avg_latency_us) and r.avg_latency_us >= 0
        if not cfg.noise:  # noise can shorten tasks below the bound
            assert r.mean_slowdown >= 1.0 - 1e-9


@SETTINGS
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1))
def test_runs_are_reproducible_and_share_arrivals(cfg: SimConfig, seed: int) -> None:
    """Same seed: the same run; across schedulers: the same applications per job id."""
    runs = {name: simulate(cfg, name, seed=seed, trace=True) for name in ("MET", "ETF", "HEFT")}
    again = simulate(cfg, "ETF", seed=seed, trace=True)
    np.testing.assert_array_equal(again.latencies, runs["ETF"].latencies)
    assert again.trace().equals(runs["ETF"].trace())
    apps = [dict(zip(r.jobs().job, r.jobs().app, strict=True)) for r in runs.values()]
    for other in apps[1:]:
        common = apps[0].keys() & other.keys()
        assert all(apps[0][j] == other[j] for j in common)
