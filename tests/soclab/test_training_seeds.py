"""budget.training_seeds: N independently trained copies of every RL agent (issue 11)."""

from __future__ import annotations

import pytest

from soclab.cells import Cell, plan_cells
from soclab.report import agent_order
from soclab.rl.train import train_seed
from soclab.spec import SpecError, spec_from_dict


def _spec(**budget: object) -> dict:
    return {"name": "ts", "agents": [{"name": "rl", "algorithm": "PPO"}, {"name": "MET"}],
            "axes": {"rates_jobs_per_ms": [2.0, 4.0], "seeds": [3, 4, 5]},
            "budget": {"rl_iterations": 1, **budget}}


def test_default_keeps_every_hash() -> None:
    explicit = plan_cells(spec_from_dict(_spec(training_seeds=1)))
    absent = plan_cells(spec_from_dict(_spec()))
    assert [c.hash for c in explicit] == [c.hash for c in absent]
    assert all("training_seeds" not in c.key["budget"] for c in absent if c.agent.kind == "rl")
    assert all(c.training_seed_index is None for c in absent)


def test_three_copies_distinct_seeds_same_eval_seeds() -> None:
    base = {c.label: c for c in plan_cells(spec_from_dict(_spec()))}
    cells = plan_cells(spec_from_dict(_spec(training_seeds=3)))
    rl = [c for c in cells if c.agent.kind == "rl"]
    assert sorted({c.agent.name for c in rl}) == ["rl-t0", "rl-t1", "rl-t2"]
    assert {c.base_agent for c in rl} == {"rl"}
    assert len(rl) == 3 * 2 and len([c for c in cells if c.agent.name == "MET"]) == 2
    assert {c.seeds for c in rl} == {(3, 4, 5)}
    assert len({c.hash for c in cells}) == len(cells)
    at_point = [c for c in rl if c.rate_jobs_per_ms == 2.0]
    assert len({train_seed(c) for c in at_point}) == 3
    copy0 = next(c for c in at_point if c.training_seed_index == 0)
    assert train_seed(copy0) == train_seed(base["rl | noise=none | rate=2/ms"])
    # heuristics untouched; the copy survives a Tune payload round trip
    assert next(c for c in cells if c.agent.name == "MET").hash == base["MET | noise=none | rate=2/ms"].hash
    again = Cell.from_payload(copy0.to_payload())
    assert again.training_seed_index == 0 and train_seed(again) == train_seed(copy0)


def test_changing_the_count_keeps_trained_copies() -> None:
    two = {c.hash for c in plan_cells(spec_from_dict(_spec(training_seeds=2)))}
    three = {c.hash for c in plan_cells(spec_from_dict(_spec(training_seeds=3)))}
    assert two < three


def test_hide_agents_hides_all_copies() -> None:
    d = _spec(training_seeds=2)
    d["report"] = {"hide_agents": ["rl"]}
    assert agent_order(spec_from_dict(d)) == ["MET", "HEFT", "ETF"]
    d["report"] = {"hide_agents": ["rl-t1"]}
    assert agent_order(spec_from_dict(d)) == ["rl-t0", "MET", "HEFT", "ETF"]


@pytest.mark.parametrize("change, needle", [
    ({"budget": {"training_seeds": 0}}, "budget.training_seeds"),
    ({"agents": [{"name": "rl", "algorithm": "PPO"}, {"name": "rl-t1", "scheduler": "MET"}]},
     "budget.training_seeds: copy name 'rl-t1'"),
    ({"baselines": ["rl", "HEFT"]}, "budget.training_seeds"),
])
def test_bad_values_name_the_key(change: dict, needle: str) -> None:
    d = {**_spec(training_seeds=2), **change}
    with pytest.raises(SpecError) as e:
        spec_from_dict(d)
    assert needle in str(e.value) and "\n" not in str(e.value).strip()


def test_pooled_row_spans_training_and_evaluation_seeds() -> None:
    import pandas as pd

    from soclab.rl.command import comparison_table
    from soclab.stats import training_seeds_ci

    rows = [{"agent": f"rl-t{k}", "kind": "rl", "seed": s, "avg_latency_us": 100.0 + 10 * k + s}
            for k in range(3) for s in range(5)]
    rows += [{"agent": "HEFT", "kind": "heuristic", "seed": s, "avg_latency_us": 200.0 + 2 * s}
             for s in range(5)]
    table = comparison_table(pd.DataFrame(rows), ["HEFT"], "avg_latency_us",
                             {"rl": ["rl-t0", "rl-t1", "rl-t2"]}).set_index("agent")
    pooled = table.loc["rl (3 training seeds)"]
    assert pooled["mean"] == pytest.approx(112.0)
    assert pooled.ci_low < 112.0 < pooled.ci_high
    # wider than a single copy's CI: the copies' spread counts
    single = table.loc["rl-t1"]
    assert pooled.ci_high - pooled.ci_low > single.ci_high - single.ci_low
    assert pooled.ratio_to_HEFT == pytest.approx(112.0 / 204.0)
    one = training_seeds_ci([[1.0, 2.0, 3.0]])
    assert one.n == 1 and one.value == pytest.approx(2.0)


def test_report_has_a_pooled_table() -> None:
    import pandas as pd

    from soclab.report import training_seeds_markdown

    spec = spec_from_dict(_spec(training_seeds=2))
    rows = [{"agent": a, "noise": "none", "rate_jobs_per_ms": r, "seed": s,
             "avg_latency_us": 100.0 + i + s + r}
            for i, a in enumerate(["rl-t0", "rl-t1", "HEFT", "ETF"])
            for r in (2.0, 4.0) for s in (3, 4, 5)]
    md = training_seeds_markdown(pd.DataFrame(rows), spec)
    assert md.count("rl (2 training seeds)") == 2 and "× HEFT" in md
    assert training_seeds_markdown(pd.DataFrame(rows), spec_from_dict(_spec())) == ""


def test_summary_ranks_the_pooled_agent_not_the_luckiest_copy() -> None:
    import pandas as pd

    from soclab.report import Summaries, summary_markdown

    spec = spec_from_dict({**_spec(training_seeds=2), "baselines": ["HEFT"]})
    # rl-t0 is the best agent on every seed, rl-t1 the worst: the pooled mean sits above MET
    latency = {"rl-t0": 80.0, "rl-t1": 160.0, "MET": 110.0, "HEFT": 100.0}
    rows = [{"agent": a, "noise": "none", "rate_jobs_per_ms": r, "seed": s,
             "avg_latency_us": v + s} for a, v in latency.items() for r in (2.0, 4.0)
            for s in (3, 4, 5)]
    df = pd.DataFrame(rows)
    sm = Summaries.of(df, spec)
    md = summary_markdown(df, spec, sm)
    assert "**rl-t0**" not in md and md.count("| **MET** |") == 2
    assert "rl (2 training seeds)" in md and "rl-t1" not in md
    pooled = sm.pooled[("none", 2.0)][0]
    assert pooled.mean.value == pytest.approx(124.0)
    assert pooled.ratio["HEFT"].value == pytest.approx(124.0 / 104.0)
    assert pooled.prob_improvement["HEFT"] == pytest.approx(0.5)  # t0 always better, t1 never
    # once the copies are good, the pooled agent wins
    df.loc[df.agent == "rl-t1", "avg_latency_us"] -= 70.0
    md = summary_markdown(df, spec, Summaries.of(df, spec))
    assert md.count("| **rl (2 training seeds)** |") == 2
