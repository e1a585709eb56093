"""Fidelity against the original DS3: numbers measured by running DS3 itself (commit and method
in tests/data/ds3_reference.json). Single jobs must match exactly; on DS3's scheduling case study
(both WiFi mixes, MET and ETF, scales 1000..100 µs, 20 ms runs, 2 ms warm-up) the average latency
over seeds must agree within 10%.

With `arrival_streams="ds3"` dssoc draws DS3's own job streams for a seed (Python's random and
numpy's legacy generator), so runs compare job for job: ETF agrees run by run, MET (whose
tie-breaking depends on momentary idleness) within 10% on average under saturation.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

import dssoc
from tests.conftest import TEST_DATA

REFERENCE = TEST_DATA / "ds3_reference.json"
DATA = json.loads(REFERENCE.read_text())
APPS = {"wifi_tx": "wifi_tx", "wifi_rx": "wifi_rx", "range_detection": "range_detection"}
OUR_SEEDS = range(20)


def _case_study() -> dict[tuple[str, str, float], list[dict]]:
    groups: dict[tuple[str, str, float], list[dict]] = defaultdict(list)
    for r in DATA["scheduling_case_study"]:
        groups[(r["mix"], r["scheduler"], float(r["scale_us"]))].append(r)
    return dict(sorted(groups.items()))


CASES = _case_study()


@pytest.mark.parametrize("ref", DATA["single_job"], ids=lambda r: f"{r['app']}-{r['scheduler']}")
def test_single_job_latency_and_energy_equal_ds3(ref: dict) -> None:
    cfg = dssoc.SimConfig.build(APPS[ref["app"]], max_jobs=1, duration_us=None)
    result = dssoc.simulate(cfg, ref["scheduler"], seed=0, validate=True)
    assert result.avg_latency_us == ref["latency_us"]
    # DS3 in validation mode keeps charging idle power until its simulation length; the reference
    # stops one microsecond after the job, as a job-limited dssoc run does.
    assert result.energy_j == pytest.approx(ref["energy_j_sim_until_completion"], rel=1e-5)


def _run_like_ds3(key: tuple[str, str, float]) -> tuple[list[dssoc.SimResult], list[dict]]:
    """Our runs of one case-study cell on DS3's own arrival streams and seeds."""
    _, scheduler, scale = key
    refs = CASES[key]
    # DS3 probabilities are in job_file order (TX, RX), as in the wifi-tx-rx preset.
    cfg = dssoc.SimConfig.build("wifi-tx-rx", scale_us=scale, duration_us=20_000, warmup_us=2_000,
                                probabilities=refs[0]["probabilities"][:2], arrival_streams="ds3")
    return [dssoc.simulate(cfg, scheduler, seed=r["seed"]) for r in refs], refs


@pytest.mark.parametrize("key", list(CASES), ids=lambda k: f"{k[0]}-{k[1]}-scale{k[2]:g}")
def test_case_study_average_latency_within_10_percent(key: tuple[str, str, float]) -> None:
    ours, refs = _run_like_ds3(key)
    mine = np.mean([r.avg_latency_us for r in ours])
    theirs = np.mean([r["avg_latency_us"] for r in refs])
    assert mine == pytest.approx(theirs, rel=0.10), (
        f"{key}: dssoc {mine:.1f} µs vs DS3 {theirs:.1f} µs over {len(refs)} seeds")
    energy = np.mean([r.energy_j for r in ours])
    assert energy == pytest.approx(np.mean([r["energy_j"] for r in refs]), rel=0.03)


@pytest.mark.parametrize("key", [k for k in CASES if k[1] == "ETF"],
                         ids=lambda k: f"{k[0]}-scale{k[2]:g}")
def test_etf_matches_ds3_run_by_run(key: tuple[str, str, float]) -> None:
    """Same jobs (DS3's streams), same decisions: every seed's latency within 2% of DS3's and the
    same number of completed jobs within 2% (jobs finishing near the end can move across it)."""
    ours, refs = _run_like_ds3(key)
    for mine, ref in zip(ours, refs, strict=True):
        assert mine.avg_latency_us == pytest.approx(ref["avg_latency_us"], rel=0.02), ref["seed"]
        assert abs(mine.completed_jobs - ref["completed_jobs"]) <= max(1, 0.02 * ref["completed_jobs"])


@pytest.mark.parametrize("key", [k for k in CASES if k[2] >= 500],
                         ids=lambda k: f"{k[0]}-{k[1]}-scale{k[2]:g}")
def test_low_load_is_identical_to_ds3(key: tuple[str, str, float]) -> None:
    """Without queueing pressure the schedules (nearly) coincide: every seed within 3%."""
    ours, refs = _run_like_ds3(key)
    for mine, ref in zip(ours, refs, strict=True):
        assert mine.avg_latency_us == pytest.approx(ref["avg_latency_us"], rel=0.03), ref["seed"]


def test_independent_streams_agree_in_distribution() -> None:
    """With dssoc's own streams (20 seeds) the light-load ETF latency is DS3's within 10%."""
    refs = CASES[("wifi-tx-rx", "ETF", 1000.0)]
    cfg = dssoc.SimConfig.build("wifi-tx-rx", scale_us=1000, duration_us=20_000, warmup_us=2_000)
    mine = np.mean([dssoc.simulate(cfg, "ETF", seed=s).avg_latency_us for s in OUR_SEEDS])
    assert mine == pytest.approx(np.mean([r["avg_latency_us"] for r in refs]), rel=0.10)


def test_reference_covers_the_case_study() -> None:
    """The reference file holds both mixes, both schedulers and the scales down to 100 µs."""
    mixes = {k[0] for k in CASES}
    schedulers = {k[1] for k in CASES}
    assert {"MET", "ETF"} <= schedulers
    assert "wifi-tx-rx" in mixes
    assert min(k[2] for k in CASES) <= 100
