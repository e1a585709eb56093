"""Shared test helpers: the DS3 fixtures in ../shared (optional in a user's clone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DS3 = REPO.parent / "shared" / "ds3"


def ds3_dir() -> Path:
    """The DS3/gym-ds3 fixture folder; skip (or fail under CI's SOCLAB_REQUIRE_SHARED=1) if absent."""
    if not SHARED_DS3.is_dir():
        if os.environ.get("SOCLAB_REQUIRE_SHARED") == "1":
            pytest.fail(f"{SHARED_DS3} is missing but SOCLAB_REQUIRE_SHARED=1 (CI needs ../shared)")
        pytest.skip("../shared/ds3 (DS3 fixtures) not present in this clone")
    return SHARED_DS3


def sweepable_schedulers() -> list[str]:
    """The registered schedulers cheap enough to run on every configuration of a sweeping test:
    all but those that simulate ahead at each decision (`simulates_ahead`, e.g. late-rollout,
    which tests/dssoc/schedulers/test_rollout.py covers on small cases)."""
    import dssoc

    return [n for n in dssoc.scheduler_names() if not dssoc.make_scheduler(n).simulates_ahead]


def require_wfcommons() -> None:
    """Skip a test needing the optional `wfcommons` package (soclab[workflows]) when it is absent,
    except under CI (SOCLAB_REQUIRE_EXTRAS=1), where its absence is a failure."""
    from dssoc.importers.wfcommons import wfcommons_available

    if not wfcommons_available():
        if os.environ.get("SOCLAB_REQUIRE_EXTRAS") == "1":
            pytest.fail("the 'wfcommons' package is missing but SOCLAB_REQUIRE_EXTRAS=1 "
                        "(install soclab[workflows])")
        pytest.skip("the optional 'wfcommons' package (pip install 'soclab[workflows]') is absent")


@pytest.fixture(scope="session")
def ray_session():
    """One small Ray session shared by every Ray test (num_cpus=2, no dashboard)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    import ray

    from soclab.loopback import prepare_local_ray

    if not ray.is_initialized():
        prepare_local_ray()  # listen on loopback only, as soclab's own local sweeps do
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=150 * 2**20)
    yield ray
    ray.shutdown()


@pytest.fixture
def max_latency():
    """A metric registered for one test (the slowest counted job) and removed afterwards: shows
    that a metric declared once in dssoc.metric_registry reaches every layer."""
    import math

    from dssoc import metric_registry as registry
    from dssoc.metric_registry import RunRecords

    @registry.metric("max_latency_us", unit="µs", better="lower", label="maximum latency",
                     dotted="latency.max_us", decimals=0,
                     description="Latency of the slowest counted job.")
    def _max(r: RunRecords) -> float:
        return float(r.latencies_us.max()) if r.completed else math.nan

    yield registry.get("max_latency_us")
    registry.unregister("max_latency_us")
