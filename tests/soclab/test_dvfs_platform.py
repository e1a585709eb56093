"""DVFS and deadlines from the platform: `soclab simulate --governor/--deadline-factor`, the
`governors` sweep axis and the spec options (no Ray)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from soclab.cells import Cell, plan_cells
from soclab.cli import app
from soclab.spec import SpecError, spec_from_dict

runner = CliRunner()


def cli_json(*args: str) -> dict:
    result = runner.invoke(app, ["simulate", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_governor_for_all_and_per_cluster() -> None:
    out = cli_json("--workload", "wifi_rx", "--max-jobs", "1", "--governor", "powersave")
    assert out["avg_latency_us"] == 935.0 and out["config"]["governor"] == "powersave"
    out = cli_json("--workload", "wifi_rx", "--max-jobs", "1", "--governor", "performance",
                   "--governor", "A15=constant-1000")
    assert out["config"]["governor"] == ("A7=performance,A15=constant-1000,MM=performance,"
                                         "FFT=performance,VIT=performance")
    assert out["avg_latency_us"] > 301.0


def test_cli_deadline_factor_and_errors() -> None:
    out = cli_json("--workload", "wifi_tx", "--max-jobs", "3", "--deadline-factor", "1.0")
    assert 0.0 <= out["deadline_miss_rate"] <= 1.0 and out["p99_lateness_us"] is not None
    bad = runner.invoke(app, ["simulate", "--governor", "A7=turbo"])
    assert bad.exit_code == 2 and "unknown governor 'turbo'" in bad.output
    bad = runner.invoke(app, ["simulate", "--deadline-factor", "-1"])
    assert bad.exit_code == 2 and "config.deadline_factor" in bad.output


BASE = {"name": "g", "agents": [{"name": "ETF"}], "baselines": [],
        "axes": {"rates_jobs_per_ms": [2], "seeds": [0]}}


def test_governor_axis_multiplies_the_cells() -> None:
    spec = spec_from_dict({**BASE, "axes": {**BASE["axes"], "governors": ["performance", "A7=powersave"]}})
    cells = plan_cells(spec)
    assert [c.governor for c in cells] == ["performance", "A7=powersave"]
    assert cells[0].hash != cells[1].hash
    assert cells[1].sim_config().soc.clusters[0].governor == "powersave"
    assert "governor=A7=powersave" in cells[1].label and cells[1].params()["governor"] == "A7=powersave"
    again = Cell.from_payload(json.loads(json.dumps(cells[1].to_payload())))
    assert again.governor == "A7=powersave" and again.hash == cells[1].hash


def test_without_the_new_options_the_cell_key_is_unchanged() -> None:
    """No governor axis, no deadline factor, no throttling: the key has none of them, so cells
    planned before DVFS existed keep their hashes (resume finds them)."""
    (cell,) = plan_cells(spec_from_dict(BASE))
    assert cell.governor is None and "governor" not in cell.key
    assert not {"deadline_factor", "throttling"} & set(cell.key["simulation"])


def test_spec_deadline_factor_and_bad_governor() -> None:
    spec = spec_from_dict({**BASE, "simulation": {"deadline_factor": 2.0, "duration_us": 5000,
                                                  "warmup_us": 500}})
    (cell,) = plan_cells(spec)
    assert cell.sim_config().deadline_factor == 2.0
    with pytest.raises(SpecError, match="unknown governor"):
        spec_from_dict({**BASE, "axes": {**BASE["axes"], "governors": ["fast"]}})
