"""The DS3 importer reads every shipped DS3/gym-ds3 fixture, reproduces DS3's parsing quirks,
reports malformed input with file:line, and the built-in JSON data equals what it imports."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from dssoc.catalog import application_to_dict, load_application, load_soc, soc_to_dict
from dssoc.config import SimConfig
from dssoc.ds3 import Ds3Config, read_ds3_config, read_ds3_job, read_ds3_soc
from dssoc.errors import ConfigError, InvalidDAGError, UnsupportedTaskError
from tests.conftest import SHARED_DS3, ds3_dir

T = TypeVar("T")


def _fixtures(*patterns: str) -> list[str]:
    """Fixture paths relative to ../shared/ds3 (a placeholder when absent, so tests skip)."""
    if not SHARED_DS3.is_dir():
        return ["<missing>"]
    found = {str(p.relative_to(SHARED_DS3)) for pat in patterns for p in SHARED_DS3.glob(pat)}
    return sorted(found)


SOC_FILES = _fixtures("**/SoC.*.txt", "**/DASH.SoC.*.txt")
JOB_FILES = _fixtures("**/job_*.txt")
INI_FILES = _fixtures("**/*.ini")

JOB_TASKS = {"job_WIFI_5TXM.txt": 27, "job_WIFI_5RXM.txt": 34, "job_LAG.txt": 7, "job_SCT.txt": 8,
             "job_SCR.txt": 8, "job_TEMP_MIT.txt": 10}

# built-in name -> fixture it was generated from
BUILTIN_SOCS = {"MULTIPLE_BAL": "ds3/config_SoC/SoC.MULTIPLE_BAL.txt",
                "BAL_only": "ds3/config_SoC/SoC.BAL_only.txt",
                "Top": "ds3/config_SoC/SoC.Top.txt"}
BUILTIN_APPS = {"wifi_tx": "ds3/config_Jobs/job_WIFI_5TXM.txt",
                "wifi_rx": "ds3/config_Jobs/job_WIFI_5RXM.txt",
                "range_detection": "ds3/config_Jobs/job_LAG.txt",
                "sc_tx": "ds3/config_Jobs/job_SCT.txt",
                "sc_rx": "ds3/config_Jobs/job_SCR.txt",
                "temporal_mitigation": "ds3/config_Jobs/job_TEMP_MIT.txt",
                "heft_canonical": "ds3/config_Jobs/job_Top.txt",
                **{f"top{n}": f"gym-ds3/job_Top{n}.txt" for n in range(2, 11)}}


def _strict(fn: Callable[..., T], *args: object) -> T:
    """Call an importer with warnings turned into errors (the fixtures must import cleanly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


# --- every fixture imports ------------------------------------------------------------------


@pytest.mark.parametrize("rel", SOC_FILES)
def test_every_soc_file_imports(rel: str) -> None:
    soc = _strict(read_ds3_soc, ds3_dir() / rel)
    assert soc.clusters and soc.n_pes >= 3
    assert all(c.exec_us for c in soc.clusters)
    assert not any(c.kind in ("MEM", "CAC") for c in soc.clusters)
    assert "omitted" in soc.description and "MEM" in soc.description
    assert soc.default_bandwidth == 1.0 and soc.self_bandwidth > 0
    for c in soc.clusters:
        assert c.power is not None and c.power.opps == tuple(sorted(c.power.opps))


@pytest.mark.parametrize("rel", JOB_FILES)
def test_every_job_file_imports(rel: str) -> None:
    app = _strict(read_ds3_job, ds3_dir() / rel)
    assert len(app.tasks) == JOB_TASKS.get(Path(rel).name, 10)
    heads = [i for i, t in enumerate(app.tasks) if not t.predecessors]
    tails = [i for i, s in enumerate(app.successors) if not s]
    assert len(heads) == 1 and len(tails) == 1  # DS3 marks exactly one HEAD and one TAIL
    assert len({t.name for t in app.tasks}) == len(app.tasks)
    assert set(app.volumes) <= {(p, i) for i, t in enumerate(app.tasks) for p in t.predecessors}


@pytest.mark.parametrize("rel", INI_FILES)
def test_every_ini_imports(rel: str) -> None:
    cfg = _strict(read_ds3_config, ds3_dir() / rel)
    assert isinstance(cfg, Ds3Config)
    assert len(cfg.applications) == len(cfg.probabilities) >= 1
    assert cfg.scheduler == "ETF" and cfg.max_jobs_in_parallel == 12
    sim = cfg.to_sim_config()
    assert isinstance(sim, SimConfig)
    assert sim.soc is cfg.soc and sim.workload.name == Path(rel).stem
    assert sim.integer_times and sim.duration_us == cfg.simulation_length_us


# --- contents -------------------------------------------------------------------------------


def test_multiple_bal_contents() -> None:
    soc = read_ds3_soc(ds3_dir() / "ds3/config_SoC/SoC.MULTIPLE_BAL.txt")
    assert soc.name == "MULTIPLE_BAL"
    assert [(c.name, c.kind, c.capacity) for c in soc.clusters] == [
        ("A7", "LTL", 4), ("A15", "BIG", 4), ("MM", "ACC_1", 2), ("FFT", "ACC_2", 4),
        ("VIT", "ACC_3", 2)]
    a7, a15, mm, fft, vit = soc.clusters
    for task, (little, big) in {"ifft_1": (296, 118), "fft_3": (289, 114),
                                "viterbi_decoder": (1828, 739), "qpsk_demodulation_2": (191, 95),
                                "CMM_1": (240, 54)}.items():
        assert (a7.exec_us[task], a15.exec_us[task]) == (little, big)
    assert fft.exec_us["ifft_5"] == 16 and fft.exec_us["fft_1"] == 12
    assert vit.exec_us == {"viterbi_decoder": 2.0}
    assert mm.exec_us == {"CMM_1": 22.0, "CMM_2": 22.0, "CMM_3": 22.0}  # `CMM_1 22 22`
    # names listed twice keep their first entry (viterbi_decoder 1828 then 3130; descrambler 3, 5)
    assert a7.exec_us["descrambler"] == 3 and a15.exec_us["viterbi_decoder"] == 739
    assert len(a7.exec_us) == 92  # 94 lines, two repeated names
    assert soc.cluster_bandwidth(0, 3) == 10 and soc.cluster_bandwidth(3, 1) == 10
    assert soc.cluster_bandwidth(0, 1) == 1000 and soc.cluster_bandwidth(3, 3) == 1000
    assert soc.self_bandwidth == 10000
    bw = soc.pe_bandwidth
    assert bw[0, 0] == 10000 and bw[0, 1] == 1000 and bw[0, 10] == 10  # A7.0-A7.1, A7.0-FFT.0
    assert a7.power is not None and a7.power.max_opp == (1400, 1300)
    assert a7.power.power_profile[1000] == (0.19, 0.29, 0.35, 0.40)
    assert a15.power is not None and a15.power.pg_profile[2000] == (2.29, 3.73, 5.23, 6.91)
    assert "MEMORY (MEM)" in soc.description


def test_noc_variant_drops_caches_and_ignores_mesh_lines() -> None:
    noc = read_ds3_soc(ds3_dir() / "ds3/config_SoC/SoC.MULTIPLE_BAL_NoC.txt")
    base = read_ds3_soc(ds3_dir() / "ds3/config_SoC/SoC.MULTIPLE_BAL.txt")
    assert soc_to_dict(noc)["clusters"] == soc_to_dict(base)["clusters"]
    assert "CACHE_4 (CAC)" in noc.description


def test_top_socs_both_formats() -> None:
    ds3 = read_ds3_soc(ds3_dir() / "ds3/config_SoC/SoC.Top.txt")  # has a `resoruce_type` typo
    gym = read_ds3_soc(ds3_dir() / "gym-ds3/DASH.SoC.Top.txt")  # positional, `task time power`
    assert ds3.name == gym.name == "Top"
    assert [c.name for c in ds3.clusters] == [c.name for c in gym.clusters] == ["P1", "P2", "P3"]
    assert [dict(c.exec_us) for c in ds3.clusters] == [dict(c.exec_us) for c in gym.clusters]
    assert [c.exec_us["task_1"] for c in ds3.clusters] == [14, 16, 9]
    # P1-P2 is never given: DS3's matrix of ones, so a transfer takes `volume` microseconds
    assert ds3.cluster_bandwidth(0, 1) == gym.cluster_bandwidth(1, 2) == 1.0
    assert ds3.self_bandwidth == 10000 and gym.self_bandwidth == 100  # gym: `comm_band a a`
    assert [c.kind for c in ds3.clusters] == ["CPU1", "CPU2", "CPU3"]


def test_gym_top_is_ds3_top() -> None:
    ds3 = read_ds3_job(ds3_dir() / "ds3/config_Jobs/job_Top.txt")
    gym = read_ds3_job(ds3_dir() / "gym-ds3/job_Top.txt")
    assert (ds3.name, gym.name) == ("Top", "Top_1")
    assert ds3.tasks == gym.tasks and dict(ds3.volumes) == dict(gym.volumes)
    assert ds3.volume(0, 1) == 18 and ds3.volume(8, 9) == 13 and len(ds3.volumes) == 15


def test_wifi_shapes() -> None:
    tx = read_ds3_job(ds3_dir() / "ds3/config_Jobs/job_WIFI_5TXM.txt")
    assert tx.tasks[0].name == "scrambler_encoder" and len(tx.successors[0]) == 5
    assert tx.tasks[-1].name == "end" and len(tx.tasks[-1].predecessors) == 5
    rx = read_ds3_job(ds3_dir() / "ds3/config_Jobs/job_WIFI_5RXM.txt")
    assert rx.tasks[0].name == "match_filter" and rx.tasks[-1].name == "message_decode"
    sct = read_ds3_job(ds3_dir() / "ds3/config_Jobs/job_SCT.txt")
    assert all(v == 0 for v in sct.volumes.values())


def test_scheduling_case_study_config() -> None:
    cfg = read_ds3_config(ds3_dir() / "ds3/config_Files/config_file_scheduling.ini")
    assert cfg.soc.name == "MULTIPLE_BAL"
    assert [a.name for a in cfg.applications][:2] == ["WiFi_Transmitter", "WiFi_Receiver"]
    assert cfg.probabilities == (0.8, 0.2, 0.0, 0.0, 0.0, 0.0)
    assert (cfg.warmup_us, cfg.simulation_length_us, cfg.simulation_mode) == (
        10000, 50000, "performance")
    assert cfg.inject_fixed_num_jobs is False and cfg.fixed_injection_rate is False
    assert cfg.scale_us == 100 and cfg.scale_values == [500] and cfg.random_seed == 1
    sim = cfg.to_sim_config()
    assert sim.scale_us == 500 and sim.max_jobs is None and sim.warmup_us == 10000
    assert sim.max_jobs_in_flight == 12 and sim.workload.soc == "MULTIPLE_BAL"
    sim2 = cfg.to_sim_config(scale_us=80, duration_us=30000, warmup_us=5000,
                             probabilities=(0, 0, 1, 0, 0, 0))
    assert (sim2.scale_us, sim2.duration_us, sim2.warmup_us) == (80, 30000, 5000)
    assert sim2.workload.probabilities == (0, 0, 1, 0, 0, 0)


def test_first_example_is_validation_mode() -> None:
    cfg = read_ds3_config(ds3_dir() / "ds3/config_Files/config_file_first_example.ini")
    assert cfg.simulation_mode == "validation" and cfg.soc.name == "Top"
    assert cfg.inject_fixed_num_jobs and cfg.max_jobs == 1
    sim = cfg.to_sim_config()
    assert sim.scale_us == 100 and sim.max_jobs == 1 and sim.warmup_us == 0  # `scale` is used


def test_top_level_ini_resolves_config_folders() -> None:
    top = read_ds3_config(ds3_dir() / "ds3/config_file.ini")
    nested = read_ds3_config(ds3_dir() / "ds3/config_Files/config_file.ini")
    assert soc_to_dict(top.soc) == soc_to_dict(nested.soc)
    assert top.probabilities == (0.2, 0.2, 0.2, 0.1, 0.1, 0.2)


# --- the shipped data is what the importer produces ----------------------------------------


@pytest.mark.parametrize(("name", "rel"), sorted(BUILTIN_SOCS.items()))
def test_builtin_soc_matches_fixture(name: str, rel: str) -> None:
    imported = read_ds3_soc(ds3_dir() / rel)
    builtin = load_soc(name)
    renamed = dataclasses.replace(imported, name=name, description=builtin.description)
    assert soc_to_dict(builtin) == soc_to_dict(renamed)
    assert "DS3" in builtin.description and "Arda" in builtin.description


@pytest.mark.parametrize(("name", "rel"), sorted(BUILTIN_APPS.items()))
def test_builtin_app_matches_fixture(name: str, rel: str) -> None:
    imported = read_ds3_job(ds3_dir() / rel)
    builtin = load_application(name)
    # the built-ins leave out DS3's per-task deadlines (placeholders of 2-10 us, see simulator.md)
    renamed = dataclasses.replace(imported, name=name, description=builtin.description,
                                  deadline_us=None)
    assert application_to_dict(builtin) == application_to_dict(renamed)
    assert builtin.description


# --- DS3 quirks reproduced -----------------------------------------------------------------

HEADER = ("add_new_resource resource_type {t} resource_name {n} resource_ID {i} capacity {c} "
          "num_supported_functionalities {k} DVFS_mode performance")


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_first_entry_wins_and_extra_columns_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "SoC.dup.txt", [
        "# a comment", HEADER.format(t="CPU", n="P", i=0, c=2, k=3),
        "opp 1000 900", "power_profile 1000 0.1 0.2", "a 5 99", "b 7", "a 6",
        "comm_band_self 500", "comm_band 0 0 20"])
    soc = read_ds3_soc(path)
    assert soc.name == "dup" and dict(soc.clusters[0].exec_us) == {"a": 5.0, "b": 7.0}
    assert soc.self_bandwidth == 500 and soc.cluster_bandwidth(0, 0) == 20


