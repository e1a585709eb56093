"""Report details: noise levels by magnitude in the ranking and trade-off tables, far-off agents
kept from stretching the latency-energy axes, and Ray's non-actionable token-auth notice
silenced for the local Ray soclab starts. No Ray is started here."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from soclab.plots import noise_key
from soclab.spec import spec_from_dict

LEVELS = ["gaussian:0.2", "none", "gaussian:1", "lognormal:0.3", "gaussian:0.05"]
BY_MAGNITUDE = ["none", "gaussian:0.05", "gaussian:0.2", "gaussian:1", "lognormal:0.3"]


def _frame(agents: dict[str, float], noises: list[str], rates=(2.0,)) -> pd.DataFrame:
    rows = []
    for agent, lat in agents.items():
        for noise in noises:
            for rate in rates:
                for seed in range(3):
                    rows.append({"agent": agent, "noise": noise, "rate_jobs_per_ms": rate,
                                 "seed": seed, "avg_latency_us": lat * (1 + 0.01 * seed),
                                 "energy_per_job_j": 6e-4 * (1 + 0.02 * seed) * (2 if lat > 500 else 1),
                                 "energy_j": 0.06, "edp": 1e-5, "run_id": "x"})
    return pd.DataFrame(rows)


def test_noise_levels_sort_by_magnitude() -> None:
    assert sorted(LEVELS, key=noise_key) == BY_MAGNITUDE
    assert sorted(["slowdown:A15:2", "slowdown:A15:1.5", "gaussian:0.1+burst:2:10:100",
                   "gaussian:0.1"], key=noise_key) == [
        "gaussian:0.1", "gaussian:0.1+burst:2:10:100", "slowdown:A15:1.5", "slowdown:A15:2"]


def test_ranking_and_tradeoff_tables_put_none_first() -> None:
    from soclab import tradeoff
    from soclab.report import ranking, ranking_markdown

    spec = spec_from_dict({"name": "order", "agents": [{"name": "ETF"}, {"name": "MET"}],
                           "baselines": [], "axes": {"noise": LEVELS, "rates_jobs_per_ms": [2]}})
    df = _frame({"ETF": 100.0, "MET": 130.0}, LEVELS)
    table = ranking(df, spec)
    assert list(dict.fromkeys(table.noise)) == BY_MAGNITUDE
    assert list(table[table.noise == "none"].agent) == ["ETF", "MET"]
    rows = [ln.split("|")[1].strip() for ln in ranking_markdown(df, spec).splitlines()[4:]]
    assert rows == BY_MAGNITUDE
    md = tradeoff.markdown(df, spec)
    seen = [ln.split("|")[2].strip() for ln in md.splitlines() if ln.startswith("| ETF |")]
    assert seen == BY_MAGNITUDE


def test_far_off_agents_do_not_stretch_the_latency_energy_axes() -> None:
    """random at ~20x the best latency and MET at 3x: the panel's latency axis covers the close
    agents only; both far-off agents are labelled arrows inside the panel, with their values."""
    from soclab.tradeoff import draw_latency_energy

    spec = spec_from_dict({"name": "far", "agents": [{"name": "ETF"}, {"name": "HEFT"},
                                                     {"name": "MET"}, {"name": "random"}],
                           "baselines": [], "axes": {"noise": ["none"], "rates_jobs_per_ms": [2, 5]}})
    df = _frame({"ETF": 100.0, "HEFT": 104.0, "MET": 300.0, "random": 2000.0}, ["none"], (2.0, 5.0))
    plt, fig, axes = draw_latency_energy(df, spec)
    try:
        for ax in axes:
            lo, hi = ax.get_xlim()
            assert 90 < lo < 100 and 105 < hi < 130, (lo, hi)
            labels = [t.get_text() for t in ax.texts]
            assert any(t.startswith("random: 2,0") and "µs" in t and "mJ" in t for t in labels)
            assert any(t.startswith("MET: 30") for t in labels)
            arrows = [ln for ln in ax.lines if ln.get_marker() == ">"]
            assert len(arrows) == 2
            for ln in arrows:
                x, y = ln.get_xdata()[0], ln.get_ydata()[0]
                assert lo < x < hi and ax.get_ylim()[0] < y < ax.get_ylim()[1]
            ticks = [t.get_text() for t in ax.get_xticklabels()]
            assert not any("10^" in t or "times" in t for t in ticks), ticks
    finally:
        plt.close(fig)


def test_no_far_off_agent_leaves_the_axes_alone() -> None:
    from soclab.tradeoff import draw_latency_energy

    spec = spec_from_dict({"name": "near", "agents": [{"name": "ETF"}, {"name": "HEFT"}],
                           "baselines": [], "axes": {"noise": ["none"], "rates_jobs_per_ms": [2]}})
    plt, fig, (ax,) = draw_latency_energy(_frame({"ETF": 100.0, "HEFT": 104.0}, ["none"]), spec)
    try:
        assert not ax.texts and not [ln for ln in ax.lines if ln.get_marker() == ">"]
        assert np.all(np.isfinite(ax.get_xlim()))
    finally:
        plt.close(fig)


def test_ray_default_token_auth_notice_is_dropped_and_other_messages_pass(caplog) -> None:
    from soclab.ray_session import RAY_AUTH_LOGGER, quiet_default_token_auth_notice

    quiet_default_token_auth_notice()
    quiet_default_token_auth_notice()  # idempotent
    logger = logging.getLogger(RAY_AUTH_LOGGER)
    assert len(logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=RAY_AUTH_LOGGER):
        logger.warning("Token authentication is enabled for this Ray cluster. Set "
                       "RAY_AUTH_MODE=disabled to opt out.")
        logger.warning("Token authentication is disabled for this Ray cluster. Anyone with "
                       "network access ...")
        logger.info("Generated new authentication token and saved to ~/.ray/auth_token")
    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 2 and "disabled" in texts[0] and "Generated" in texts[1]


def test_a_far_but_frugal_agent_stays_on_the_front_and_on_the_axes() -> None:
    """A slow agent with the lowest energy (a powersave governor) is part of the trade-off:
    drawn as a point, the axis reaching it, no arrow."""
    from soclab.tradeoff import draw_latency_energy

    spec = spec_from_dict({"name": "gov", "agents": [{"name": "ETF"}, {"name": "HEFT"},
                                                     {"name": "MET"}],
                           "baselines": [], "axes": {"noise": ["none"], "rates_jobs_per_ms": [2]}})
    df = _frame({"ETF": 100.0, "HEFT": 104.0, "MET": 2000.0}, ["none"])
    df.loc[df.agent == "MET", "energy_per_job_j"] = 1e-4  # the most frugal by far
    plt, fig, (ax,) = draw_latency_energy(df, spec)
    try:
        assert ax.get_xlim()[1] > 2000
        assert not ax.texts and not [ln for ln in ax.lines if ln.get_marker() == ">"]
    finally:
        plt.close(fig)
