"""Built-in SoCs, applications and workload presets load, are consistent, and user files in
JSON/YAML load with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dssoc.catalog import (
    application_from_dict,
    application_to_dict,
    builtin_names,
    load_application,
    load_soc,
    load_workload,
    soc_from_dict,
    soc_to_dict,
)
from dssoc.config import SimConfig
from dssoc.errors import ConfigError, InvalidDAGError, UnknownNameError

APPS = ["heft_canonical", "range_detection", "sc_rx", "sc_tx", "temporal_mitigation",
        *(f"top{n}" for n in range(2, 11)), "wifi_rx", "wifi_tx"]
WORKLOADS = ["ds3-mix6", "radar", "synthetic-top", "wifi-rx", "wifi-rx-tx", "wifi-tx",
             "wifi-tx-rx"]
# WfCommons workflow presets (imported workflows, mapped when a config is built: test_importers)
WF_APPS = [f"wf_{f}_{n}" for f, sizes in (("cycles", (70, 100)), ("epigenomics", (50, 90)),
                                          ("montage", (60, 100))) for n in sizes]
WF_WORKLOADS = ["wf-cycles", "wf-epigenomics", "wf-mix", "wf-montage"]


def test_builtin_names() -> None:
    assert builtin_names("socs") == ["BAL_only", "MULTIPLE_BAL", "MULTIPLE_BAL_FFT8", "Top"]
    assert builtin_names("apps") == sorted(APPS + WF_APPS)
    assert builtin_names("workloads") == sorted(WORKLOADS + WF_WORKLOADS)
    assert builtin_names("mappings") == ["big-little", "uniform"]


@pytest.mark.parametrize("name", WORKLOADS)
def test_every_workload_runs_on_its_soc(name: str) -> None:
    wl = load_workload(name)
    assert wl.name == name and wl.description and wl.soc in builtin_names("socs")
    soc = load_soc(wl.soc)
    for app in wl.applications:
        app.check_supported(soc)
    assert SimConfig.build(name, rate_jobs_per_ms=2).soc.name == wl.soc


@pytest.mark.parametrize("name", APPS)
def test_every_app_is_described_and_round_trips(name: str) -> None:
    app = load_application(name)
    assert app.name == name and app.description
    assert application_to_dict(application_from_dict(application_to_dict(app))) == \
        application_to_dict(app)


@pytest.mark.parametrize("name", ["MULTIPLE_BAL", "BAL_only", "Top", "MULTIPLE_BAL_FFT8"])
def test_every_soc_round_trips(name: str) -> None:
    soc = load_soc(name)
    assert soc.name == name and "DS3" in soc.description
    assert soc_to_dict(soc_from_dict(json.loads(json.dumps(soc_to_dict(soc))))) == soc_to_dict(soc)


def test_wifi_tx_rx_preset() -> None:
    wl = load_workload("wifi-tx-rx")
    assert [a.name for a in wl.applications] == ["wifi_tx", "wifi_rx"]
    assert wl.probabilities == (0.8, 0.2) and wl.soc == "MULTIPLE_BAL"
    assert [len(a.tasks) for a in wl.applications] == [27, 34]
    assert load_workload("wifi-rx-tx").probabilities == (0.2, 0.8)


def test_ds3_mix6_and_synthetic_presets() -> None:
    mix = load_workload("ds3-mix6")
    assert [a.name for a in mix.applications] == ["wifi_tx", "wifi_rx", "range_detection",
                                                  "sc_tx", "sc_rx", "temporal_mitigation"]
    assert mix.probabilities == (0.2, 0.2, 0.2, 0.1, 0.1, 0.2)
    syn = load_workload("synthetic-top")
    assert syn.soc == "Top" and len(syn.applications) == 10
    assert len(set(syn.probabilities)) == 1


def test_reference_numbers() -> None:
    soc = load_soc("MULTIPLE_BAL")
    a7, a15, mm, fft, vit = soc.clusters
    assert (a7.exec_us["ifft_1"], a15.exec_us["ifft_1"], fft.exec_us["ifft_1"]) == (296, 118, 16)
    assert (a7.exec_us["viterbi_decoder"], vit.exec_us["viterbi_decoder"]) == (1828, 2)
    assert mm.exec_us["CMM_2"] == 22 and soc.cluster_bandwidth(1, 3) == 10
    heft = load_application("heft_canonical")
    assert len(heft.tasks) == 10 and heft.volume(0, 1) == 18
    top = load_soc("Top")
    assert top.n_pes == 3 and top.cluster_bandwidth(0, 2) == 1.0


def test_single_application_as_workload() -> None:
    wl = load_workload("range_detection")
    assert wl.probabilities == (1.0,) and wl.applications[0].name == "range_detection"


def test_unknown_names_list_valid_ones() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_application("wifi_txx")
    assert "wifi_tx" in str(err.value) and "range_detection" in str(err.value)
    assert "Did you mean 'wifi_tx'" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        load_workload("wifi-tx-rxx")
    assert "wifi-tx-rx" in str(err.value) and "ds3-mix6" in str(err.value)
    with pytest.raises(UnknownNameError, match="MULTIPLE_BAL"):
        load_soc("NoSuchSoC")


def test_cyclic_dag_is_rejected(tmp_path: Path) -> None:
    doc = {"name": "loop", "tasks": [{"name": "a", "after": {"c": 1}},
                                     {"name": "b", "after": {"a": 1}},
                                     {"name": "c", "after": {"b": 0}}]}
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidDAGError, match="cycle"):
        load_application(path)
    with pytest.raises(InvalidDAGError, match="cycle"):
        application_from_dict(doc)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_application(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "tasks": [}\n')
    with pytest.raises(ConfigError, match=r"broken\.json:2: invalid JSON"):
        load_application(broken)
    unknown_pred = tmp_path / "pred.json"
    unknown_pred.write_text(json.dumps({"name": "p", "tasks": [{"name": "a", "after": {"z": 1}}]}))
    with pytest.raises(ConfigError, match="unknown predecessor 'z'"):
        load_application(unknown_pred)


def test_yaml_workload_with_local_yaml_app(tmp_path: Path) -> None:
    (tmp_path / "mini.yaml").write_text(
        "name: mini\n"
        "description: two-task pipeline\n"
        "tasks:\n"
        "  - {name: scrambler_encoder}\n"
        "  - {name: interleaver_1, after: {scrambler_encoder: 64}}\n"
    )
    (tmp_path / "mix.yaml").write_text(
        "name: my-mix\n"
        "soc: MULTIPLE_BAL\n"
        "mix:\n"
        "  mini.yaml: 0.5\n"
        "  wifi_rx: 0.5\n"
    )
    wl = load_workload(tmp_path / "mix.yaml")
    assert wl.name == "my-mix" and wl.soc == "MULTIPLE_BAL"
    assert [a.name for a in wl.applications] == ["mini", "wifi_rx"]
    assert wl.probabilities == (0.5, 0.5)
    mini = wl.applications[0]
    assert mini.volume(0, 1) == 64 and mini.tasks[1].predecessors == (0,)
    cfg = SimConfig.build(tmp_path / "mix.yaml", scale_us=500)
    assert cfg.soc.name == "MULTIPLE_BAL"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntasks: [\n  - a\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_application(path)