def test_comm_band_before_a_later_resource_is_discarded(tmp_path: Path) -> None:
    path = _write(tmp_path, "SoC.reset.txt", [
        HEADER.format(t="CPU", n="P", i=0, c=1, k=1), "a 5", "comm_band 0 0 20",
        HEADER.format(t="CPU", n="Q", i=1, c=1, k=1), "a 6", "comm_band 1 1 30"])
    with pytest.warns(UserWarning, match="resets the bandwidth matrix"):
        soc = read_ds3_soc(path)
    assert dict(soc.bandwidth) == {("Q", "Q"): 30.0}


def test_comm_band_before_comm_band_self_keeps_self_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "SoC.order.txt", [
        HEADER.format(t="CPU", n="P", i=0, c=1, k=1), "a 5",
        HEADER.format(t="CPU", n="Q", i=1, c=1, k=1), "a 6",
        "comm_band 0 0 20", "comm_band_self 500", "comm_band 1 1 30"])
    with pytest.warns(UserWarning, match="same-PE bandwidth differs"):
        read_ds3_soc(path)


def test_non_edge_comm_vol_is_ignored_with_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "job_x.txt", [
        "job_name x", "add_new_tasks 2", "a 0", "a HEAD", "a earliest_start 0 deadline 1",
        "b 1 0", "b TAIL", "b earliest_start 0 deadline 1", "comm_vol 0 1 7", "comm_vol 1 0 3"])
    with pytest.warns(UserWarning, match="not an edge"):
        app = read_ds3_job(path)
    assert dict(app.volumes) == {(0, 1): 7.0}


