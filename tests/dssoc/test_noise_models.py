"""Statistics of the persistent, cluster-correlated and Pareto noise models, their spec syntax,
and their seeding (a timeline depends on the seed only, so every scheduler faces the same one)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dssoc
from dssoc import ConfigError, SimConfig, simulate
from dssoc.noise import (
    CorrelatedNoise,
    ParetoNoise,
    PersistentSlowdown,
    noise_runtime,
    noise_spec,
    parse_noise,
)

SOC = dssoc.load_soc("MULTIPLE_BAL")


def runtime(model, seed: int = 0):
    return noise_runtime([model], np.random.SeedSequence(seed), SOC)[0]


# ------------------------------------------------------------------------------ spec
@pytest.mark.parametrize("spec", ["pareto:2.5", "persistent:pe:3:2000:8000",
                                  "persistent:cluster:1.5:500:500", "correlated:0.3:0.5:1000",
                                  "gaussian:0.2+persistent:pe:2:100:900"])
def test_spec_round_trips(spec: str) -> None:
    assert noise_spec(parse_noise(spec)) == spec


def test_correlated_window_defaults_to_1000() -> None:
    assert parse_noise("correlated:0.3:0.5") == (CorrelatedNoise(0.3, 0.5, 1000.0),)


@pytest.mark.parametrize(("spec", "fragment"), [
    ("pareto:1", "alpha must be > 1"), ("pareto", "expected pareto:ALPHA"),
    ("persistent:gpu:2:1:1", "level must be 'pe' or 'cluster'"),
    ("persistent:pe:2:0:1", "mean periods must be > 0"), ("persistent:pe:2:1", "expected persistent"),
    ("correlated:0.3:1.5", "rho must be in"), ("correlated:0.3:x", "rho must be a number"),
])
def test_bad_specs_name_the_part(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as e:
        parse_noise(spec)
    assert spec.split("+")[0] in str(e.value)


# ------------------------------------------------------------------------- Pareto
def test_pareto_is_mean_preserving_with_the_right_tail() -> None:
    alpha, mu = 3.0, 1000.0
    m = ParetoNoise(alpha)
    z = np.random.default_rng(1).standard_normal(200_000)
    x = np.array([m.apply(mu, float(v), 0, 0.0) for v in z]) / mu
    xm = (alpha - 1) / alpha
    assert x.min() >= xm - 1e-3  # support starts at the scale
    assert abs(x.mean() - 1.0) < 0.01  # E[X] = 1
    for q in (2.0, 4.0):  # P(X > q) = (xm / q) ** alpha
        assert abs((x > q).mean() / (xm / q) ** alpha - 1) < 0.1
    assert m.apply(0.0, 3.0, 0, 0.0) == 0.0 and m.apply(1.0, -5.0, 0, 0.0) >= 1.0


# --------------------------------------------------------------------- persistent
def test_persistent_slow_fraction_and_period_lengths() -> None:
    m = PersistentSlowdown("pe", 3.0, 200.0, 800.0)
    run = runtime(m, seed=5)
    grid = np.arange(0.0, 400_000.0, 5.0)
    slow = np.array([run.slow(0, t) for t in grid])
    assert abs(slow.mean() - 0.2) < 0.03  # 200 / (200 + 800)
    edges = np.diff(slow.astype(int))
    n_periods = int((edges == 1).sum())
    assert abs(slow.sum() * 5.0 / n_periods - 200.0) < 30  # mean slow period
    assert not run.slow(0, 0.0)  # starts normal


def test_persistent_factor_applies_per_pe_or_per_cluster() -> None:
    pe_run = runtime(PersistentSlowdown("pe", 3.0, 500.0, 500.0), seed=2)
    cl_run = runtime(PersistentSlowdown("cluster", 3.0, 500.0, 500.0), seed=2)
    t = next(t for t in np.arange(0.0, 1e5, 10.0) if pe_run.slow(0, t) != pe_run.slow(1, t))
    # PEs 0 and 1 (same cluster) differ at t under "pe", never under "cluster"
    assert pe_run.apply(10.0, 0.0, 0, t, 0) != pe_run.apply(10.0, 0.0, 0, t, 1)
    assert all(cl_run.apply(10.0, 0.0, 0, s, 0) == cl_run.apply(10.0, 0.0, 0, s, 1)
               for s in np.arange(0.0, 2e4, 50.0))
    slow_t = next(s for s in np.arange(0.0, 1e5, 10.0) if cl_run.slow(0, s))
    assert cl_run.apply(10.0, 0.0, 0, slow_t, 3) == 30.0


def test_timelines_depend_on_the_seed_only_not_on_query_order() -> None:
    m = PersistentSlowdown("pe", 2.0, 300.0, 700.0)
    a, b = runtime(m, seed=7), runtime(m, seed=7)
    times = np.linspace(0, 50_000, 400)
    forward = [a.slow(3, t) for t in times]
    backward = [b.slow(3, t) for t in times[::-1]][::-1]
    assert forward == backward
    assert forward != [runtime(m, seed=8).slow(3, t) for t in times]


# --------------------------------------------------------------------- correlated
def test_correlated_noise_has_correlation_rho_within_a_cluster_window() -> None:
    sigma, rho, mu = 0.2, 0.6, 1000.0
    run = runtime(CorrelatedNoise(sigma, rho, 100.0), seed=3)
    rng = np.random.default_rng(0)
    n = 20_000
    t = np.arange(n) * 100.0 + 50.0  # one pair of tasks per window
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    e1 = np.array([run.apply(mu, a, 2, s) for a, s in zip(z1, t, strict=True)]) / mu - 1
    e2 = np.array([run.apply(mu, b, 2, s) for b, s in zip(z2, t, strict=True)]) / mu - 1
    assert abs(np.corrcoef(e1, e2)[0, 1] - rho) < 0.03
    assert abs(e1.std() - sigma) < 0.01
    other = np.array([run.apply(mu, b, 3, s) for b, s in zip(z2, t, strict=True)]) / mu - 1
    assert abs(np.corrcoef(e1, other)[0, 1]) < 0.03  # different clusters: independent
    shifted = np.array([run.apply(mu, b, 2, s + 100.0) for b, s in zip(z2, t, strict=True)]) / mu - 1
    assert abs(np.corrcoef(e1, shifted)[0, 1]) < 0.03  # next window: fresh draw


# ------------------------------------------------------------------- in simulations
@pytest.mark.parametrize("noise", ["pareto:2.5", "persistent:pe:3:1000:4000",
                                   "correlated:0.3:0.5", "persistent:cluster:2:500:500"])
def test_noisy_runs_are_deterministic_and_schedulers_face_the_same_timeline(noise: str) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=5000, noise=noise)
    a = simulate(cfg, "ETF", seed=1, trace=True)
    b = simulate(cfg, "ETF", seed=1, trace=True)
    assert a.trace().equals(b.trace())
    clean = simulate(cfg.replace(noise=()), "ETF", seed=1)
    assert a.avg_latency_us != clean.avg_latency_us
    # every scheduler sees the same arrivals under stateful noise (common random numbers)
    other = simulate(cfg, "MET", seed=1, trace=True)
    n = min(len(a.jobs()), len(other.jobs()))
    assert (a.jobs().sort_values("job").arrival.to_numpy()[:n]
            == other.jobs().sort_values("job").arrival.to_numpy()[:n]).all()


def test_persistent_slowdown_in_a_run_matches_its_timeline() -> None:
    """Tasks started while their PE is slow take factor x their expected time (no other noise)."""
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=5000,
                          noise="persistent:pe:3:300:700")
    sim = dssoc.Simulation(cfg, 4, trace=True)
    result = sim.run(dssoc.make_scheduler("ETF"))
    timeline = sim._exec_noise[0]  # the run's own timeline
    tr = result.trace()
    slow = np.array([timeline.slow(int(p), s) for p, s in zip(tr.pe, tr.start, strict=True)])
    ratio = (tr.finish - tr.start) / tr.expected
    ok = tr.expected > 0
    assert slow[ok].any() and (~slow[ok]).any()
    np.testing.assert_allclose(ratio[ok & slow], [round(3 * e) / e for e in tr.expected[ok & slow]])
    assert (ratio[ok & ~slow] == 1.0).all()
    assert not math.isnan(result.avg_latency_us)
