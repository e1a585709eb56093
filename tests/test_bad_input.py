"""Bad input, everywhere a user can give it: specs, dssoc's own file formats, DS3 files, CLI
values, the environment, checkpoints and the Python API.

Every CLI case asserts what a user can rely on: exit code 2, exactly one stderr line
`error: ...` naming the place (file, key path or option), no traceback, nothing written (the
working directory holds only the inputs afterwards: no `mlflow.db`, no `soclab-runs/`), and an
answer within a deadline (a hang fails the case instead of stalling the suite). API and env cases
assert the project's own error class and a one-line message naming the place. The CLI runs
in-process (typer's CliRunner); a few cases run the real process to prove no traceback escapes.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import dssoc
from dssoc.catalog import application_to_dict, load_application, load_soc, soc_to_dict
from dssoc.env import SoCSchedEnv
from dssoc.errors import ConfigError, DssocError, InvalidActionError, UnknownNameError
from soclab.cli import app
from tests.conftest import ds3_dir

DEADLINE_S = 60  # generous on a loaded machine: a case that hangs fails instead of stalling
runner = CliRunner()


@contextmanager
def deadline(seconds: int = DEADLINE_S) -> Iterator[None]:
    """Fail (TimeoutError) if the block runs longer than `seconds` (SIGALRM, main thread)."""
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s: the input hangs instead of failing")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def cli_error(args: list[str], where: Path) -> str:
    """Run `soclab ARGS` in `where`; assert the bad-input contract; return the error line."""
    before = listing(where)
    with deadline():
        result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "internal error" not in lines[0], lines[0]
    assert listing(where) == before, f"files written: {listing(where) - before}"
    return lines[0]


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory (where mlflow.db and soclab-runs/ would appear)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and text, text
    return text


# ----------------------------------------------------------------------------- CLI values
SIMULATE_VALUES = [
    (["--seed", "-1"], "--seed: must be >= 0"),
    (["--seed", "abc"], "'--seed'"),
    (["--seed", "4294967296"], "--seed: must be <= 4,294,967,295"),
    (["--duration", "nan"], "--duration: expected a finite number"),
    (["--duration", "inf"], "--duration: expected a finite number"),
    (["--duration", "-5"], "--duration: must be > 0"),
    (["--duration", "1e15"], "--duration: must be <= 1e+12"),
    (["--warmup", "nan", "--duration", "1000"], "--warmup: expected a finite number"),
    (["--warmup", "-1", "--duration", "1000"], "--warmup: must be >= 0"),
    (["--warmup", "2000", "--duration", "1000"], "warm-up 2000 must be shorter"),
    (["--max-jobs", "1000000000000"], "--max-jobs: must be <= 10,000,000"),
    (["--max-jobs", "0"], "--max-jobs: must be >= 1"),
    (["--max-jobs", "2.5"], "'--max-jobs'"),
    (["--rate", "nan"], "--rate: expected a finite number"),
    (["--rate", "inf"], "--rate: expected a finite number"),
    (["--rate", "0"], "--rate: must be > 0"),
    (["--rate", "1e9"], "would inject about"),
    (["--scale", "nan"], "--scale: expected a finite number"),
    (["--gantt-window", "5:1", "--max-jobs", "2"], "--gantt-window: START must be before END"),
    (["--gantt-window", "a:b", "--max-jobs", "2"], "--gantt-window: expected START:END"),
    (["--gantt-window", "nan:5", "--max-jobs", "2"], "--gantt-window: expected a finite number"),
    (["--probabilities", "nan,0.5"], "probabilities[0]: expected a finite number"),
    (["--no-such-option"], "No such option: --no-such-option"),
    (["--scheduler", "HEFF"], "Did you mean 'HEFT'?"),
    (["--scheduler", "checkpoint:nowhere"], "nowhere: checkpoint not found"),
    (["--noise", "gaussian:nan"], "sigma must be a finite number"),
    (["--noise", "slowdown:XX:2"], "unknown cluster 'XX'"),
    (["--workload", "wifi-tx-rxx"], "Did you mean 'wifi-tx-rx'?"),
]


@pytest.mark.parametrize(("args", "expected"), SIMULATE_VALUES,
                         ids=[" ".join(a) for a, _ in SIMULATE_VALUES])
def test_simulate_option_values(here: Path, args: list[str], expected: str) -> None:
    assert expected in cli_error(["simulate", *args], here)


# ----------------------------------------------------------------- dssoc's own file formats
def _soc() -> dict[str, Any]:
    return soc_to_dict(load_soc("MULTIPLE_BAL"))


def _app() -> dict[str, Any]:
    return application_to_dict(load_application("wifi_tx"))


def _edit(doc: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    fn(doc)
    return doc


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting the value at a dotted/indexed path such as `clusters.0.capacity`."""
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


