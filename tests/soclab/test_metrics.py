"""soclab's view of the dssoc metric registry: a metric registered once in dssoc is tracked
under its dotted name, is a valid `metrics.primary`, and appears in the report's tables and in
`soclab train`'s ranking; nothing in soclab lists metrics a second time."""

from __future__ import annotations

import pandas as pd
import pytest

from dssoc import metric_registry as registry
from soclab import metrics
from soclab.spec import spec_from_dict

SPEC = {"name": "reg", "simulation": {"workload": "wifi-tx-rx", "duration_us": 4000,
                                      "warmup_us": 500},
        "agents": [{"name": "HEFT"}, {"name": "MET"}], "baselines": ["ETF"],
        "axes": {"noise": ["none"], "rates_jobs_per_ms": [4], "seeds": [0, 1, 2]}}


def _per_seed(spec) -> pd.DataFrame:
    """Per-seed rows of every cell, simulated in-process (no Ray)."""
    from soclab.cellrun import evaluate_cell
    from soclab.cells import plan_cells

    return pd.concat([evaluate_cell(c)[0] for c in plan_cells(spec)], ignore_index=True)


def test_registered_metric_is_tracked_primary_and_in_the_report(max_latency, tmp_path) -> None:
    from soclab.cellrun import summary_metrics
    from soclab.report import write_report

    info = metrics.get("max_latency_us")
    assert (info.mlflow, info.heading, info.lower_is_better) == ("latency.max_us",
                                                                 "maximum latency (µs)", True)
    assert info in metrics.tracked()
    spec = spec_from_dict({**SPEC, "metrics": {"primary": "max_latency_us"}})
    df = _per_seed(spec)
    assert df["max_latency_us"].ge(df["p99_latency_us"]).all()
    assert summary_metrics(df[df.agent == "HEFT"])["latency.max_us"] == pytest.approx(
        df[df.agent == "HEFT"]["max_latency_us"].mean())
    write_report(df, spec, tmp_path / "primary")
    md = (tmp_path / "primary" / "report.md").read_text()
    assert "## Ranking by maximum latency (the primary metric; lower is better)" in md
    assert "### Maximum latency per agent (µs, the primary metric)" in md
    write_report(df, spec_from_dict(SPEC), tmp_path / "other")  # ranked by latency: a column
    md = (tmp_path / "other" / "report.md").read_text()
    other = md[md.index("### Other metrics"):].splitlines()
    assert "maximum latency (µs)" in other[2]


def test_unknown_primary_lists_the_registry(max_latency) -> None:
    with pytest.raises(ValueError, match="max_latency_us") as err:
        spec_from_dict({**SPEC, "metrics": {"primary": "max_latency"}})
    assert "p95_latency_us" in str(err.value) and "injection_rate" not in str(err.value)
    registry.unregister("max_latency_us")
    with pytest.raises(ValueError, match="unknown primary metric 'max_latency_us'"):
        spec_from_dict({**SPEC, "metrics": {"primary": "max_latency_us"}})


def test_platform_view_derives_units_and_directions() -> None:
    """J shown as mJ, fractions as %, no direction -> not tracked; undeclared columns plain."""
    assert (metrics.get("energy_j").unit, metrics.get("energy_j").scale) == ("mJ", 1e3)
    assert metrics.get("deadline_miss_rate").fmt(0.125) == "12.5"
    assert not metrics.get("injection_rate_jobs_per_ms").tracked
    assert metrics.get("throughput_jobs_per_ms").lower_is_better is False
    assert [m.key for m in metrics.all_metrics()] == list(registry.names())
    assert not metrics.get("cell_hash").tracked


def test_train_table_ranks_by_the_primary_metric() -> None:
    """`soclab train`'s comparison ranks by the spec's primary metric in its direction."""
    from soclab.rl.command import comparison_table

    rows = [{"agent": a, "kind": "heuristic", "seed": s, "avg_latency_us": lat + s,
             "throughput_jobs_per_ms": tp + s / 10}
            for a, lat, tp in (("A", 100.0, 1.0), ("B", 200.0, 3.0), ("ETF", 150.0, 2.0))
            for s in range(4)]
    per_seed = pd.DataFrame(rows)
    by_latency = comparison_table(per_seed, ["ETF"], "avg_latency_us")
    assert list(by_latency.agent) == ["A", "ETF", "B"]
    by_throughput = comparison_table(per_seed, ["ETF"], "throughput_jobs_per_ms")
    assert list(by_throughput.agent) == ["B", "ETF", "A"], "higher is better"
    b = by_throughput.set_index("agent").loc["B"]
    tp = per_seed.groupby("agent").throughput_jobs_per_ms.mean()
    assert b["ratio_to_ETF"] == pytest.approx(tp["B"] / tp["ETF"], rel=1e-2)
    assert b["avg_latency_us"] == pytest.approx(201.5)