# --- errors --------------------------------------------------------------------------------

GOOD_SOC = [HEADER.format(t="CPU", n="P", i=0, c=1, k=2), "opp 1000 900", "a 5", "b 6",
            "comm_band_self 100", "comm_band 0 0 10"]


def _header(**fields: object) -> str:
    return HEADER.format(**{"t": "CPU", "n": "P", "i": 0, "c": 1, "k": 2, **fields})


@pytest.mark.parametrize(
    ("lineno", "replacement", "expected", "reported"),
    [
        (1, _header(i="x"), "expected an integer resource_ID, got 'x'", 1),
        (1, _header(i=1), "expected resource_ID 0", 1),
        (1, _header(c=0), "capacity >= 1", 1),
        (1, _header(k=3), "declares num_supported_functionalities 3 but only 2", 5),
        (1, "add_new_resource CPU P 0", "got 3 fields", 1),
        (1, _header().replace("resource_type", "capacity", 1), "fields must be in the order", 1),
        (2, "opp 1000 high", "expected an integer voltage (mV), got 'high'", 2),
        (3, "a fast", "expected a number for the execution time of 'a'", 3),
        (4, "b -1", "execution time >= 0", 4),
        (5, "comm_band_self", "expected 'comm_band_self bandwidth'", 5),
        (6, "comm_band 0 7 10", "resource_ID 7", 6),
        (6, "comm_band 0 0 0", "bandwidth > 0", 6),
        (6, "bogus 1 2", "expected add_new_resource, comm_band or comm_band_self, got 'bogus'", 6),
    ],
)
def test_malformed_soc_names_file_and_line(tmp_path: Path, lineno: int, replacement: str,
                                           expected: str, reported: int) -> None:
    lines = list(GOOD_SOC)
    lines[lineno - 1] = replacement
    path = _write(tmp_path, "SoC.bad.txt", lines)
    with pytest.raises(ConfigError) as err:
        read_ds3_soc(path)
    message = str(err.value)
    assert expected in message
    assert f"SoC.bad.txt:{reported}:" in message


