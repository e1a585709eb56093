"""`python -m soclab` runs the same CLI as the `soclab` console script: same commands, same
results and the same one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "envs"), str(REPO / "platform"),
                                         env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "soclab", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_module_runs_the_cli() -> None:
    ok = run_module("simulate", "--json", "--workload", "wifi_rx", "--max-jobs", "1",
                    "--scheduler", "MET")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["avg_latency_us"] == 389  # DS3's value
    bad = run_module("simulate", "--scheduler", "nope")
    assert bad.returncode == 2
    assert "nope" in bad.stderr