FIRST_TASK = "scrambler_encoder"
FILES: list[tuple[str, str, Any, str]] = [
    # (file name, option, content: dict (JSON) or str/bytes, expected fragment after the file name)
    ("s.json", "--soc", _edit(_soc(), _set("clusters.0.exec_us.scrambler_encoder", "fast")),
     "clusters[0].exec_us.scrambler_encoder: Input should be a valid number, got 'fast'"),
    ("s.json", "--soc", _edit(_soc(), _set("bandwidth.pairs.0.2", "wide")),
     "bandwidth.pairs[0][2]: Input should be a valid number"),
    ("s.json", "--soc", _edit(_soc(), _set("bandwidth.pairs.0", ["A7"])),
     "bandwidth.pairs: entry 0 is ['A7'], expected [cluster_a, cluster_b, bandwidth]"),
    ("s.json", "--soc", _edit(_soc(), _set("bandwidth.pairs.0.1", "GPU")),
     "bandwidth.pairs[0]: unknown cluster 'GPU'"),
    ("s.json", "--soc", _edit(_soc(), _set("bandwidth.default", 0)),
     "bandwidth.default: Input should be greater than 0"),
    ("s.json", "--soc", _edit(_soc(), _set("clusters.0.power.opps.0.0", "max")),
     "clusters[0].power.opps[0][0]: Input should be a valid integer"),
    ("s.json", "--soc", _edit(_soc(), _set("clusters.0.capacity", 0)),
     "clusters[0].capacity: Input should be greater than or equal to 1"),
    ("s.json", "--soc", _edit(_soc(), _set("clusters.0.colour", "red")),
     "clusters[0].colour: Extra inputs are not permitted"),
    ("s.json", "--soc", _edit(_soc(), _set("clusters.1.name", "A7")),
     "clusters: duplicate cluster names ['A7']"),
    ("s.json", "--soc", '{"name": "a", "name": "b", "clusters": []}', "invalid JSON: duplicate key 'name'"),
    ("s.json", "--soc", bytes(range(256)) * 8, "not a text SoC file (binary data)"),
    ("s.json", "--soc", "[1, 2]", "expected a mapping at the top level"),
    ("a.json", "--workload", _edit(_app(), _set(f"tasks.1.after.{FIRST_TASK}", "big")),
     f"tasks[1].after.{FIRST_TASK}: Input should be a valid number, got 'big'"),
    ("a.json", "--workload", _edit(_app(), _set(f"tasks.1.after.{FIRST_TASK}", -4)),
     f"tasks[1].after.{FIRST_TASK}: Input should be greater than or equal to 0"),
    ("a.json", "--workload", _edit(_app(), _set("tasks.1.after", {"nobody": 1})),
     "tasks[1].after: unknown predecessor 'nobody'"),
    ("a.json", "--workload", _edit(_app(), _set("tasks.1.name", FIRST_TASK)),
     f"tasks[1].name: duplicate task name '{FIRST_TASK}'"),
    ("w.json", "--workload", {"soc": "MULTIPLE_BAL", "mix": {"wifi_tx": "half", "wifi_rx": 0.5}},
     "mix.wifi_tx: Input should be a valid number, got 'half'"),
    ("w.json", "--workload", {"soc": "MULTIPLE_BAL", "mix": {"wifi_tx": 0.7, "wifi_rx": 0.5}},
     "probabilities must be >= 0 and sum to 1"),
    ("w.json", "--workload", {"soc": "MULTIPLE_BAL", "mix": {"wifi_txx": 0.5, "wifi_rx": 0.5}},
     "mix.wifi_txx: unknown application 'wifi_txx'. Did you mean 'wifi_tx'?"),
    ("w.json", "--workload", '{"mix": {"wifi_tx": NaN}}', "mix.wifi_tx: Input should be a finite number"),
    ("w.yaml", "--workload", "mix:\n  wifi_tx: 0.5\n  wifi_tx: 0.5\n",
     ":3: invalid YAML: duplicate key 'wifi_tx' (first given on line 2)"),
    ("w.json", "--workload", b'{"mix": {"wifi_tx": 1}}\xff\xfe',
     "not UTF-8 text"),
    ("g.dot", "--workload", bytes(range(256)) * 4, "not a text DOT file (binary data)"),
    ("g.stg", "--workload", bytes(range(256)) * 4, "not a text STG file (binary data)"),
    ("t.csv", "--arrivals", bytes(range(256)) * 4, "not a text arrival trace (binary data)"),
]