def test_good_soc_template_is_valid(tmp_path: Path) -> None:
    soc = read_ds3_soc(_write(tmp_path, "SoC.good.txt", GOOD_SOC))
    assert soc.self_bandwidth == 100 and soc.clusters[0].exec_us == {"a": 5.0, "b": 6.0}


def test_only_memory_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "SoC.mem.txt", [HEADER.format(t="MEM", n="M", i=0, c=1, k=1), "None 0"])
    with pytest.raises(ConfigError, match="no processing resource"):
        read_ds3_soc(path)


GOOD_JOB = ["job_name j", "add_new_tasks 3",
            "a 0", "a HEAD", "a earliest_start 0 deadline 10",
            "b 1 0", "b earliest_start 0 deadline 10",
            "c 2 1", "c TAIL", "c earliest_start 0 deadline 10",
            "comm_vol 0 1 4", "comm_vol 1 2 5"]


@pytest.mark.parametrize(
    ("lineno", "replacement", "error", "expected"),
    [
        (2, "add_new_tasks many", ConfigError, "expected an integer number of tasks, got 'many'"),
        (6, "b 1 zero", ConfigError, "expected an integer predecessor id for 'b', got 'zero'"),
        (6, "b 7 0", ConfigError, "expected a task id in 0..2, got 7"),
        (6, "b 1 9", InvalidDAGError, "predecessor id 9"),
        (7, "x earliest_start 0 deadline 10", ConfigError, "to name the task just defined, 'b'"),
        (9, "c HEAD", InvalidDAGError, "marked HEAD but has predecessors"),
        (4, "a TAIL", InvalidDAGError, "marked TAIL but has successors"),
        (10, "c deadline", ConfigError, "expected 'c earliest_start s deadline d'"),
        (11, "comm_vol 0 1 lots", ConfigError, "expected a number for the communication volume"),
        (12, "comm_vol 1 5 5", ConfigError, "task id in 0..2, got 5"),
        (12, "bogus", ConfigError, "expected job_name, add_new_tasks or comm_vol, got 'bogus'"),
        (11, "d 3 2", ConfigError, "announced 3 tasks, but this line defines another task 'd'"),
    ],
)
def test_malformed_job_names_file_and_line(tmp_path: Path, lineno: int, replacement: str,
                                           error: type[Exception], expected: str) -> None:
    lines = list(GOOD_JOB)
    lines[lineno - 1] = replacement
    path = _write(tmp_path, "job_bad.txt", lines)
    with pytest.raises(error) as err:
        read_ds3_job(path)
    assert expected in str(err.value)
    assert "job_bad.txt" in str(err.value)


