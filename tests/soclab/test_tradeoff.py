"""The latency-energy trade-off views (soclab.tradeoff): Pareto front, tables, figures; and the
deadline metrics (dssoc.metrics) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dssoc import Application, Cluster, SimConfig, SoC, Task, Workload, simulate
from dssoc.metrics import deadline_metrics
from soclab.spec import spec_from_dict
from soclab.tradeoff import figures, markdown, pareto_front, tradeoff_table


# ------------------------------------------------------------------ Pareto front
def test_pareto_front_by_hand() -> None:
    lat = [100, 120, 90, 150, 120, 95]
    en = [5.0, 4.0, 6.0, 3.0, 4.5, 6.5]
    # (95, 6.5) is dominated by (90, 6.0); (120, 4.5) by (120, 4.0)
    assert pareto_front(lat, en).tolist() == [True, True, True, True, False, False]


def test_pareto_front_ties_nan_and_shapes() -> None:
    assert pareto_front([1, 1], [2, 2]).tolist() == [True, True]  # duplicates both stay
    assert pareto_front([1, np.nan, 2], [2, 0, 1]).tolist() == [True, False, True]
    assert pareto_front([], []).tolist() == []
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [1])


def test_pareto_front_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, 40).astype(float), rng.integers(0, 6, 40).astype(float)
    expected = [not any(x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i])
                        for j in range(40)) for i in range(40)]
    assert pareto_front(x, y).tolist() == expected


# ------------------------------------------------------------------ deadlines
def test_deadline_metrics_by_hand() -> None:
    miss, tardy, p99 = deadline_metrics(np.array([-50.0, -10.0, 30.0]))
    assert miss == pytest.approx(1 / 3) and tardy == pytest.approx(10.0)
    assert p99 == pytest.approx(-10 + 0.98 * 40)
    assert all(np.isnan(v) for v in deadline_metrics(np.zeros(0)))


@pytest.mark.parametrize("how", ["app", "factor"])
def test_deadlines_in_the_engine_by_hand(how: str) -> None:
    """A 100 us task on one PE, jobs every 60 us (fixed rate), 3 jobs: latencies 100, 140, 180;
    a 150 us deadline (or 1.5 x the 100 us lower bound) makes lateness -50, -10, +30."""
    soc = SoC("one", (Cluster("P", "CPU", 1, {"a": 100.0}),), {})
    app = Application("a", (Task("a"),), deadline_us=150.0 if how == "app" else None)
    cfg = SimConfig(soc=soc, workload=Workload("a", (app,), (1.0,)), scale_us=60, fixed_rate=True,
                    max_jobs=3, duration_us=None, deadline_factor=1.5 if how == "factor" else None)
    r = simulate(cfg, "ETF")
    assert list(r.latencies) == [100.0, 140.0, 180.0]
    assert r.deadline_miss_rate == pytest.approx(1 / 3)
    assert r.mean_tardiness_us == pytest.approx(10.0)
    assert r.p99_lateness_us == pytest.approx(29.2)


def test_no_deadline_gives_nan_metrics() -> None:
    r = simulate(SimConfig.build("wifi_tx", max_jobs=2, duration_us=None), "ETF")
    assert np.isnan(r.deadline_miss_rate) and np.isnan(r.p99_lateness_us)
    assert r.energy_per_job_j == pytest.approx(r.energy_j / 2)


# ------------------------------------------------------------------ report views
def _frame() -> pd.DataFrame:
    """Two agents x one rate x 3 seeds: A fast and hungry, B slow and frugal, C dominated."""
    rows = []
    for seed in range(3):
        for agent, lat, en, miss in (("A", 100, 2e-4, 0.0), ("B", 200, 1e-4, 0.5), ("C", 210, 3e-4, 0.6)):
            rows.append({"agent": agent, "noise": "none", "rate_jobs_per_ms": 2.0, "seed": seed,
                         "avg_latency_us": lat + seed, "energy_per_job_j": en * (1 + seed / 100),
                         "edp": 1e-6, "deadline_miss_rate": miss, "mean_tardiness_us": 5.0,
                         "p99_lateness_us": 9.0})
    return pd.DataFrame(rows)


def test_tradeoff_table_marks_the_front() -> None:
    t = tradeoff_table(_frame()).set_index("agent")
    assert t.pareto.to_dict() == {"A": True, "B": True, "C": False}
    assert t.loc["A", "latency_low"] <= t.loc["A", "latency"] <= t.loc["A", "latency_high"]


def test_figures_and_markdown(tmp_path) -> None:
    spec = spec_from_dict({"name": "t", "agents": [{"name": "ETF"}], "baselines": []})
    paths = figures(_frame(), spec, tmp_path)
    assert [p.name for p in paths] == ["latency_energy.png", "deadline_misses.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
    md = markdown(_frame(), spec)
    assert "| A | none | 2 | 0.202 [0.2, 0.204] | 101 [100, 102] | 1.00 | yes |" in md
    assert "| C | none | 2 | 0.303 [0.3, 0.306] | 211 [210, 212] | 1.00 |  |" in md
    assert "## Deadlines" in md and "| B | none | 2 | 50 [50, 50] | 5.0 | 9.0 |" in md
    no_energy = _frame().assign(energy_per_job_j=np.nan, deadline_miss_rate=np.nan)
    assert figures(no_energy, spec, tmp_path) == [] and markdown(no_energy, spec) == ""


def test_cell_metrics_log_energy_and_deadlines_under_dotted_names() -> None:
    """Each cell run logs the energy and deadline means (soclab.metrics names); deadline metrics
    undefined on every seed (no job had a deadline) are left out rather than logged as NaN."""
    from soclab.cellrun import summary_metrics

    out = summary_metrics(_frame())
    assert out["deadline.miss_rate"] == pytest.approx((0.0 + 0.5 + 0.6) / 3)
    assert out["deadline.mean_tardiness_us"] == 5.0 and out["deadline.p99_lateness_us"] == 9.0
    assert out["energy.per_job_j"] == pytest.approx(np.mean(_frame().energy_per_job_j))
    no_deadlines = _frame().assign(deadline_miss_rate=np.nan, mean_tardiness_us=np.nan,
                                   p99_lateness_us=np.nan)
    out = summary_metrics(no_deadlines)
    assert "energy.per_job_j" in out and not [k for k in out if k.startswith("deadline.")]


def test_report_of_a_governors_axis_keeps_pairs_and_adds_tradeoff_figures(tmp_path) -> None:
    """On a governors axis the agents are SCHEDULER@GOVERNOR labels: the report keeps them (after
    their scheduler, in spec order), draws the trade-off figures and, without baselines, claims
    no comparison with them."""
    from soclab.report import agent_order, write_report

    df = _frame().replace({"agent": {"A": "ETF@performance", "B": "ETF@powersave",
                                     "C": "HEFT@performance"}})
    spec = spec_from_dict({"name": "gov", "agents": [{"name": "HEFT"}, {"name": "ETF"}],
                           "baselines": []})
    assert agent_order(spec, df) == ["HEFT@performance", "ETF@performance", "ETF@powersave"]
    write_report(df, spec, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "![latency_energy](latency_energy.png)" in md and "![deadline_misses]" in md
    assert md.index("## Summary") < md.index("## Figures") < md.index("## Deadlines")
    assert "baselines ()" not in md and "| **ETF@performance** |" in md
