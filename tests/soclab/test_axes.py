"""Sweep axes as data: any SimConfig field as an axis, cell keys/labels/params/rows from the point,
old specs' hashes unchanged, heuristic params from the spec. No Ray, no MLflow."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from soclab.cellrun import evaluate_cell
from soclab.cells import group_columns, plan_cells
from soclab.report import Summaries, detail_markdown, ranking_markdown, summary_markdown
from soclab.rl.tuning import tuning_hash
from soclab.spec import SpecError, spec_from_dict

BASE = {"name": "axes", "simulation": {"workload": "wifi-tx-rx", "duration_us": 3000, "warmup_us": 300},
        "agents": [{"name": "ETF"}], "baselines": ["HEFT"]}


def _spec(axes: dict, **extra):
    return spec_from_dict({**BASE, "axes": axes, **extra})


def test_old_spec_hashes_are_unchanged():
    """Hashes of a noise x rate spec computed by the code before axes were data (resume works);
    the values are those of main after issue 14 (its DVFS data entered the SoC fingerprint)."""
    doc = {"name": "golden", "simulation": {"workload": "wifi-tx-rx", "duration_us": 4000, "warmup_us": 500},
           "agents": [{"name": "ETF"}, {"name": "ppo", "algorithm": "PPO"}], "baselines": ["HEFT"],
           "axes": {"noise": ["none", "gaussian:0.1"], "rates_jobs_per_ms": [2, 5], "seeds": [0, 1]}}
    cells = plan_cells(spec_from_dict(doc))
    assert [c.hash for c in cells] == [
        "9fd13c1466d1e6dd", "c720b911d1294c95", "ef043b0571a00bf4", "2889283a426d87c4",
        "308efc3fecde7bac", "411979a129b8b8fb", "dd841a1aab191c0f", "30291194f03c8881",
        "795f0040c9dcebad", "d23750a1ef5c4613", "00aea0e81bfe23c8", "7d8b079b45e2a1dd"]
    rl = next(c for c in cells if c.agent.kind == "rl")
    assert tuning_hash(rl, {"search_alg": "grid"}) == "f6c8dd6f20497115"


def test_extra_axes_span_the_grid_and_reach_the_simulator():
    spec = _spec({"soc": ["MULTIPLE_BAL", "MULTIPLE_BAL_FFT8"], "max_jobs_in_flight": [2, 12],
                  "rate_jobs_per_ms": [20], "seeds": [0]})
    cells = plan_cells(spec)
    assert len(cells) == 2 * 2 * 2  # agents (ETF + HEFT) x soc x max_jobs_in_flight
    assert group_columns(spec) == ["agent", "soc", "max_jobs_in_flight", "noise", "rate_jobs_per_ms"]
    seen = set()
    for c in cells:
        cfg = c.sim_config()
        assert cfg.soc.name == c.coordinates["soc"]
        assert cfg.max_jobs_in_flight == c.coordinates["max_jobs_in_flight"]
        assert cfg.rate_jobs_per_ms == pytest.approx(20.0)
        assert f"soc={c.coordinates['soc']}" in c.label
        p = c.params()
        assert p["max_jobs_in_flight"] == c.coordinates["max_jobs_in_flight"] and p["soc"] == cfg.soc.name
        seen.add(c.hash)
    assert len(seen) == len(cells)
    fft = next(c for c in cells if c.coordinates["soc"] == "MULTIPLE_BAL_FFT8")
    assert [cl.capacity for cl in fft.sim_config().soc.clusters if cl.name == "FFT"] == [8]


def test_config_axis_outside_the_simulation_block():
    cells = plan_cells(_spec({"energy": [True, False], "seeds": [0]}))
    assert sorted({c.sim_config().energy for c in cells}) == [False, True]
    on = next(c for c in cells if c.coordinates["energy"])
    off = next(c for c in cells if not c.coordinates["energy"])
    assert on.hash != off.hash and on.key["energy"] is True
    rows, _ = evaluate_cell(off)
    assert np.isnan(rows["energy_j"]).all() and (rows["energy"] == False).all()  # noqa: E712


def test_one_point_and_rows_carry_every_axis():
    spec = _spec({"max_jobs_in_flight": [3, 6], "noise": ["none", "gaussian:0.1"], "seeds": [0, 1]})
    [etf, heft] = plan_cells(spec, at={"noise": "gaussian:0.1"})
    assert etf.coordinates == {"max_jobs_in_flight": 3, "noise": "gaussian:0.1", "rate_jobs_per_ms": 5.0}
    assert heft.agent.name == "HEFT"
    rows, _ = evaluate_cell(etf)
    assert list(rows.columns[:6]) == ["cell_hash", "agent", "max_jobs_in_flight", "noise",
                                      "rate_jobs_per_ms", "seed"]
    assert len(rows) == 2
    with pytest.raises(Exception, match="no axis"):
        plan_cells(spec, at={"soc": "Top"})


def test_report_groups_by_the_extra_axes():
    spec = _spec({"soc": ["MULTIPLE_BAL", "MULTIPLE_BAL_FFT8"], "seeds": [0, 1, 2]})
    rng = np.random.default_rng(1)
    rows = [dict(agent=a, soc=s, noise="none", rate_jobs_per_ms=5.0, seed=k,
                 avg_latency_us=(80 if s.endswith("8") else 100) * (1.1 if a == "HEFT" else 1.0)
                 + rng.uniform(), p95_latency_us=1.0, throughput_jobs_per_ms=1.0, energy_j=1.0,
                 mean_slowdown=1.0, run_id="r")
            for a in ("ETF", "HEFT") for s in ("MULTIPLE_BAL", "MULTIPLE_BAL_FFT8") for k in range(3)]
    df = pd.DataFrame(rows)
    sm = Summaries.of(df, spec)
    md = detail_markdown(df, spec, sm)
    summary = summary_markdown(df, spec, sm)  # the answer per design point: ETF on each soc
    answers = [ln.split("|")[1].strip() for ln in summary.splitlines() if ln.startswith("| MULTIPLE")]
    assert answers == ["MULTIPLE_BAL", "MULTIPLE_BAL_FFT8"]
    assert summary.count("| **ETF** |") == 2
    assert "| agent | soc | noise | rate (jobs/ms) |" in md
    # one comparison row per soc, each paired with HEFT on the same soc (ratio ~ 1/1.1)
    assert len([ln for ln in md.splitlines() if ln.startswith("| ETF | MULTIPLE_BAL")]) == 2 * 3
    section = md.split("## Compared with HEFT")[1].split("##")[0]
    cmp = [ln.split("|") for ln in section.splitlines() if ln.startswith("| ETF |")]
    assert sorted(r[2].strip() for r in cmp) == ["MULTIPLE_BAL", "MULTIPLE_BAL_FFT8"]
    assert all(abs(float(r[5].split()[0]) - 1 / 1.1) < 0.02 for r in cmp), cmp


@pytest.mark.parametrize("axes, where", [
    ({"sco": ["Top"]}, "unknown axis 'sco'"),
    ({"max_jobs_in_flight": [0]}, "axes.max_jobs_in_flight[0]"),
    ({"energy": ["yes"]}, "energy[0]"),
    ({"soc": ["MULTIPLE_BAL", "no_such_soc"]}, "axes.soc[1]"),
    ({"max_jobs_in_flight": []}, "non-empty list"),
    ({"max_jobs_in_flight": [4, 4]}, "duplicate"),
    ({"rate_jobs_per_ms": [1], "rates_jobs_per_ms": [2]}, "not both"),
])
def test_bad_axes_are_one_line_errors(axes, where):
    with pytest.raises(SpecError, match=re.escape(where)):
        _spec(axes)


def test_rate_alias_is_the_rate_axis():
    a = plan_cells(_spec({"rate_jobs_per_ms": [3], "seeds": [0]}))
    b = plan_cells(_spec({"rates_jobs_per_ms": [3], "seeds": [0]}))
    assert [c.hash for c in a] == [c.hash for c in b]


def test_heuristic_params_from_the_spec():
    spec = spec_from_dict({**BASE, "agents": [{"name": "MET-strict", "scheduler": "MET",
                                               "params": {"ds3_tie_quirk": False}}],
                           "axes": {"seeds": [0]}})
    cell = plan_cells(spec)[0]
    assert cell.params()["param.ds3_tie_quirk"] is False
    assert cell.key["agent"]["params"] == {"ds3_tie_quirk": False}
    plain = plan_cells(spec_from_dict({**BASE, "agents": [{"name": "MET-strict", "scheduler": "MET"}],
                                       "axes": {"seeds": [0]}}))[0]
    assert "params" not in plain.key["agent"] and plain.hash != cell.hash
    rows, _ = evaluate_cell(cell)
    assert len(rows) == 1 and rows.agent.iloc[0] == "MET-strict"
    with pytest.raises(SpecError, match="params of ETF"):
        spec_from_dict({**BASE, "agents": [{"name": "ETF", "params": {"rank": "mean"}}]})
    with pytest.raises(SpecError, match="RL agent"):
        spec_from_dict({**BASE, "agents": [{"name": "p", "algorithm": "PPO", "params": {"a": 1}}]})


def _two_metric_frame() -> pd.DataFrame:
    """A is better on average latency, B on p95 (a tail/mean trade-off), HEFT in between."""
    rows = []
    for agent, avg, p95 in (("A", 90.0, 400.0), ("B", 110.0, 250.0), ("HEFT", 100.0, 300.0)):
        for seed in range(4):
            rows.append(dict(agent=agent, noise="none", rate_jobs_per_ms=5.0, seed=seed,
                             avg_latency_us=avg + seed, p95_latency_us=p95 + seed,
                             throughput_jobs_per_ms=1.0, energy_j=1.0, mean_slowdown=1.0, run_id=agent))
    return pd.DataFrame(rows)


def test_primary_metric_selects_ranking_and_ratios():
    from soclab.report import ranking

    agents = [{"name": "A", "scheduler": "ETF"}, {"name": "B", "scheduler": "MET"}]
    df = _two_metric_frame()
    by_avg = spec_from_dict({**BASE, "agents": agents, "axes": {"seeds": [0, 1, 2, 3]}})
    by_p95 = spec_from_dict({**BASE, "agents": agents, "axes": {"seeds": [0, 1, 2, 3]},
                             "metrics": {"primary": "p95_latency_us"}})
    assert list(ranking(df, by_avg).agent) == ["A", "HEFT", "B"]
    assert list(ranking(df, by_p95).agent) == ["B", "HEFT", "A"]
    md = ranking_markdown(df, by_p95) + "\n\n" + detail_markdown(df, by_p95, Summaries.of(df, by_p95))
    assert "## Ranking by p95 latency" in md
    assert re.search(r"\| B 25\d, HEFT 30\d, A 40\d \|", md), md.split("##")[1]
    cmp = md.split("## Compared with HEFT")[1].split("##")[0]
    b_row = next(ln for ln in cmp.splitlines() if ln.startswith("| B |"))
    assert b_row.split("|")[4].strip().startswith("0.83")  # p95 ratio 251.5/301.5, not avg's 1.1
    with pytest.raises(SpecError, match="unknown primary metric 'latency'"):
        spec_from_dict({**BASE, "metrics": {"primary": "latency"}})
    with pytest.raises(SpecError, match="unknown primary metric 'wall_time_s'"):  # no direction
        spec_from_dict({**BASE, "metrics": {"primary": "wall_time_s"}})


def test_higher_is_better_primary_ranks_descending():
    from soclab.report import ranking

    df = _two_metric_frame()
    df["throughput_jobs_per_ms"] = df.agent.map({"A": 1.0, "B": 3.0, "HEFT": 2.0})
    spec = spec_from_dict({**BASE, "agents": [{"name": "A", "scheduler": "ETF"},
                                              {"name": "B", "scheduler": "MET"}],
                           "metrics": {"primary": "throughput_jobs_per_ms"}})
    assert list(ranking(df, spec).agent) == ["B", "HEFT", "A"]


def test_tuning_objective_follows_the_primary_metric():
    from soclab.rl.tuning import objective

    assert objective(_spec({}, metrics={"primary": "edp"})) == ("edp", "min")
    assert objective(_spec({}, metrics={"primary": "throughput_jobs_per_ms"})) == (
        "throughput_jobs_per_ms", "max")


def test_agent_parameter_axes_set_the_params_of_the_agents_that_take_them():
    """`agent.PARAM` is an axis like any other: MET runs once per value with the value in its
    params (and key, label, MLflow params, rows); ETF and HEFT take no such argument and run
    unchanged at every point, so every point has its baselines and the report pairs on them."""
    spec = spec_from_dict({**BASE, "agents": [{"name": "MET"}], "baselines": ["ETF"],
                           "axes": {"agent.ds3_tie_quirk": [True, False], "seeds": [0, 1]}})
    cells = plan_cells(spec)
    assert [(c.agent.name, c.coordinates["agent.ds3_tie_quirk"]) for c in cells] == [
        ("MET", True), ("MET", False), ("ETF", True), ("ETF", False)]
    assert group_columns(spec) == ["agent", "agent.ds3_tie_quirk", "noise", "rate_jobs_per_ms"]
    met_on, met_off, etf_on, etf_off = cells
    assert met_on.agent.params == {"ds3_tie_quirk": True}
    assert met_off.agent.params == {"ds3_tie_quirk": False} and etf_off.agent.params == {}
    assert met_off.params()["param.ds3_tie_quirk"] is False
    assert etf_off.params()["agent.ds3_tie_quirk"] is False and "param.ds3_tie_quirk" not in etf_off.params()
    assert "agent.ds3_tie_quirk=False" in met_off.label
    assert len({c.hash for c in cells}) == 4 and etf_on.key["agent_axes"] == {"agent.ds3_tie_quirk": True}
    frames = [evaluate_cell(c)[0] for c in cells]
    df = pd.concat(frames, ignore_index=True)
    assert set(df.columns) >= {"agent.ds3_tie_quirk", "agent", "seed"}
    etf = df[df.agent == "ETF"].groupby("agent.ds3_tie_quirk").avg_latency_us.sum()
    assert etf[True] == etf[False]  # the value does not reach a scheduler that does not take it
    md = detail_markdown(df, spec, Summaries.of(df, spec))
    section = md.split("## Compared with ETF")[1].split("##")[0]
    assert len([ln for ln in section.splitlines() if ln.startswith("| MET |")]) == 2  # one per value


def test_agent_parameter_axes_are_checked():
    with pytest.raises(SpecError, match=r"axes\.agent\.rank: no agent's scheduler takes"):
        spec_from_dict({**BASE, "axes": {"agent.rank": ["mean", "best"]}})
    with pytest.raises(SpecError, match=r"unknown axis 'agent\.'"):
        spec_from_dict({**BASE, "axes": {"agent.": [1]}})
    plain = plan_cells(spec_from_dict({**BASE, "axes": {"seeds": [0]}}))
    assert all("agent_axes" not in c.key for c in plain)  # specs without agent axes keep their keys


def test_nested_soc_axis_sweeps_an_accelerator_count():
    """DS3's design-space knob as one axis line: `soc.FFT.capacity` over the block's SoC; the
    value is in the key, label, params and rows, the SoC's resolved name tells them apart."""
    spec = _spec({"soc.FFT.capacity": [4, 8], "rate_jobs_per_ms": [20], "seeds": [0]})
    cells = plan_cells(spec)
    assert [c.sim_config().soc.name for c in cells[:2]] == ["MULTIPLE_BAL+FFT.capacity=4",
                                                           "MULTIPLE_BAL+FFT.capacity=8"]
    four, eight = cells[:2]
    assert four.hash != eight.hash and eight.key["soc.FFT.capacity"] == 8
    assert eight.params()["soc.FFT.capacity"] == 8 and "soc.FFT.capacity=8" in eight.label
    rows, _ = evaluate_cell(eight)
    assert (rows["soc.FFT.capacity"] == 8).all()
    # written before the soc axis, the nested value still refines each SoC of it
    both = plan_cells(_spec({"soc.FFT.capacity": [2], "soc": ["MULTIPLE_BAL", "MULTIPLE_BAL_FFT8"],
                             "seeds": [0]}))
    assert {c.sim_config().soc.name for c in both} == {"MULTIPLE_BAL+FFT.capacity=2",
                                                       "MULTIPLE_BAL_FFT8+FFT.capacity=2"}