def test_cyclic_job_is_invalid_dag(tmp_path: Path) -> None:
    lines = ["job_name j", "add_new_tasks 3", "a 0", "a HEAD", "a earliest_start 0 deadline 1",
             "b 1 0 2", "b earliest_start 0 deadline 1", "c 2 1", "c earliest_start 0 deadline 1"]
    with pytest.raises(InvalidDAGError, match=r"job_cyc\.txt: the graph has a cycle"):
        read_ds3_job(_write(tmp_path, "job_cyc.txt", lines))


def test_good_job_template_is_valid(tmp_path: Path) -> None:
    app = read_ds3_job(_write(tmp_path, "job_good.txt", GOOD_JOB))
    assert app.name == "j" and [t.predecessors for t in app.tasks] == [(), (0,), (1,)]
    assert dict(app.volumes) == {(0, 1): 4.0, (1, 2): 5.0}


def test_job_with_missing_timing_line_or_truncated(tmp_path: Path) -> None:
    lines = [x for x in GOOD_JOB if x != "b earliest_start 0 deadline 10"]
    with pytest.raises(ConfigError, match=r"job_a\.txt:7: expected 'b earliest_start"):
        read_ds3_job(_write(tmp_path, "job_a.txt", lines))
    with pytest.raises(ConfigError, match="ends after 3"):
        read_ds3_job(_write(tmp_path, "job_b.txt", GOOD_JOB[:9]))
    with pytest.raises(ConfigError, match="no tasks"):
        read_ds3_job(_write(tmp_path, "job_c.txt", ["job_name x"]))


