"""`dssoc.SimConfig`: one frozen pydantic schema from YAML-like input to the simulator."""

from __future__ import annotations

import pickle

import pydantic
import pytest

import dssoc
from dssoc import SimConfig
from dssoc.config import with_overrides
from dssoc.errors import ConfigError


def test_a_yaml_block_loads_as_is_with_every_field_settable() -> None:
    block = {"workload": "wifi-tx-rx", "soc": "MULTIPLE_BAL", "rate_jobs_per_ms": 4,
             "noise": "gaussian:0.2", "energy": False, "fixed_rate": True, "integer_times": False,
             "max_jobs": 5, "duration_us": None, "probabilities": [0.5, 0.5],
             "governor": "powersave", "max_jobs_in_flight": 3.0}
    cfg = SimConfig.model_validate(block)
    assert (cfg.energy, cfg.fixed_rate, cfg.integer_times, cfg.max_jobs) == (False, True, False, 5)
    assert cfg.scale_us == 250.0 and cfg.max_jobs_in_flight == 3 and cfg.duration_us is None
    assert cfg.workload.probabilities == (0.5, 0.5) and cfg.governor is None  # folded into the SoC
    assert {c.governor for c in cfg.soc.clusters} == {"powersave"}
    built = SimConfig.build("wifi-tx-rx", "MULTIPLE_BAL", rate_jobs_per_ms=4, noise="gaussian:0.2",
                            energy=False, fixed_rate=True, integer_times=False, max_jobs=5,
                            duration_us=None, probabilities=[0.5, 0.5], governor="powersave",
                            max_jobs_in_flight=3)
    assert built.fingerprint() == cfg.fingerprint()
    assert SimConfig.model_validate(cfg.json_inputs()).fingerprint() == cfg.fingerprint()


def test_frozen_strict_keys_and_one_error_type() -> None:
    cfg = SimConfig.build("wifi-tx", max_jobs=1, duration_us=None)
    with pytest.raises(pydantic.ValidationError):
        cfg.max_jobs = 2  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"unknown key 'enrgy'\. Did you mean 'energy'"):
        SimConfig.model_validate({"workload": "wifi-tx", "enrgy": False})
    with pytest.raises(ConfigError, match="give either a scale or a rate, not both"):
        SimConfig.model_validate({"scale_us": 100, "rate_jobs_per_ms": 10})
    with pytest.raises(ConfigError, match=r"config\.warmup_us: warm-up 3000 must be shorter"):
        SimConfig.model_validate({"duration_us": 2000, "warmup_us": 3000})
    with pytest.raises(ConfigError, match=r"config\.energy: expected true or false"):
        SimConfig.model_validate({"energy": "yes"})
    with pytest.raises(ConfigError, match=r"config\.max_jobs_in_flight: expected an integer"):
        SimConfig.model_validate({"max_jobs_in_flight": 2.5})


def test_replace_revalidates_and_takes_inputs_by_name() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, noise="gaussian:0.1", duration_us=5000)
    faster = cfg.replace(rate_jobs_per_ms=8)
    assert faster.scale_us == 125.0 and faster.noise == cfg.noise and cfg.scale_us == 200.0
    assert cfg.replace(soc="MULTIPLE_BAL_FFT8").soc.name == "MULTIPLE_BAL_FFT8"
    assert cfg.replace(noise="none").noise == ()
    with pytest.raises(ConfigError, match="warm-up"):
        cfg.replace(warmup_us=6000)
    with pytest.raises(ConfigError, match=r"SimConfig\.replace"):
        cfg.replace(colour="red")


def test_configs_pickle_and_simulate_alike() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, noise="gaussian:0.2+slowdown:A15:2",
                          duration_us=3000, warmup_us=300)
    copy = pickle.loads(pickle.dumps(cfg))
    assert copy == cfg and copy.fingerprint() == cfg.fingerprint()
    runs = [dssoc.simulate(c, "ETF", seed=3).avg_latency_us for c in (copy, cfg)]
    assert runs[0] == runs[1]


def test_overrides_by_name_and_dotted_path() -> None:
    doc = {"scale_us": 100.0, "mapping": {"kind": "uniform", "time_scale_us": 1.0}}
    out = with_overrides(doc, {"rate_jobs_per_ms": 4, "mapping.time_scale_us": 2.0})
    assert out == {"rate_jobs_per_ms": 4, "mapping": {"kind": "uniform", "time_scale_us": 2.0}}
    assert doc["mapping"]["time_scale_us"] == 1.0  # the input is left as it was
    with pytest.raises(ConfigError, match="holds no settings"):
        with_overrides({"workload": "wifi-tx"}, {"workload.name": "x"})


def test_a_soc_input_sets_cluster_capacities_and_governors_by_name() -> None:
    """`soc: {name: MULTIPLE_BAL, FFT: {capacity: 8}}` (or the override `soc.FFT.capacity`) is
    the shipped MULTIPLE_BAL_FFT8 (the same SoC with 8 FFT accelerators): same runs."""
    doc = with_overrides({"workload": "wifi-tx-rx", "soc": "MULTIPLE_BAL", "rate_jobs_per_ms": 20,
                          "duration_us": 4000}, {"soc.FFT.capacity": 8})
    assert doc["soc"] == {"name": "MULTIPLE_BAL", "FFT": {"capacity": 8}}
    cfg = SimConfig.model_validate(doc)
    assert cfg.soc.name == "MULTIPLE_BAL+FFT.capacity=8"
    shipped = cfg.replace(soc="MULTIPLE_BAL_FFT8")
    assert [c.capacity for c in cfg.soc.clusters] == [c.capacity for c in shipped.soc.clusters]
    a, b = (dssoc.simulate(c, "ETF", seed=2) for c in (cfg, shipped))
    assert (a.avg_latency_us, a.energy_j) == (b.avg_latency_us, b.energy_j)
    slow = SimConfig.model_validate({"soc": {"A7": {"governor": "powersave"}}})
    assert [c.governor for c in slow.soc.clusters if c.name == "A7"] == ["powersave"]
    with pytest.raises(ConfigError, match=r"config\.soc\.FFX: unknown cluster 'FFX'\. Did you mean 'FFT'"):
        SimConfig.model_validate({"soc": {"FFX": {"capacity": 2}}})
    with pytest.raises(ConfigError, match=r"unknown cluster setting 'capacty'"):
        SimConfig.model_validate({"soc": {"FFT": {"capacty": 2}}})
    with pytest.raises(ConfigError, match=r"config\.soc\.FFT\.capacity: must be >= 1"):
        SimConfig.model_validate({"soc": {"FFT": {"capacity": 0}}})
