"""The streaming load study under the powersave and ondemand governors against the original DS3.

DS3's numbers come from DS3 itself (tests/data/ds3_reference.json, `dvfs_case_study`: commit,
settings and method): ETF on the WiFi mix [0.8, 0.2] at scales 1000, 200 and 100 µs, seeds 0-2,
20 ms runs, 2 ms warm-up, at most 12 jobs in flight, every cluster's `DVFS_mode` replaced. dssoc
runs the same jobs (`arrival_streams="ds3"`) with the same governor, and is held to the
tolerances the performance governor meets in test_fidelity.py: mean latency over the seeds
within 10% and mean energy within 3%; ETF run by run, every seed's latency within 2% and its
completed jobs within max(1, 2%).

Both governors meet them run by run, and more: every run is DS3's run (same latency and jobs,
energy within 0.25%). dssoc takes ondemand's decision as DS3 does, on the first core of the
cluster evaluated at the sampling instant, and handles the completions of one microsecond in
DS3's order. The reference also holds DS3 run with that
rule changed (`ondemand_all_cores_variant`: every core's last window counts), which measures what
the rule moves (docs/simulator.md, "DS3 fidelity notes"); dssoc follows DS3, not the variant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache

import numpy as np
import pytest

import dssoc
from tests.conftest import TEST_DATA

REF = json.loads((TEST_DATA / "ds3_reference.json").read_text())["dvfs_case_study"]
SETTINGS = REF["settings"]


def _group(rows: list[dict]) -> dict[tuple[str, int], list[dict]]:
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["governor"], int(r["scale_us"]))].append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in sorted(groups.items())}


CASES = _group(REF["runs"])
ALL_CORES = _group(REF["ondemand_all_cores_variant"]["runs"])


def _ids(key: tuple[str, int]) -> str:
    return f"{key[0]}-scale{key[1]}"


@cache
def _ours(governor: str, scale: int, seed: int) -> dssoc.SimResult:
    """dssoc's run of one reference cell: DS3's job stream for the seed, the same governor."""
    cfg = dssoc.SimConfig.build(
        SETTINGS["mix"], scale_us=scale, duration_us=SETTINGS["simulation_length_us"],
        warmup_us=SETTINGS["warmup_us"], max_jobs_in_flight=SETTINGS["max_jobs_in_parallel"],
        probabilities=SETTINGS["probabilities"][:2], arrival_streams="ds3", governor=governor)
    return dssoc.simulate(cfg, SETTINGS["scheduler"], seed=seed)


def _assert_run_by_run(refs: list[dict], latency_rel: float) -> None:
    for ref in refs:
        mine = _ours(ref["governor"], ref["scale_us"], ref["seed"])
        assert mine.avg_latency_us == pytest.approx(ref["avg_latency_us"], rel=latency_rel), ref
        assert abs(mine.completed_jobs - ref["completed_jobs"]) <= max(1, 0.02 * ref["completed_jobs"]), ref


@pytest.mark.parametrize("key", list(CASES), ids=_ids)
def test_governor_load_study_within_the_performance_tolerances(key: tuple[str, int]) -> None:
    """Mean latency over the seeds within 10% of DS3's, mean energy within 3%."""
    refs = CASES[key]
    ours = [_ours(r["governor"], r["scale_us"], r["seed"]) for r in refs]
    mine, theirs = np.mean([r.avg_latency_us for r in ours]), np.mean([r["avg_latency_us"] for r in refs])
    assert mine == pytest.approx(theirs, rel=0.10), f"{key}: dssoc {mine:.1f} µs vs DS3 {theirs:.1f} µs"
    energy = np.mean([r.energy_j for r in ours])
    assert energy == pytest.approx(np.mean([r["energy_j"] for r in refs]), rel=0.03)


@pytest.mark.parametrize("key", [k for k in CASES if k[0] == "powersave"], ids=_ids)
def test_powersave_matches_ds3_run_by_run(key: tuple[str, int]) -> None:
    """Powersave never changes frequency, so dssoc and DS3 make the same decisions on the same
    jobs even on the saturated SoC at 100 µs (12 jobs in flight, latencies of 2-2.5 ms)."""
    _assert_run_by_run(CASES[key], latency_rel=0.02)


@pytest.mark.parametrize("key", [k for k in CASES if k[0] == "ondemand"], ids=_ids)
def test_ondemand_matches_ds3_run_by_run(key: tuple[str, int]) -> None:
    """ondemand with DS3's first-core decisions: every run within 2% of DS3's (in fact equal),
    although the rule itself moves single DS3 runs by up to 4.4% (scale 1000, seed 1)."""
    _assert_run_by_run(CASES[key], latency_rel=0.02)


@pytest.mark.parametrize("key", list(CASES), ids=_ids)
def test_governor_runs_are_ds3s_runs(key: tuple[str, int]) -> None:
    """Beyond those tolerances: every run is DS3's run, the same mean latency (to the 4 decimals
    DS3's figures keep), the same completed jobs, and its energy within 0.25% (measured: at most
    0.06%; what is left is the order in which cores starting at the same instant take their
    busy-core counts)."""
    for ref in CASES[key]:
        mine = _ours(ref["governor"], ref["scale_us"], ref["seed"])
        assert mine.avg_latency_us == pytest.approx(ref["avg_latency_us"], rel=1e-5), ref
        assert mine.completed_jobs == ref["completed_jobs"], ref
        assert mine.energy_j == pytest.approx(ref["energy_j"], rel=0.0025), ref


def test_first_core_rule_is_what_dssoc_follows() -> None:
    """Where the first-core rule moves DS3 most (scale 1000, seed 1: 120.8 µs, 115.7 µs with
    every core's window), dssoc is DS3's side of the gap."""
    ds3 = next(r for r in CASES[("ondemand", 1000)] if r["seed"] == 1)
    variant = next(r for r in ALL_CORES[("ondemand", 1000)] if r["seed"] == 1)
    mine = _ours("ondemand", 1000, 1).avg_latency_us
    assert abs(mine - ds3["avg_latency_us"]) < abs(mine - variant["avg_latency_us"])


def test_reference_covers_both_governors_at_the_three_loads() -> None:
    """Both governors at 1000, 200 and 100 µs with three seeds each, and the variant for
    every ondemand cell."""
    assert set(CASES) == {(g, s) for g in ("powersave", "ondemand") for s in (1000, 200, 100)}
    assert all([r["seed"] for r in refs] == [0, 1, 2] for refs in CASES.values())
    assert set(ALL_CORES) == {k for k in CASES if k[0] == "ondemand"}