def _ini(tmp_path: Path, **overrides: str) -> Path:
    keys = {"resource_file": "SoC.t.txt", "job_file": "job_t.txt", "job_probabilities": "[1]",
            "scheduler": "MET", "inject_fixed_num_jobs": "no", "max_jobs": "5",
            "simulation_length": "20000", "fixed_injection_rate": "no",
            "max_jobs_in_parallel": "3", "random_seed": "7", "standard_deviation": "0.0"}
    keys.update(overrides)
    _write(tmp_path, "SoC.t.txt", [_header(k=3), "a 5", "b 6", "c 7"])
    (tmp_path / "config_Jobs").mkdir(exist_ok=True)
    _write(tmp_path / "config_Jobs", "job_t.txt", GOOD_JOB)
    lines = ["[DEFAULT]", *(f"{k} = {v}" for k, v in keys.items()),
             "[SIMULATION MODE]", "simulation_mode = performance", "scale = 50",
             "warmup_period = 1000", "scale_values = 100-400-100,1000"]
    return _write(tmp_path, "run.ini", lines)


def test_small_ini(tmp_path: Path) -> None:
    cfg = read_ds3_config(_ini(tmp_path, standard_deviation="0.2"))
    assert cfg.scale_values == [100, 200, 300, 1000] and cfg.scheduler == "MET"
    sim = cfg.to_sim_config()
    assert (sim.scale_us, sim.max_jobs_in_flight, sim.warmup_us, sim.duration_us) == (
        100, 3, 1000, 20000)
    assert sim.workload.name == "run" and sim.noise and sim.noise[0].spec == "gaussian:0.2"


