"""soclab.stats against hand-computed cases, plus a few hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from soclab.stats import (
    Estimate,
    bootstrap_ci,
    improvement_ci,
    iqm,
    iqm_ci,
    mean_ci,
    paired_ratio_ci,
    probability_of_improvement,
    probability_of_improvement_ci,
    saturation_point,
    summarize,
    t_ci,
)

# t(0.975, df=2) in closed form: for 2 df, t_p = (2p-1) * sqrt(2 / (1 - (2p-1)^2)),
# so t = 0.95 * sqrt(2 / 0.0975) = 4.30265272974946... (the often-quoted 4.302652729911275
# agrees to ~4e-11 relative, so both are checked at 1e-9).
T_0975_DF2 = 0.95 * math.sqrt(2 / (1 - 0.95**2))

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=30)


def _ulps(xs: list[float]) -> float:
    """A rounding allowance for means of xs (a few ulps of the largest magnitude)."""
    return 1e-12 * (1.0 + max(abs(v) for v in xs))


# --------------------------------------------------------------------------- IQM


def test_iqm_of_one_to_eight():
    # n = 8: trim floor(0.25*8) = 2 from each end -> [3, 4, 5, 6]; (3+4+5+6)/4 = 18/4 = 4.5
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # order does not matter


def test_iqm_n_not_divisible_by_four_uses_floor_trim():
    # n = 5: floor(1.25) = 1 cut per end -> [2, 3, 4]; 9/3 = 3 (the outlier 100 is gone)
    assert iqm([1, 2, 3, 4, 100]) == 3.0
    # n = 7: floor(1.75) = 1 cut per end -> [2, 3, 4, 5, 6]; 20/5 = 4
    assert iqm([1, 2, 3, 4, 5, 6, 100]) == 4.0
    # n = 3: floor(0.75) = 0 -> plain mean (1+2+9)/3 = 4
    assert iqm([1, 2, 9]) == 4.0


def test_iqm_drops_nan_and_empty_is_nan():
    # NaN dropped -> [1..8] -> 4.5
    assert iqm([1, 2, 3, np.nan, 4, 5, 6, 7, 8]) == 4.5
    assert math.isnan(iqm([]))


def test_iqm_ci_constant_and_contains_value():
    assert iqm_ci([7.0] * 9) == Estimate(7.0, 7.0, 7.0, 9)
    est = iqm_ci(np.arange(1.0, 41.0), seed=3)
    # IQM of 1..40: drop 10 per end -> 11..30, mean = (11+30)/2 = 20.5
    assert est.value == 20.5
    assert est.low < 20.5 < est.high
    assert est.n == 40


@given(samples)
def test_iqm_between_min_and_max(xs):
    tol = _ulps(xs)  # a float mean of equal values can be off by an ulp
    assert min(xs) - tol <= iqm(xs) <= max(xs) + tol


# --------------------------------------------------------------------------- mean CIs


def test_t_ci_of_one_two_three():
    # mean = 2, s = sqrt(((1-2)^2 + 0 + (3-2)^2) / 2) = 1, half = t(0.975, 2) * 1 / sqrt(3)
    assert pytest.approx(4.302652729911275, rel=1e-9) == T_0975_DF2
    half = T_0975_DF2 / math.sqrt(3)  # = 2.4841377...
    est = t_ci([1, 2, 3])
    assert est.value == 2.0
    assert est.low == pytest.approx(2 - half, rel=1e-12)
    assert est.high == pytest.approx(2 + half, rel=1e-12)
    assert est.n == 3


def test_t_ci_edge_cases():
    assert t_ci([4.0, 4.0]) == Estimate(4.0, 4.0, 4.0, 2)  # s = 0 -> zero width
    one = t_ci([5.0])
    assert one.value == 5.0 and math.isnan(one.low) and math.isnan(one.high) and one.n == 1
    assert t_ci([]).n == 0 and math.isnan(t_ci([]).value)


def test_mean_ci_constant_sample_is_the_constant():
    assert mean_ci([3.0] * 10) == Estimate(3.0, 3.0, 3.0, 10)
    # every resample of [0.1]*3 is [0.1]*3, computed the same way as the point estimate
    est = mean_ci([0.1, 0.1, 0.1])
    assert est.low == est.value == est.high


def test_mean_ci_small_n():
    assert mean_ci([2.5]) == Estimate(2.5, 2.5, 2.5, 1)  # the only resample of one value
    empty = mean_ci([])
    assert empty.n == 0 and all(math.isnan(v) for v in (empty.value, empty.low, empty.high))
    assert mean_ci([np.nan, 1.0, 3.0]).n == 2  # NaN dropped, mean (1+3)/2 = 2
    assert mean_ci([np.nan, 1.0, 3.0]).value == 2.0


def test_mean_ci_contains_mean_and_shrinks_with_n():
    rng = np.random.default_rng(42)
    small, large = rng.normal(10.0, 2.0, 10), rng.normal(10.0, 2.0, 1000)
    e_small, e_large = mean_ci(small), mean_ci(large)
    assert e_small.value == pytest.approx(small.mean())
    assert e_small.low < e_small.value < e_small.high
    assert e_large.low < e_large.value < e_large.high
    # width ~ 2*1.96*sigma/sqrt(n): ~2.5 at n=10, ~0.25 at n=1000
    assert (e_large.high - e_large.low) < 0.5 * (e_small.high - e_small.low)
    assert e_large.high - e_large.low == pytest.approx(2 * 1.96 * 2.0 / math.sqrt(1000), rel=0.2)


def test_bootstrap_is_deterministic_given_seed():
    x = np.random.default_rng(0).exponential(5.0, 25)  # continuous: CIs differ across seeds
    assert mean_ci(x, seed=7) == mean_ci(x, seed=7)
    assert iqm_ci(x, seed=7) == iqm_ci(x, seed=7)
    assert mean_ci(x, seed=7) != mean_ci(x, seed=8)
    state = np.random.get_state()[1].copy()
    mean_ci(x)
    assert np.array_equal(np.random.get_state()[1], state)  # global RNG untouched


def test_stratified_bootstrap_keeps_stratum_sizes():
    # strata {1,1,1} and {5,5,5}: each resample keeps three of each -> mean always (3+15)/6 = 3
    x = [1, 1, 1, 5, 5, 5]
    assert mean_ci(x, strata=[0, 0, 0, 1, 1, 1]) == Estimate(3.0, 3.0, 3.0, 6)
    plain = mean_ci(x)
    assert plain.low < 3.0 < plain.high  # unstratified resamples mix the proportions


def test_bootstrap_ci_custom_statistic_and_validation():
    est = bootstrap_ci([1.0, 2.0, 3.0, 10.0], lambda s: np.median(s, axis=-1))
    assert est.value == 2.5  # median of [1, 2, 3, 10] = (2+3)/2
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], n_boot=0)
    with pytest.raises(ValueError):
        mean_ci([[1.0, 2.0]])
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], strata=[0])


def test_estimate_to_dict():
    assert Estimate(1.0, 0.5, 1.5, 4).to_dict() == {"value": 1.0, "low": 0.5, "high": 1.5, "n": 4}


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(0, 2**32 - 1))
def test_mean_ci_brackets_the_mean(xs, seed):
    est = mean_ci(xs, n_boot=200, seed=seed)
    tol = _ulps(xs)
    assert est.low - tol <= est.value <= est.high + tol
    assert min(xs) - tol <= est.low <= est.high <= max(xs) + tol


@settings(max_examples=60, deadline=None)
@given(samples)
def test_iqm_ci_within_data_range(xs):
    est = iqm_ci(xs, n_boot=200)
    tol = _ulps(xs)
    assert min(xs) - tol <= est.low <= est.high <= max(xs) + tol


# --------------------------------------------------------------------------- paired comparisons


def test_paired_ratio_identical_is_one():
    x = [3.0, 7.0, 1.5, 9.0]
    assert paired_ratio_ci(x, x) == Estimate(1.0, 1.0, 1.0, 4)


def test_paired_ratio_resamples_seeds_jointly():
    # a = 2*b seed by seed: every joint resample has mean(a)/mean(b) = 2 exactly -> CI [2, 2]
    # (an unpaired bootstrap would scatter around 2)
    assert paired_ratio_ci([2, 4, 6], [1, 2, 3]) == Estimate(2.0, 2.0, 2.0, 3)
    # ratio of means, not mean of ratios:
    # a = [1, 4], b = [1, 2]: mean(a)/mean(b) = 2.5/1.5 = 5/3, whereas mean(a/b) = (1 + 2)/2 = 1.5
    assert paired_ratio_ci([1, 4], [1, 2]).value == pytest.approx(5 / 3)
    with pytest.raises(ValueError):
        paired_ratio_ci([1, 2], [1, 2, 3])


def test_paired_ratio_drops_nan_pairs():
    # pair 2 dropped -> a = [2, 6], b = [1, 3]: 4/2 = 2
    assert paired_ratio_ci([2, np.nan, 6], [1, 5, 3]) == Estimate(2.0, 2.0, 2.0, 2)


def test_improvement_pct():
    # lower is better: mean(a) = (1+3)/2 = 2, mean(b) = (2+4)/2 = 3 -> (3-2)/3*100 = 33.33%
    est = improvement_ci([1, 3], [2, 4])
    assert est.value == pytest.approx(100 / 3)
    assert est.low <= est.value <= est.high
    # a = 0.5*b per seed -> (mean(b) - 0.5*mean(b)) / mean(b) = 50% in every resample
    assert improvement_ci([5, 10, 15], [10, 20, 30]) == Estimate(50.0, 50.0, 50.0, 3)
    # higher is better: (110 - 100)/100*100 = +10%; as lower-better it is -10%
    assert improvement_ci([110], [100], lower_is_better=False).value == pytest.approx(10.0)
    assert improvement_ci([110], [100]).value == pytest.approx(-10.0)


# --------------------------------------------------------------------------- probability of improvement


def test_probability_of_improvement_hand_cases():
    # lower better, a = [1, 2], b = [3, 4]: all 4 pairs have a < b -> 4/4 = 1
    assert probability_of_improvement([1, 2], [3, 4]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4], lower_is_better=False) == 0.0
    # all tied: 4 pairs * 1/2 / 4 = 0.5
    assert probability_of_improvement([1, 1], [1, 1]) == 0.5
    # a = [1, 2], b = [2, 3]: (1,2)=1, (1,3)=1, (2,2)=1/2, (2,3)=1 -> 3.5/4 = 0.875
    assert probability_of_improvement([1, 2], [2, 3]) == 0.875
    # identical samples -> 0.5 by symmetry: (1,1)=.5 (1,2)=1 (2,1)=0 (2,2)=.5 -> 2/4
    assert probability_of_improvement([1, 2], [1, 2]) == 0.5
    assert math.isnan(probability_of_improvement([], [1.0]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12),
       st.lists(st.integers(0, 5), min_size=1, max_size=12), st.booleans())
def test_probability_of_improvement_matches_pair_counting(a, b, lower):
    xa, xb = np.array(a, float)[:, None], np.array(b, float)[None, :]
    better = (xa < xb) if lower else (xa > xb)
    brute = (better.sum() + 0.5 * (xa == xb).sum()) / (len(a) * len(b))
    p = probability_of_improvement(a, b, lower)
    assert p == pytest.approx(brute, abs=1e-12)
    assert p + probability_of_improvement(b, a, lower) == pytest.approx(1.0, abs=1e-12)
    # scipy's U1 counts a > b (+ ties/2): the higher-is-better probability
    u1 = sps.mannwhitneyu(a, b, method="asymptotic").statistic
    assert probability_of_improvement(a, b, False) == pytest.approx(u1 / (len(a) * len(b)))


def test_probability_of_improvement_ci():
    a, b = [1.0, 2.0, 3.0, 2.5], [2.0, 4.0, 3.5, 5.0]
    est = probability_of_improvement_ci(a, b, seed=1)
    assert est.value == probability_of_improvement(a, b)
    assert 0.0 <= est.low <= est.value <= est.high <= 1.0
    assert est.n == 8
    assert est == probability_of_improvement_ci(a, b, seed=1)
    # complete separation survives every resample -> [1, 1]
    assert probability_of_improvement_ci([1, 2], [3, 4]) == Estimate(1.0, 1.0, 1.0, 4)


# --------------------------------------------------------------------------- summarize


def _tiny() -> pd.DataFrame:
    rows = [("heft", 1.0, s, v) for s, v in zip([0, 1, 2], [10.0, 20.0, 30.0], strict=True)]
    rows += [("rl", 1.0, s, v) for s, v in zip([0, 1, 2], [5.0, 10.0, 15.0], strict=True)]
    # rate 2.0: rl rows out of seed order; rl = 0.5*heft seed by seed (seed0 20/40, ...)
    rows += [("heft", 2.0, s, v) for s, v in zip([0, 1, 2], [40.0, 50.0, 60.0], strict=True)]
    rows += [("rl", 2.0, s, v) for s, v in zip([2, 0, 1], [30.0, 20.0, 25.0], strict=True)]
    return pd.DataFrame(rows, columns=["agent", "rate", "seed", "latency"])


def test_summarize_two_agents_three_seeds():
    out = summarize(_tiny(), "latency", ["agent", "rate"], baseline="heft")
    assert list(out.columns) == [
        "agent", "rate", "n", "mean", "mean_low", "mean_high", "iqm", "iqm_low", "iqm_high",
        "std", "n_paired", "ratio_to_heft", "ratio_low", "ratio_high", "improvement_pct",
        "improvement_low", "improvement_high", "prob_improvement"]
    rl = out.set_index(["agent", "rate"]).loc[("rl", 1.0)]
    # rl at rate 1: mean (5+10+15)/3 = 10, IQM of n=3 = plain mean = 10, std = 5 (ddof=1)
    assert (rl["n"], rl["mean"], rl["iqm"], rl["std"]) == (3, 10.0, 10.0, 5.0)
    # ratio 10/20 = 0.5; each seed is exactly half -> paired CI [0.5, 0.5]; improvement 50%
    assert (rl["ratio_to_heft"], rl["ratio_low"], rl["ratio_high"]) == (0.5, 0.5, 0.5)
    assert (rl["improvement_pct"], rl["improvement_low"], rl["improvement_high"]) == (50, 50, 50)
    # PoI rl=[5,10,15] vs heft=[10,20,30]: 5 beats 3; 10 ties 10 (.5), beats 20,30; 15 beats 20,30
    # -> (3 + 2.5 + 2) / 9 = 7.5/9
    assert rl["prob_improvement"] == pytest.approx(7.5 / 9)
    # rate 2: rows shuffled, but pairing by seed gives a constant 0.5 ratio -> CI [0.5, 0.5]
    rl2 = out.set_index(["agent", "rate"]).loc[("rl", 2.0)]
    assert (rl2["ratio_to_heft"], rl2["ratio_low"], rl2["ratio_high"]) == (0.5, 0.5, 0.5)
    # the baseline against itself
    heft = out.set_index(["agent", "rate"]).loc[("heft", 1.0)]
    assert (heft["ratio_to_heft"], heft["ratio_low"], heft["ratio_high"]) == (1.0, 1.0, 1.0)
    assert heft["improvement_pct"] == 0.0 and heft["prob_improvement"] == 0.5
    assert heft["mean"] == 20.0 and heft["mean_low"] <= 20.0 <= heft["mean_high"]


def test_summarize_unmatched_seeds_and_missing_baseline():
    df = pd.concat([_tiny(), pd.DataFrame([("rl", 1.0, 3, 1000.0), ("rl", 3.0, 0, 7.0)],
                                          columns=["agent", "rate", "seed", "latency"])])
    out = summarize(df, "latency", ["agent", "rate"], baseline="heft").set_index(["agent", "rate"])
    # seed 3 has no heft partner: n = 4 but the comparison uses the 3 shared seeds -> still 0.5
    assert out.loc[("rl", 1.0), "n"] == 4 and out.loc[("rl", 1.0), "n_paired"] == 3
    assert out.loc[("rl", 1.0), "ratio_to_heft"] == 0.5
    # no heft run at rate 3 -> NaN comparison columns
    assert out.loc[("rl", 3.0), "n_paired"] == 0
    assert math.isnan(out.loc[("rl", 3.0), "ratio_to_heft"])
    assert math.isnan(out.loc[("rl", 3.0), "prob_improvement"])


def test_summarize_without_baseline_and_errors():
    out = summarize(_tiny(), "latency", "agent")
    assert list(out["agent"]) == ["heft", "rl"] and list(out["n"]) == [6, 6]
    assert "ratio_low" not in out.columns
    with pytest.raises(ValueError, match="agent_col"):
        summarize(_tiny(), "latency", ["rate"], baseline="heft")
    with pytest.raises(ValueError, match="seed"):  # rates pooled: seeds repeat within a group
        summarize(_tiny(), "latency", ["agent"], baseline="heft")
    with pytest.raises(ValueError, match="not in the DataFrame"):
        summarize(_tiny(), "missing", ["agent"])


# --------------------------------------------------------------------------- saturation


def test_saturation_point_hand_curve():
    # L0 = 10 at rate 1 -> threshold 20; first latency > 20 is 40 at rate 4;
    # interpolate on (3, 16)-(4, 40): 3 + (20-16)*(4-3)/(40-16) = 3 + 4/24 = 3.1666...
    assert saturation_point([1, 2, 3, 4], [10, 12, 16, 40]) == pytest.approx(3 + 1 / 6)
    # factor 3 -> threshold 30, crossing on (3, 16)-(4, 40): 3 + 14/24
    assert saturation_point([1, 2, 3, 4], [10, 12, 16, 40], factor=3) == pytest.approx(3 + 14 / 24)
    assert saturation_point([1, 2, 3], [10, 12, 15]) is None  # never above 20


def test_saturation_point_unsorted_duplicates_and_touching():
    # per-rate means: 1 -> (9+11)/2 = 10, 2 -> 15, 3 -> 30; threshold 20;
    # crossing on (2, 15)-(3, 30): 2 + 5/15 = 2.333...
    assert saturation_point([2, 1, 1, 3], [15, 9, 11, 30]) == pytest.approx(2 + 1 / 3)
    # equal to the threshold is not "exceeding": 20 at rate 2, first > 20 is 25 at rate 3;
    # the segment (2, 20)-(3, 25) reaches 20 at its left end -> 2.0
    assert saturation_point([1, 2, 3], [10, 20, 25]) == 2.0
    # an unbounded latency puts the crossing at the previous rate
    assert saturation_point([1, 2, 3], [10, 12, np.inf]) == 2.0
    assert saturation_point([], []) is None
    assert saturation_point([1.0], [5.0]) is None
