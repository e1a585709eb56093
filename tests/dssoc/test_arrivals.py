"""Arrival processes (dssoc.arrivals): trace replay reproduces a recorded stream exactly, the
diurnal / profile / burst rate model has the arrival statistics it promises, streams are seeded,
and bad traces or specs are refused with file, line or key."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dssoc import SimConfig, Simulation, make_scheduler, simulate
from dssoc.arrivals import (
    ArrivalProcess,
    RateModulation,
    make_arrival_process,
    parse_arrivals,
    read_arrival_trace,
    write_arrival_trace,
)
from dssoc.errors import ConfigError
from soclab.cli import app as cli_app
from soclab.spec import SpecError, spec_from_dict
from tests.conftest import TEST_DATA

DATA = TEST_DATA / "workflows"


def arrivals_of(cfg: SimConfig, seed: int = 0, scheduler: str = "ETF") -> list[tuple[float, str]]:
    """(arrival time, application) of every injected job of a run."""
    seen: list[tuple[float, str]] = []
    sim = Simulation(cfg, seed, on_arrival=lambda job: seen.append((job.arrival, job.app.name)))
    sim.run(make_scheduler(scheduler))
    return seen


def stream(spec: str, rate: float, n: int, seed: int = 0, noise: str | None = None) -> np.ndarray:
    """The first `n` arrival times of a process, never blocked (continuous times)."""
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=rate, arrivals=spec, noise=noise,
                          integer_times=False, duration_us=1e9)
    ss = np.random.SeedSequence(seed).spawn(4)
    proc = make_arrival_process(cfg, seed, np.random.default_rng(ss[0]), np.random.default_rng(ss[1]))
    out, now = [], 0.0
    for _ in range(n):
        nxt = proc.next_arrival(now)
        assert nxt is not None
        now = nxt[0]
        out.append(now)
    return np.array(out)


# ----------------------------------------------------------------------------- replay
def test_trace_file_replays_exactly() -> None:
    cfg = SimConfig.build("wifi-tx-rx", arrivals=f"trace:{DATA / 'arrivals.csv'}", duration_us=20_000)
    assert arrivals_of(cfg) == [(0.0, "wifi_tx"), (150.5, "wifi_rx"), (150.5, "wifi_tx"),
                                (900.0, "wifi_tx"), (2500.0, "wifi_rx")]
    assert cfg.summary()["arrivals"] == f"trace:{DATA / 'arrivals.csv'}"


def test_a_recorded_run_replays_job_for_job(tmp_path: Path) -> None:
    """Record a Poisson run's arrivals, replay them: same stream, and (same seed, so same noise and
    scheduler draws) the very same results."""
    base = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=15_000, noise="gaussian:0.2",
                           max_jobs_in_flight=1000)
    recorded = arrivals_of(base, seed=5)
    assert len(recorded) > 50
    path = write_arrival_trace(tmp_path / "rec.csv", [t for t, _ in recorded], [a for _, a in recorded])
    replay = base.replace(arrivals=read_arrival_trace(path))
    assert arrivals_of(replay, seed=5) == recorded
    a, b = simulate(base, "HEFT", seed=5), simulate(replay, "HEFT", seed=5)
    assert (a.avg_latency_us, a.completed_jobs, a.energy_j) == (b.avg_latency_us, b.completed_jobs,
                                                                b.energy_j)


def test_replay_waits_when_the_system_is_full_and_keeps_the_order(tmp_path: Path) -> None:
    path = write_arrival_trace(tmp_path / "burst.csv", [0.0] * 6, ["wifi_rx"] * 6)
    cfg = SimConfig.build("wifi-tx-rx", arrivals=f"trace:{path}", duration_us=20_000,
                          max_jobs_in_flight=2)
    seen = arrivals_of(cfg)
    assert len(seen) == 6 and seen[:2] == [(0.0, "wifi_rx")] * 2
    assert all(t2 >= t1 for (t1, _), (t2, _) in itertools.pairwise(seen))
    assert seen[2][0] > 0  # the third waited for a departure (DS3's admission rule)


@pytest.mark.parametrize(("text", "where", "message"), [
    ("time_us,application\n0,wifi_tx\nabc,wifi_rx\n", ":3", "must be a number"),
    ("time_us,application\n5,wifi_tx\n4,wifi_rx\n", ":3", "must not decrease"),
    ("time_us,application\n0,wifi_tx,extra\n", ":2", "expected 2 fields"),
    ("when,what\n0,wifi_tx\n", ":1", "must name columns time_us and application"),
    ("time_us,application\n-1,wifi_tx\n", ":2", ">= 0"),
    ("time_us,application\n", "", "no rows"),
])
def test_bad_traces_name_file_and_line(tmp_path: Path, text: str, where: str, message: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{p}{where}: .*{message}"):
        read_arrival_trace(p)


def test_trace_with_an_unknown_application_is_refused(tmp_path: Path) -> None:
    p = write_arrival_trace(tmp_path / "t.csv", [0.0, 1.0], ["wifi_tx", "radar"])
    with pytest.raises(ConfigError, match=r"row 2: unknown application 'radar'"):
        SimConfig.build("wifi-tx-rx", arrivals=f"trace:{p}")
    result = CliRunner().invoke(cli_app, ["simulate", "--arrivals", f"trace:{tmp_path / 'none.csv'}"])
    assert result.exit_code == 2 and "arrival trace not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- rate-modulated model
def test_diurnal_arrivals_follow_the_sinusoid() -> None:
    period, amp, rate = 10_000.0, 0.8, 2.0  # rate in jobs/ms
    times = stream(f"diurnal:{amp}:{period}", rate, 20_000, seed=1)
    horizon = times[-1]
    assert np.all(np.diff(times) >= 0)
    # the long-run rate is the base rate (the sinusoid averages to 1)
    assert len(times) / horizon * 1000 == pytest.approx(rate, rel=0.03)
    # counts per phase bin against the integral of the rate, within 4.5 Poisson sigmas
    full = math.floor(horizon / period)
    t = times[times < full * period]
    bins = 10
    counts = np.histogram((t % period) / period, bins=bins, range=(0, 1))[0]
    edges = np.linspace(0, 1, bins + 1)
    integral = (edges[1:] - edges[:-1]) - amp / (2 * math.pi) * (
        np.cos(2 * math.pi * edges[1:]) - np.cos(2 * math.pi * edges[:-1]))
    expected = rate / 1000 * period * full * integral
    assert np.all(np.abs(counts - expected) <= 4.5 * np.sqrt(expected)), (counts, expected)
    assert counts.argmax() in (1, 2) and counts.argmin() in (7, 8)  # peak at a quarter period


def test_profile_and_burst_multiply_the_rate() -> None:
    period = 3_000.0
    times = stream(f"profile:{period}:0.5,2,1", 1.0, 12_000, seed=2, noise="burst:4:500:3000")
    full = math.floor(times[-1] / period)
    t = times[times < full * period]
    phase = t % period
    # slot 0 (0.5x) holds a burst in its first 500 µs (4x): 500*2 + 500*0.5; slot 1 2x; slot 2 1x
    expected_per_period = np.array([500 * 0.5 * 4 + 500 * 0.5, 1000 * 2.0, 1000 * 1.0]) / 1000
    counts = np.histogram(phase, bins=3, range=(0, period))[0]
    expected = expected_per_period * full
    assert np.all(np.abs(counts - expected) <= 4.5 * np.sqrt(expected)), (counts, expected)
    in_burst = np.count_nonzero(phase < 500)
    assert in_burst == pytest.approx(500 * 0.5 * 4 / 1000 * full, rel=0.1)


def test_rate_model_is_seeded_from_the_arrival_stream() -> None:
    a = stream("diurnal:0.5:5000", 1.0, 200, seed=3)
    b = stream("diurnal:0.5:5000", 1.0, 200, seed=3)
    c = stream("diurnal:0.5:5000", 1.0, 200, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=4, arrivals="diurnal:0.5:5000",
                          duration_us=10_000)
    assert arrivals_of(cfg, 7, "ETF") == arrivals_of(cfg, 7, "MET")  # common random numbers
    result = simulate(cfg, "ETF", seed=7, validate=True)
    assert result.config["arrivals"] == "diurnal:0.5:5000"


def test_rate_model_spec_round_trips_and_bad_specs_are_refused() -> None:
    m = parse_arrivals("diurnal:0.5:20000:100+profile:1000:1,2")
    assert isinstance(m, RateModulation)
    assert parse_arrivals(m.spec) == m
    assert m.max_factor == pytest.approx(1.5 * 2)
    assert parse_arrivals("poisson") is None and parse_arrivals(None) is None
    with pytest.raises(ConfigError, match=r"amplitude must be in \[0, 1\)"):
        parse_arrivals("diurnal:1.5:1000")
    with pytest.raises(ConfigError, match=r"unknown arrival model 'diurnl'\. Did you mean 'diurnal'"):
        parse_arrivals("diurnl:0.5:1000")
    with pytest.raises(ConfigError, match="cannot be combined"):
        parse_arrivals("diurnal:0.5:1000+trace:x.csv")
    with pytest.raises(SpecError, match=r"simulation\.arrivals: .*amplitude"):
        spec_from_dict({"name": "x", "agents": [{"name": "ETF"}],
                        "simulation": {"arrivals": "diurnal:2:10"}})
    with pytest.raises(SpecError, match=r"simulation\.mapping: .*unknown mapping"):
        spec_from_dict({"name": "x", "agents": [{"name": "ETF"}], "simulation": {"mapping": "nope"}})


def test_user_arrival_models_plug_in() -> None:
    """Any object with `spec` and `make_process` is an arrival model."""

    class Every50(ArrivalProcess):
        def next_arrival(self, now: float) -> tuple[float, int] | None:
            return (now + 50.0, 1) if now < 400 else None

    class Model:
        spec = "every-50us"

        def make_process(self, config, seed, arrival_rng, app_rng) -> ArrivalProcess:
            return Every50()

    cfg = SimConfig.build("wifi-tx-rx", arrivals=Model(), duration_us=5_000)  # type: ignore[arg-type]
    seen = arrivals_of(cfg)
    assert seen == [(50.0 * k, "wifi_rx") for k in range(1, 9)]  # 50 .. 400, then the end


def test_fingerprint_covers_the_trace_contents(tmp_path: Path) -> None:
    p = write_arrival_trace(tmp_path / "t.csv", [0.0, 10.0], ["wifi_tx", "wifi_rx"])
    a = SimConfig.build("wifi-tx-rx", arrivals=f"trace:{p}").fingerprint()
    write_arrival_trace(p, [0.0, 11.0], ["wifi_tx", "wifi_rx"])
    b = SimConfig.build("wifi-tx-rx", arrivals=f"trace:{p}").fingerprint()
    assert a != b
    plain = SimConfig.build("wifi-tx-rx")
    assert "arrivals" not in plain.summary() and "mapping" not in plain.summary()


# Recorded with the engine *before* arrivals became a plug-in (seed 3, ETF, wifi-tx-rx): jobs,
# sum of arrival times, the application of every job (0 = wifi_tx, 1 = wifi_rx), avg latency.
BEFORE_PLUGIN = [
    ("poisson", {"rate_jobs_per_ms": 5, "duration_us": 10000},
     51, 238131.0, "000100000001001010100000000000100100000000111000001", 125.88),
    ("fixed", {"rate_jobs_per_ms": 5, "fixed_rate": True, "duration_us": 10000},
     51, 255000.0, "000100000001001010100000000000100100000000111000001", 120.08),
    ("ds3", {"rate_jobs_per_ms": 5, "arrival_streams": "ds3", "duration_us": 10000},
     48, 231922.0, "000011000000000000000000000001101100000000000100", 111.72916666666667),
    ("burst", {"rate_jobs_per_ms": 3, "noise": "burst:4:1000:5000+gaussian:0.2", "duration_us": 10000},
     48, 179313.0, "000100000001001010100000000000100100000000111000", 132.91666666666666),
    ("ds3burst", {"rate_jobs_per_ms": 3, "noise": "burst:4:1000:5000", "arrival_streams": "ds3",
                  "duration_us": 10000},
     48, 179313.0, "000011000000000000000000000001101100000000000100", 120.91666666666667),
    ("fixedburst", {"rate_jobs_per_ms": 3, "noise": "burst:4:1000:5000", "fixed_rate": True,
                    "duration_us": 10000},
     49, 202608.0, "0001000000010010101000000000001001000000001110000", 121.34693877551021),
    ("ds3fixed", {"rate_jobs_per_ms": 3, "arrival_streams": "ds3", "fixed_rate": True, "duration_us": 10000},
     31, 154845.0, "0000110000000000000000000000011", 94.0),
    ("maxjobs", {"rate_jobs_per_ms": 8, "max_jobs": 50, "duration_us": None},
     50, 142298.0, "00010000000100101010000000000010010000000011100000", 132.74),
]


@pytest.mark.parametrize(("name", "options", "jobs", "time_sum", "apps", "latency"), BEFORE_PLUGIN,
                         ids=[c[0] for c in BEFORE_PLUGIN])
def test_existing_arrival_modes_are_unchanged_by_the_plug_in(name: str, options: dict, jobs: int,
                                                             time_sum: float, apps: str,
                                                             latency: float) -> None:
    cfg = SimConfig.build("wifi-tx-rx", **options)
    seen: list[tuple[float, int]] = []
    sim = Simulation(cfg, 3, on_arrival=lambda job: seen.append((job.arrival, job.app.index)))
    result = sim.run(make_scheduler("ETF"))
    assert len(seen) == jobs
    assert sum(t for t, _ in seen) == time_sum
    assert "".join(str(a) for _, a in seen) == apps
    assert result.avg_latency_us == latency