@pytest.mark.parametrize(
    ("overrides", "error", "expected"),
    [
        ({"job_probabilities": "[0.5,0.5]"}, ConfigError, "expected 1 job probabilities"),
        ({"job_probabilities": "[0.5]"}, ConfigError, "summing to 1"),
        ({"job_probabilities": "[x]"}, ConfigError, "expected a number for a job probability"),
        ({"job_file": "job_none.txt"}, ConfigError, "'job_none.txt' not found"),
        ({"resource_file": "SoC.none.txt"}, ConfigError, "'SoC.none.txt' not found"),
        ({"max_jobs_in_parallel": "many"}, ConfigError, "expected an integer max_jobs_in_parallel"),
        ({"fixed_injection_rate": "maybe"}, ConfigError, "expected yes/no"),
    ],
)
def test_malformed_ini(tmp_path: Path, overrides: dict[str, str], error: type[Exception],
                       expected: str) -> None:
    with pytest.raises(error) as err:
        read_ds3_config(_ini(tmp_path, **overrides))
    assert expected in str(err.value) and "run.ini:" in str(err.value)


def test_ini_with_unsupported_task(tmp_path: Path) -> None:
    path = _ini(tmp_path)
    _write(tmp_path / "config_Jobs", "job_t.txt", [x.replace("c ", "zz ") for x in GOOD_JOB])
    with pytest.raises(UnsupportedTaskError, match="zz"):
        read_ds3_config(path)


def test_ini_syntax_error_and_missing_key(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.ini", ["resource_file = x"])
    with pytest.raises(ConfigError, match=r"bad\.ini:1: invalid ini syntax"):
        read_ds3_config(bad)
    empty = _write(tmp_path, "empty.ini", ["[DEFAULT]", "scheduler = ETF"])
    with pytest.raises(ConfigError, match="missing key 'resource_file'"):
        read_ds3_config(empty)


@pytest.mark.parametrize("reader", [read_ds3_soc, read_ds3_job, read_ds3_config])
def test_missing_file(tmp_path: Path, reader: Callable[[Path], object]) -> None:
    with pytest.raises(ConfigError, match="file not found") as err:
        reader(tmp_path / "nope.txt")
    assert "nope.txt" in str(err.value)


def test_import_warnings_name_the_callers_line(tmp_path: Path) -> None:
    """Each reader's warnings point at the code that called the reader (stacklevel), whichever
    step of the reader raises them."""
    reset = _write(tmp_path, "SoC.reset.txt", [
        HEADER.format(t="CPU", n="P", i=0, c=1, k=1), "a 5", "comm_band 0 0 20",
        HEADER.format(t="CPU", n="Q", i=1, c=1, k=1), "a 6", "comm_band 0 0 20",
        "comm_band_self 500", "comm_band 1 1 30"])
    non_edge = _write(tmp_path, "job_x.txt", [
        "job_name x", "add_new_tasks 2", "a 0", "a earliest_start 0 deadline 1",
        "b 1 0", "b earliest_start 0 deadline 1", "comm_vol 1 0 3"])
    cases = [(lambda: read_ds3_soc(reset), ["resets the bandwidth matrix", "differs"]),
             (lambda: read_ds3_job(non_edge), ["not an edge"]),
             (lambda: read_ds3_config(_ini(tmp_path, job_list="[[0,1]]")), ["job_list"])]
    for read, expected in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read()
        assert [next(e for e in expected if e in str(w.message)) for w in caught] == expected
        assert {w.filename for w in caught} == {__file__}
