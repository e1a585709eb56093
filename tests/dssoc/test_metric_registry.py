"""dssoc.metric_registry: every metric declared once; a metric registered anywhere is computed
for every run and returned by SimResult.metrics()."""

from __future__ import annotations

import numpy as np
import pytest

import dssoc
from dssoc import metric_registry as registry
from dssoc.metric_registry import RunRecords


def _cfg() -> dssoc.SimConfig:
    return dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=8000, warmup_us=1000)


def test_a_registered_metric_is_in_every_result(max_latency) -> None:
    r = dssoc.simulate(_cfg(), scheduler="ETF", seed=2)
    m = r.metrics()
    assert list(m)[-1] == "max_latency_us", "declaration order, new metrics last"
    assert m["max_latency_us"] == float(r.latencies.max())
    assert m["max_latency_us"] >= m["p99_latency_us"] >= m["avg_latency_us"]
    assert "max_latency_us" in r.to_json()
    assert max_latency in registry.figures_of_merit()


def test_unregistered_metric_is_gone_and_the_fields_stay() -> None:
    r = dssoc.simulate(_cfg(), scheduler="ETF", seed=2)
    assert "max_latency_us" not in r.metrics()
    assert set(registry.names()) == set(r.metrics())
    for name in ("avg_latency_us", "p95_latency_us", "energy_j", "deadline_miss_rate"):
        np.testing.assert_equal(r.metrics()[name], getattr(r, name))  # NaN equals NaN here


def test_builtin_metrics_by_hand_from_records() -> None:
    """Each built-in computation on records small enough to check by hand."""
    rec = RunRecords(latencies_us=np.array([100.0, 200.0, 300.0, 400.0]),
                     slowdowns=np.array([1.0, 2.0, 3.0, 2.0]), lateness_us=np.array([-10.0, 30.0]),
                     apps=np.array([0, 1, 0, 0], dtype=np.int32), injected=5, window_us=2000.0,
                     busy_window_us=1000.0, energy_j=0.5, end_us=3000.0)
    m = registry.compute_all(rec)
    assert m["avg_latency_us"] == 250.0 and m["p50_latency_us"] == 250.0
    assert m["completed_jobs"] == 4 and m["injected_jobs"] == 5
    assert m["injection_rate_jobs_per_ms"] == 2.5 and m["throughput_jobs_per_ms"] == 4.0
    assert m["edp"] == pytest.approx(0.5 * 1000e-6) and m["energy_per_job_j"] == 0.125
    assert m["mean_slowdown"] == 2.0 and m["sim_time_us"] == 3000.0
    assert m["deadline_miss_rate"] == 0.5 and m["mean_tardiness_us"] == 15.0


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="identifier"):
        registry.Metric("max latency", "µs", "lower", "x", lambda r: 0.0)
    with pytest.raises(ValueError, match="better"):
        registry.Metric("m", "µs", "smaller", "x", lambda r: 0.0)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="registered: avg_latency_us"):
        registry.get("no_such_metric")
