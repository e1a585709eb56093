"""`soclab simulate`: options, JSON and table output, and one-line errors (exit code 2) on bad
input. Through typer's CliRunner on `soclab.cli.app`, plus one real call of the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dssoc import SimConfig, simulate
from soclab.cli import app
from tests.conftest import ds3_dir

REQUIRED_KEYS = ("avg_latency_us", "p95_latency_us", "completed_jobs", "injected_jobs",
                 "injection_rate_jobs_per_ms", "throughput_jobs_per_ms", "energy_j", "edp",
                 "mean_slowdown", "wall_time_s")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["simulate", "--json", *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # ONE JSON object on one line
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


def run_error(*args: str) -> str:
    """Run a failing command; return its single stderr line."""
    result = runner.invoke(app, ["simulate", *args])
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- output
def test_json_has_the_metrics_and_matches_the_python_api() -> None:
    out = run_json("--max-jobs", "6", "--seed", "3", "--scheduler", "MET")
    for key in REQUIRED_KEYS:
        assert key in out, key
    assert out["completed_jobs"] == out["injected_jobs"] == 6
    assert out["scheduler"] == "MET" and out["seed"] == 3
    cfg = SimConfig.build("wifi-tx-rx", max_jobs=6, duration_us=None)
    ref = simulate(cfg, "MET", seed=3).metrics()
    for key, value in ref.items():
        if key != "wall_time_s":
            assert out[key] == (None if value != value else pytest.approx(value)), key  # NaN -> null
    assert out["wall_time_s"] > 0


def test_table_without_json() -> None:
    result = runner.invoke(app, ["simulate", "--max-jobs", "4", "--scheduler", "HEFT"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "HEFT" in text and "wifi-tx-rx" in text and "MULTIPLE_BAL" in text
    for label in ("average latency", "p50 / p95 / p99", "throughput", "energy", "EDP",
                  "completed / injected", "utilisation"):
        assert label in text, label
    assert "4 / 4" in text
    assert not text.lstrip().startswith("{")


# ------------------------------------------------------------------------------ options
def test_workload_by_name_and_soc() -> None:
    out = run_json("--workload", "synthetic-top", "--soc", "Top", "--max-jobs", "5")
    assert out["config"]["workload"] == "synthetic-top" and out["config"]["soc"] == "Top"
    radar = run_json("--workload", "radar", "--max-jobs", "1")
    assert radar["avg_latency_us"] == 177.0


def test_workload_from_files(tmp_path: Path) -> None:
    app_file = write(tmp_path / "pair.json", json.dumps({
        "name": "pair", "tasks": [{"name": "scrambler_encoder"},
                                  {"name": "interleaver_1", "after": {"scrambler_encoder": 64}}]}))
    out = run_json("--workload", str(app_file), "--max-jobs", "3")
    assert out["config"]["applications"] == ["pair"] and out["completed_jobs"] == 3
    yaml_file = write(tmp_path / "mix.yaml",
                      "name: mine\nsoc: MULTIPLE_BAL\nmix:\n  pair.json: 0.5\n  range_detection: 0.5\n")
    out = run_json("--workload", str(yaml_file), "--max-jobs", "20")
    assert out["config"]["applications"] == ["pair", "range_detection"]
    assert set(out["completed_by_app"]) == {"pair", "range_detection"}


def test_ds3_config() -> None:
    ini = ds3_dir() / "ds3" / "config_Files" / "config_file_scheduling.ini"
    out = run_json("--ds3-config", str(ini), "--duration", "4000", "--warmup", "500")
    cfg = out["config"]
    assert cfg["applications"][:2] == ["WiFi_Transmitter", "WiFi_Receiver"]
    assert cfg["probabilities"][:2] == [0.8, 0.2]
    assert cfg["duration_us"] == 4000 and cfg["warmup_us"] == 500
    assert out["sim_time_us"] == 4000 and out["completed_jobs"] > 0


def test_probabilities_override() -> None:
    out = run_json("--probabilities", "0,1", "--max-jobs", "6")
    assert out["completed_by_app"] == {"wifi_tx": 0, "wifi_rx": 6}
    assert out["config"]["probabilities"] == [0.0, 1.0]


def test_scale_rate_duration_warmup() -> None:
    by_scale = run_json("--scale", "250", "--duration", "5000")
    by_rate = run_json("--rate", "4", "--duration", "5000")
    assert by_scale["config"]["scale_us"] == by_rate["config"]["scale_us"] == 250
    assert {k: v for k, v in by_scale.items() if k != "wall_time_s"} == \
        {k: v for k, v in by_rate.items() if k != "wall_time_s"}
    assert by_scale["sim_time_us"] == 5000
    warm = run_json("--rate", "4", "--duration", "5000", "--warmup", "2000")
    assert warm["config"]["warmup_us"] == 2000
    assert warm["completed_jobs"] < by_rate["completed_jobs"]


def test_seed_and_scheduler_change_the_run() -> None:
    a = run_json("--rate", "8", "--duration", "5000", "--seed", "1")
    b = run_json("--rate", "8", "--duration", "5000", "--seed", "2")
    c = run_json("--rate", "8", "--duration", "5000", "--seed", "1", "--scheduler", "MET")
    assert a["avg_latency_us"] != b["avg_latency_us"]
    assert a["avg_latency_us"] != c["avg_latency_us"] and c["scheduler"] == "MET"


def test_noise_option() -> None:
    clean = run_json("--max-jobs", "10", "--seed", "4")
    noisy = run_json("--max-jobs", "10", "--seed", "4", "--noise", "gaussian:0.2")
    assert noisy["config"]["noise"] == "gaussian:0.2" and clean["config"]["noise"] == "none"
    assert noisy["avg_latency_us"] != clean["avg_latency_us"]


def test_gantt_and_validate(tmp_path: Path) -> None:
    png = tmp_path / "charts" / "run.png"
    out = run_json("--max-jobs", "4", "--gantt", str(png), "--validate")
    assert out["valid"] is True
    assert png.read_bytes()[:8] == PNG_MAGIC
    result = runner.invoke(app, ["simulate", "--max-jobs", "3", "--validate", "--gantt",
                                 str(tmp_path / "b.png"), "--gantt-window", "0:100"])
    assert result.exit_code == 0, result.output
    assert "schedule valid" in result.stdout and "Gantt chart written" in result.stdout
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG_MAGIC


# -------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("args", "fragments"), [
    (["--scheduler", "FOO"], ["unknown scheduler 'FOO'", "ETF", "HEFT", "MET"]),
    (["--workload", "nosuch"], ["unknown workload 'nosuch'", "wifi-tx-rx"]),
    (["--soc", "nosoc"], ["unknown SoC 'nosoc'", "MULTIPLE_BAL"]),
    (["--rate", "-5"], ["--rate", "must be > 0"]),
    (["--rate", "0"], ["--rate", "must be > 0"]),
    (["--scale", "-5"], ["--scale", "must be > 0"]),
    (["--scale", "100", "--rate", "5"], ["either --scale or --rate"]),
    (["--probabilities", "0.5,0.3,0.2"], ["probabilities", "3 probabilities for 2 applications"]),
    (["--probabilities", "a,b"], ["--probabilities", "comma-separated numbers"]),
    (["--noise", "gaussian:-0.2"], ["noise spec 'gaussian:-0.2'", "sigma"]),
    (["--noise", "wobble:1"], ["unknown noise model 'wobble'", "gaussian", "lognormal"]),
    (["--noise", "slowdown:XX:2"], ["unknown cluster 'XX'", "A15"]),
    (["--workload", "nothere.json"], ["nothere.json", "file not found"]),
    (["--ds3-config", "nothere.ini"], ["nothere.ini", "file not found"]),
    (["--duration", "-5"], ["duration", "> 0"]),
    (["--gantt-window", "1:2:3"], ["--gantt-window", "START:END"]),
    (["--gantt", "chart.txt"], ["--gantt", "chart.txt", "expected a .png"]),
])
def test_bad_option_values(args: list[str], fragments: list[str]) -> None:
    line = run_error(*args, "--max-jobs", "1") if "--duration" not in args else run_error(*args)
    for f in fragments:
        assert f in line, (f, line)


def test_gantt_of_a_run_where_nothing_finished(tmp_path: Path) -> None:
    line = run_error("--duration", "1", "--gantt", str(tmp_path / "empty.png"))
    assert "--gantt" in line and "no task finished" in line
    assert not (tmp_path / "empty.png").exists()


def test_malformed_workload_file_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", '{"name": "x",\n "tasks": [{"name": "a"},\n]}\n')
    line = run_error("--workload", str(bad))
    assert f"{bad}:3" in line and "invalid JSON" in line
    bad_yaml = write(tmp_path / "bad.yaml", "name: x\nmix:\n  wifi_tx: [0.5\n")
    line = run_error("--workload", str(bad_yaml))
    assert str(bad_yaml) in line and "invalid YAML" in line
    assert str(bad_yaml) + ":" in line  # with a line number


def test_dag_with_a_cycle(tmp_path: Path) -> None:
    cyc = write(tmp_path / "cyc.json", json.dumps({"name": "loop", "tasks": [
        {"name": "scrambler_encoder", "after": {"interleaver_1": 1}},
        {"name": "interleaver_1", "after": {"scrambler_encoder": 1}}]}))
    line = run_error("--workload", str(cyc))
    assert "cycle" in line and "loop" in line


def test_task_that_no_pe_supports(tmp_path: Path) -> None:
    f = write(tmp_path / "alien.json", json.dumps({"name": "alien", "tasks": [{"name": "warp_drive"}]}))
    line = run_error("--workload", str(f))
    assert "'warp_drive'" in line and "no PE" in line and "MULTIPLE_BAL" in line


def test_usage_errors_exit_2() -> None:
    result = runner.invoke(app, ["simulate", "--max-jobs", "many"])
    assert result.exit_code == 2 and "--max-jobs" in result.output
    result = runner.invoke(app, ["simulate", "--no-such-option"])
    assert result.exit_code == 2


# ------------------------------------------------------------------ the real console script
def soclab_script() -> str:
    found = Path(sys.executable).with_name("soclab")
    script = str(found) if found.exists() else shutil.which("soclab")
    if script is None:
        pytest.skip("the soclab console script is not installed")
    return script


def test_console_script_json_and_error() -> None:
    script = soclab_script()
    ok = subprocess.run([script, "simulate", "--json", "--workload", "radar", "--max-jobs", "2"],
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["completed_jobs"] == 2 and out["avg_latency_us"] > 0
    bad = subprocess.run([script, "simulate", "--scheduler", "nope"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "unknown scheduler 'nope'" in bad.stderr
