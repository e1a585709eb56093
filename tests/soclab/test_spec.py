"""Experiment specs: the shipped ones validate; bad ones are refused with file, key path, reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from soclab.cells import plan_cells, plan_units
from soclab.spec import SpecError, load_spec, spec_from_dict
from tests.conftest import REPO

SPECS = sorted((REPO / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_validate_and_plan(path: Path) -> None:
    spec = load_spec(path)
    cells = plan_cells(spec)
    assert cells, "a spec plans at least one cell"
    assert len({c.hash for c in cells}) == len(cells), "cell hashes are unique"
    assert {b for b in spec.baselines} <= {c.agent.name for c in cells}


def test_quickstart_is_small_and_heuristic_only() -> None:
    spec = load_spec(REPO / "experiments" / "quickstart.yaml")
    assert all(a.kind == "heuristic" for a in spec.all_agents())
    assert len(plan_cells(spec)) <= 40


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agents: [{name: ETF}]\nbogus: 1\n", "bogus"),
        ("agents: [{name: ETF, colour: red}]\n", "agents[0].colour"),
        ("agents: [{name: NOPE}]\n", "unknown scheduler 'NOPE'"),
        ("agents: [{name: ETF}]\naxes: {noise: ['wobbly:1']}\n", "unknown noise model"),
        ("agents: [{name: ETF}]\naxes: {rates_jobs_per_ms: [-1]}\n", "axes.rates_jobs_per_ms"),
        ("agents: [{name: ETF}]\nsimulation: {duration_us: 100, warmup_us: 200}\n", "warmup_us"),
        ("agents: [{name: ETF}, {name: ETF}]\n", "duplicate"),
        ("agents: [{name: ETF, hyperparameters: {lr: 1}}]\n", "algorithm"),
        ("agents: [{name: ppo, algorithm: SAC}]\n", "agents[0].algorithm"),
        ("agents: []\n", "at least one agent"),
        ("agents: [{name: ETF}\n", "invalid YAML"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_specs_name_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")


def test_cell_hash_tracks_configuration(tmp_path: Path) -> None:
    base = "agents: [{name: ETF}]\naxes: {rates_jobs_per_ms: [2], seeds: [0, 1]}\n"
    a = plan_cells(load_spec(_write(tmp_path, base)))
    b = plan_cells(load_spec(_write(tmp_path, base.replace("[0, 1]", "[0, 2]"))))
    c = plan_cells(load_spec(_write(tmp_path, base)))
    assert [x.hash for x in a] == [x.hash for x in c]
    assert {x.hash for x in a}.isdisjoint({x.hash for x in b})


def test_units_group_cheap_cells(tmp_path: Path) -> None:
    text = ("agents: [{name: MET}, {name: ETF}, {name: HEFT}]\n"
            "axes: {rates_jobs_per_ms: [1, 2, 3, 4], seeds: [0]}\n"
            "tune: {max_concurrent_trials: 2}\n")
    spec = load_spec(_write(tmp_path, text))
    cells = plan_cells(spec)
    units = plan_units(spec, cells)
    assert len(units) == 2  # one group per parallel slot
    assert sorted(len(u["cells"]) for u in units) == [6, 6]
    assert sum(len(u["cells"]) for u in units) == len(cells) == 12


def test_rl_trials_reserve_a_bundle_per_env_runner(tmp_path: Path) -> None:
    """RLlib places env runner i in bundle i of its trial's placement group: an RL unit reserves
    the trial's CPUs and one per runner, and a unit that cannot fit the cluster is refused with
    the hyperparameter's place (Tune would otherwise wait for it forever)."""
    from dssoc.errors import ConfigError
    from soclab.sweep import check_trials_fit, trial_bundles

    text = ("agents: [{name: ETF}, {name: rl, algorithm: PPO, hyperparameters: "
            "{num_env_runners: 2}}]\naxes: {rates_jobs_per_ms: [2], seeds: [0]}\n")
    spec = load_spec(_write(tmp_path, text))
    units = plan_units(spec, plan_cells(spec))
    heuristic = next(u for u in units if u["kind"] == "heuristic")
    (rl,) = [u for u in units if u["kind"] == "rl"]
    for u in units:
        u["cpus"] = 1
    assert trial_bundles(heuristic) == [{"CPU": 1.0}]
    assert trial_bundles(rl) == [{"CPU": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]
    check_trials_fit(units, 3)
    with pytest.raises(ConfigError, match=r"agents\.rl\.hyperparameters\.num_env_runners: "
                                          r"the trial needs 3 CPUs .* Ray has 2"):
        check_trials_fit(units, 2)


def _doc(simulation: dict, **extra: object) -> dict:
    return {"name": "block", "agents": [{"name": "ETF"}], "baselines": [], "simulation": simulation,
            **extra}


def test_simulation_block_is_simconfig_input() -> None:
    """Any SimConfig field is settable in `simulation:` (energy, fixed_rate, integer_times,
    max_jobs ...); the cell's SimConfig has them, and is built once per seed."""
    spec = spec_from_dict(_doc({"duration_us": 3000, "warmup_us": 300, "energy": False,
                                "fixed_rate": True, "integer_times": False, "max_jobs": 40},
                               axes={"seeds": [0, 1]}))
    cell = plan_cells(spec)[0]
    cfg = cell.sim_config()
    assert (cfg.energy, cfg.fixed_rate, cfg.integer_times, cfg.max_jobs) == (False, True, False, 40)
    assert cell.sim_config() is cfg and cell.sim_config(0) is cfg  # cached, not rebuilt
    moved = dataclasses.replace(cell, point=(("noise", "none"), ("rate_jobs_per_ms", 8.0)))
    assert moved.sim_config().rate_jobs_per_ms == 8.0 and cell.sim_config() is cfg
    assert cell.key["simulation"]["energy"] is False
    fft8 = plan_cells(spec_from_dict(_doc({"soc": {"name": "MULTIPLE_BAL", "FFT": {"capacity": 8}}})))[0]
    assert [c.capacity for c in fft8.sim_config().soc.clusters if c.name == "FFT"] == [8]
    with pytest.raises(SpecError, match=r"simulation\.soc\.FFX: unknown cluster"):
        spec_from_dict(_doc({"soc": {"FFX": {"capacity": 8}}}))
    with pytest.raises(SpecError, match=r"simulation\.energy"):
        spec_from_dict(_doc({"energy": "maybe"}))
    with pytest.raises(SpecError, match=r"simulation\.colour"):
        spec_from_dict(_doc({"colour": "red"}))


def test_noise_and_rate_in_the_block_are_their_axes() -> None:
    a = plan_cells(spec_from_dict(_doc({"noise": "gaussian:0.1", "rate_jobs_per_ms": 4})))
    b = plan_cells(spec_from_dict(_doc({}, axes={"noise": ["gaussian:0.1"], "rates_jobs_per_ms": [4]})))
    assert [c.hash for c in a] == [c.hash for c in b]
    c = plan_cells(spec_from_dict(_doc({"scale_us": 250})))[0]
    assert c.rate_jobs_per_ms == 4.0
    with pytest.raises(SpecError, match=r"simulation\.noise and axes\.noise: give one"):
        spec_from_dict(_doc({"noise": "none"}, axes={"noise": ["none"]}))
    with pytest.raises(SpecError, match=r"simulation\.warmup_us: warm-up 3000"):
        spec_from_dict(_doc({"duration_us": 2000, "warmup_us": 3000}))