@pytest.mark.parametrize(("name", "option", "content", "expected"), FILES,
                         ids=[f"{n}-{e[:40]}" for n, _, _, e in FILES])
def test_own_format_files(here: Path, name: str, option: str, content: Any, expected: str) -> None:
    path = here / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    value = f"trace:{name}" if option == "--arrivals" else name
    line = cli_error(["simulate", option, value, "--max-jobs", "2"], here)
    assert f"error: {name}" in line and expected in line, line


# ---------------------------------------------------------------------------------- DS3 files
def _ds3_ini(here: Path, soc: str | None = None, job: str | None = None, **keys: str) -> Path:
    """A small DS3 ini next to copies of the fixture SoC and job files (copied to `here`)."""
    fixtures = ds3_dir() / "ds3"
    soc_file = here / "SoC.MULTIPLE_BAL.txt"
    soc_file.write_text(soc if soc is not None else
                        (fixtures / "config_SoC" / "SoC.MULTIPLE_BAL.txt").read_text())
    job_file = here / "job_WIFI_5TXM.txt"
    job_file.write_text(job if job is not None else
                        (fixtures / "config_Jobs" / "job_WIFI_5TXM.txt").read_text())
    values = {"resource_file": soc_file.name, "job_file": job_file.name, "job_probabilities": "[1.0]",
              "scale": "100", "simulation_length": "2000", **keys}
    ini = here / "run.ini"
    ini.write_text("[DEFAULT]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    return ini


def _line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


@pytest.mark.parametrize(("keys", "expected"), [
    ({"scale": "nan"}, "run.ini:5: expected a finite number for scale"),
    ({"simulation_length": "1e15"}, "run.ini:6: must be <= 1e+12"),
    ({"max_jobs": "1000000000000"}, "run.ini:7: must be <= 10,000,000"),
    ({"random_seed": "-3"}, "run.ini:7: must be >= 0"),
    ({"job_probabilities": "[0.5]"}, "run.ini:4: expected probabilities >= 0 summing to 1"),
])
def test_ds3_ini_values(here: Path, keys: dict[str, str], expected: str) -> None:
    _ds3_ini(here, **keys)
    assert expected in cli_error(["simulate", "--ds3-config", "run.ini"], here)


def test_ds3_binary_ini(here: Path) -> None:
    (here / "run.ini").write_bytes(bytes(range(256)) * 4)
    line = cli_error(["simulate", "--ds3-config", "run.ini"], here)
    assert "run.ini" in line and "cannot read file" in line


def test_ds3_malformed_soc_and_job_lines(here: Path) -> None:
    fixtures = ds3_dir() / "ds3"
    soc = (fixtures / "config_SoC" / "SoC.MULTIPLE_BAL.txt").read_text()
    n = _line_of(soc, "add_new_resource")
    _ds3_ini(here, soc=soc.replace("capacity 4", "capacity four", 1))
    assert f"SoC.MULTIPLE_BAL.txt:{n}:" in cli_error(["simulate", "--ds3-config", "run.ini"], here)
    job = (fixtures / "config_Jobs" / "job_WIFI_5TXM.txt").read_text()
    m = _line_of(job, "add_new_tasks")
    _ds3_ini(here, job="\n".join(
        "add_new_tasks many" if i == m else line for i, line in enumerate(job.splitlines(), 1)))
    assert f"job_WIFI_5TXM.txt:{m}:" in cli_error(["simulate", "--ds3-config", "run.ini"], here)


# -------------------------------------------------------------------------------------- specs
SPECS = [
    ("axes: {noise: [none, none]}", "axes.noise[1]: duplicate of axes.noise[0]"),
    ("axes: {noise: ['gaussian:0.1', 'gaussian:0.10']}", "axes.noise[1]: duplicate"),
    ("axes: {noise: []}", "axes.noise: give at least one noise level"),
    ("axes: {noise: ['slowdown:XX:2']}", "axes.noise[0]: noise slowdown: unknown cluster 'XX'"),
    ("axes: {seeds: [0, 0, 1]}", "axes.seeds[1]: duplicate of axes.seeds[0]"),
    ("axes: {seeds: []}", "axes.seeds: give at least one seed"),
    ("axes: {seeds: [-1, 2]}", "axes.seeds[0]: must be >= 0"),
    ("axes: {seeds: {start: 0, count: 20000000}}", "axes.seeds.count: must be <= 10,000"),
    ("axes: {seeds: [a, b]}", "axes.seeds[0]: Input should be a valid integer"),
    ("axes: {rates_jobs_per_ms: [.nan]}", "axes.rates_jobs_per_ms[0]: Input should be a finite number"),
    ("axes: {rates_jobs_per_ms: [.inf]}", "axes.rates_jobs_per_ms[0]: Input should be a finite number"),
    ("axes: {rates_jobs_per_ms: [5, 5.0]}", "axes.rates_jobs_per_ms[1]: duplicate"),
    ("axes: {rates_jobs_per_ms: [1, 1000000]}", "axes.rates_jobs_per_ms[1]: config.duration_us: 20000 µs"),
    ("axes: {noise: [none]}\naxes: {noise: [none]}", ":3: invalid YAML: duplicate key 'axes'"),
    ("simulation: {duration_us: .inf}", "simulation.duration_us: Input should be a finite number"),
    ("simulation: {duration_us: 1.0e+15}", "simulation.duration_us: must be <= 1e+12"),
    ("simulation: {max_jobs_in_flight: 2.5}",
     "simulation.max_jobs_in_flight: Input should be a valid integer"),
    ("simulation: {workload: nope}", "simulation.workload: unknown workload 'nope'"),
    ("simulation: {workload: missing.json}", "simulation.workload: missing.json: workload file not found"),
    ("simulation: {soc: nope}", "simulation.soc: unknown SoC 'nope'"),
    ("simulation: {probabilities: [0.5, 0.3, 0.2]}", "simulation.probabilities: 3 probabilities for 2"),
    ("simulation: {probabilities: [0.9, 0.3]}",
     "simulation.probabilities: workload wifi-tx-rx: probabilities"),
    ("baselines: [HEFT, NOPE]", "baselines[1]: unknown scheduler 'NOPE'"),
    ("baselines: [HEFT, HEFT]", "baselines[1]: duplicate of baselines[0]"),
    ("tune: {cells_per_trial: 0}", "tune.cells_per_trial: Input should be greater than or equal to 1"),
    ("report: {gantt_window_us: .nan}", "report.gantt_window_us: Input should be a finite number"),
    ("budget: {time_budget_s: .inf}", "budget.time_budget_s: Input should be a finite number"),
    ("agents: [{name: x, scheduler: 'nomodule:Cls'}]", "agents[0].scheduler: nomodule:Cls: cannot import"),
    ("agents: [{name: x, scheduler: 'checkpoint:nowhere'}]", "agents[0].scheduler: checkpoint not found"),
    ("agents: [{name: HEFF}]", "Did you mean 'HEFT'?"),
    ("agents: [{name: ETF, colour: red}]", "agents[0].colour: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("text", "expected"), SPECS, ids=[t[:50] for t, _ in SPECS])
def test_bad_spec_is_refused_before_anything_runs(here: Path, text: str, expected: str) -> None:
    body = text if text.startswith("agents") else "agents: [{name: ETF}]\n" + text
    (here / "s.yaml").write_text(body + "\n")
    line = cli_error(["sweep", "s.yaml"], here)
    assert line.startswith("error: s.yaml") and expected in line, line


@pytest.mark.parametrize("verb", ["runs", "report", "train"])
def test_every_spec_verb_validates_first(here: Path, verb: str) -> None:
    (here / "s.yaml").write_text("agents: [{name: ETF}]\naxes: {seeds: [1, 1]}\n")
    assert "axes.seeds[1]: duplicate" in cli_error([verb, "s.yaml"], here)


OK_SPEC = "agents: [{name: ETF}]\naxes: {rates_jobs_per_ms: [1], seeds: [0]}\n"


@pytest.mark.parametrize(("args", "expected"), [
    (["sweep", "s.yaml", "--output-dir", "afile"], "--output-dir: afile is a file"),
    (["sweep", "s.yaml", "--output-dir", "afile/sub"], "afile is a file, so afile/sub cannot be"),
    (["sweep", "s.yaml", "--num-cpus", "0"], "--num-cpus: must be >= 1"),
    (["sweep", "missing.yaml"], "missing.yaml: spec file not found"),
    (["report", "s.yaml", "--output-dir", "afile"], "--output-dir: afile is a file"),
    (["train", "s.yaml", "--rate", "nan"], "--rate: expected a finite number"),
    (["train", "s.yaml", "--iterations", "0"], "--iterations: must be >= 1"),
    (["train", "s.yaml", "--noise", "slowdown:XX:2"], "--noise: noise slowdown: unknown cluster"),
    (["sweep"], "Missing argument"),
    (["cluster", "local", "--workers", "-1"], "--workers: must be >= 0"),
    (["cluster", "local", "--port", "99999"], "--port: must be <= 65,535"),
    (["tracking-server", "--port", "0"], "--port: must be >= 1"),
    (["sweep", "rl.yaml"], "rl.yaml: agents[0]: hyperparameters.lrr: unknown hyperparameter 'lrr'"),
])
def test_sweep_and_train_options(here: Path, args: list[str], expected: str) -> None:
    (here / "s.yaml").write_text(OK_SPEC)
    (here / "rl.yaml").write_text("agents: [{name: ppo, algorithm: PPO, hyperparameters: {lrr: 0.1}}]\n")
    (here / "afile").write_text("")
    assert expected in cli_error(args, here)


def test_a_huge_grid_needs_yes(here: Path) -> None:
    rates = [round(0.001 * (i + 1), 3) for i in range(2600)]  # 3 agents x 2,600 rates
    (here / "big.yaml").write_text(f"agents: [{{name: MET}}]\naxes: {{rates_jobs_per_ms: {rates}}}\n")
    line = cli_error(["sweep", "big.yaml"], here)
    assert "the grid has 7,800 cells (more than 5,000)" in line and "--yes" in line


# ------------------------------------------------------------------------------- checkpoints
def _checkpoint(root: Path, pkl: bytes | None, settings: str | None) -> Path:
    ck = root / "ck"
    ck.mkdir()
    if pkl is not None:
        (ck / "class_and_ctor_args.pkl").write_bytes(pkl)
    if settings is not None:
        (ck / "soclab_env.json").write_text(settings)
    return ck


GOOD_SETTINGS = json.dumps({"action_mode": "task", "max_tasks": 8, "time_scale_us": 100.0})
CHECKPOINTS = [
    (None, GOOD_SETTINGS, "ck: not an RLlib checkpoint"),
    (b"junk", None, "no soclab_env.json beside the checkpoint"),
    (b"junk", "{not json", "soclab_env.json:1: invalid JSON"),
    (b"junk", json.dumps({"action_mode": "task"}), "soclab_env.json: missing key 'max_tasks'"),
    (b"\x07garbage" * 30, GOOD_SETTINGS, "ck: cannot restore the policy from this checkpoint"),
    (pickle.dumps({"class": dict, "ctor_args_and_kwargs": ((), {})}), GOOD_SETTINGS,
     "ck: cannot restore the policy from this checkpoint"),
]


@pytest.mark.parametrize(("pkl", "settings", "expected"), CHECKPOINTS,
                         ids=["no-pkl", "no-settings", "bad-json", "missing-key", "garbage-pkl",
                              "wrong-class"])
def test_bad_checkpoints(here: Path, pkl: bytes | None, settings: str | None, expected: str) -> None:
    _checkpoint(here, pkl, settings)
    line = cli_error(["simulate", "--scheduler", "checkpoint:ck", "--max-jobs", "2"], here)
    assert expected in line, line


def test_a_garbage_checkpoint_agent_stops_the_sweep_before_it_starts(here: Path) -> None:
    _checkpoint(here, b"\x07garbage" * 30, GOOD_SETTINGS)
    (here / "s.yaml").write_text("agents: [{name: mine, scheduler: 'checkpoint:ck'}]\n")
    line = cli_error(["sweep", "s.yaml"], here)
    assert "s.yaml: agents[0].scheduler: ck: cannot restore the policy" in line, line


# ------------------------------------------------------------------------- the environment
def _env(**kw: Any) -> tuple[SoCSchedEnv, dict[str, Any]]:
    env = SoCSchedEnv({"workload": "wifi-tx-rx", "max_jobs": 3, **kw})
    obs, _ = env.reset(seed=0)
    return env, obs


@pytest.mark.parametrize("action", [None, "0", 2.5, -1, 10**6, np.float32(1.0), np.array([0, 1])],
                         ids=["None", "str", "float", "negative", "too-large", "np.float32", "array"])
def test_actions_outside_the_space_raise(action: Any) -> None:
    env, _ = _env()
    with pytest.raises(InvalidActionError, match="outside the action space Discrete"):
        env.step(action)


def test_masked_action_raises_in_strict_mode_and_is_replaced_when_asked() -> None:
    env, obs = _env()
    masked = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    with pytest.raises(InvalidActionError, match=f"action {masked} is masked out") as err:
        env.step(masked)
    assert "invalid_action='replace'" in one_line(err.value)
    env, obs = _env(invalid_action="replace")
    _, _, _, _, info = env.step(masked)
    assert info["invalid_action"] and info["invalid_actions"] == 1


@pytest.mark.parametrize(("options", "expected"), [
    ({"time_scale_us": 0}, "time_scale_us: must be > 0"),
    ({"time_scale_us": math.nan}, "time_scale_us: expected a finite number"),
    ({"max_tasks": 2.5}, "max_tasks: expected an integer, got 2.5"),
    ({"max_steps": 0}, "max_steps: must be >= 1"),
    ({"seed": -1}, "seed: must be >= 0"),
    ({"invalid_action": "ignore"}, "unknown invalid_action mode 'ignore'"),
    ({"rate": 3}, "unknown key 'rate'. Did you mean 'rate_jobs_per_ms'?"),
    ({"duration_us": "100"}, "config.duration_us: expected a number, got '100' (str)"),
])
def test_env_options(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        SoCSchedEnv({"workload": "wifi-tx-rx", "max_jobs": 3, **options})
    assert expected in one_line(err.value)


# ------------------------------------------------------------------------------ Python API
CFG = dssoc.SimConfig.build("wifi-tx-rx", max_jobs=2, duration_us=None)


@pytest.mark.parametrize(("call", "expected"), [
    (lambda: dssoc.simulate(CFG, seed="1"), "seed: expected an integer, got '1' (str)"),
    (lambda: dssoc.simulate(CFG, seed=1.5), "seed: expected an integer, got 1.5"),
    (lambda: dssoc.simulate(CFG, seed=-1), "seed: must be >= 0"),
    (lambda: dssoc.simulate(CFG, scheduler="HEFF"), "Did you mean 'HEFT'?"),
    (lambda: dssoc.simulate(CFG, scheduler=None), "scheduler: expected a scheduler name"),
    (lambda: dssoc.simulate(42), "workload: expected a workload name, file or Workload"),
    (lambda: dssoc.SimConfig.build(duration_us="100"), "config.duration_us: expected a number"),
    (lambda: dssoc.SimConfig.build(max_jobs_in_flight=2.5), "config.max_jobs_in_flight: expected an integer"),
    (lambda: dssoc.SimConfig.build(duratoin_us=5),
     "unknown keyword 'duratoin_us'. Did you mean 'duration_us'?"),
    (lambda: dssoc.SimConfig.build(rate_jobs_per_ms=math.nan), "rate_jobs_per_ms: expected a finite number"),
    (lambda: dssoc.SimConfig.build(duration_us=math.inf), "config.duration_us: expected a finite number"),
    (lambda: dssoc.SimConfig.build(max_jobs=10**12, duration_us=None), "config.max_jobs: must be <="),
    (lambda: dssoc.SimConfig.build(noise=5), "noise: expected a noise spec string"),
    (lambda: dssoc.SimConfig.build(energy="yes"), "config.energy: expected true or false"),
    (lambda: dssoc.SimConfig.build(probabilities="0.5,0.5"), "probabilities: expected a list of numbers"),
    (lambda: dssoc.Simulation("wifi-tx-rx"), "config: expected a SimConfig"),
])
def test_python_api_raises_config_errors(call: Callable[[], Any], expected: str) -> None:
    with pytest.raises(DssocError) as err:
        call()
    assert isinstance(err.value, ConfigError | UnknownNameError)
    assert expected in one_line(err.value)


def test_integral_floats_are_accepted_as_counts() -> None:
    """3.0 jobs is 3 jobs (YAML and JSON often give integers as floats); 2.5 is refused above."""
    cfg = dssoc.SimConfig.build("wifi-tx-rx", max_jobs=3.0, duration_us=None, max_jobs_in_flight=12.0)
    assert cfg.max_jobs == 3 and isinstance(cfg.max_jobs_in_flight, int)
    assert dssoc.simulate(cfg, seed=2.0).completed_jobs == 3


# ------------------------------------------------------------------- the real console script
@pytest.mark.parametrize("args", [
    ["simulate", "--duration", "nan"],
    ["simulate", "--seed", "abc"],
    ["sweep", "s.yaml"],
])
def test_real_process_prints_one_line_and_no_traceback(here: Path, args: list[str]) -> None:
    (here / "s.yaml").write_text("agents: [{name: ETF}]\nbaselines: [NOPE]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "soclab.cli", *args], capture_output=True, text=True,
                          timeout=DEADLINE_S * 2, check=False, cwd=here, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert sorted(p.name for p in here.iterdir()) == ["s.yaml"]
