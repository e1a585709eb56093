"""Sweep integrity under concurrency and crashes, and the preflight of the tracking store.

Real drivers (`soclab sweep` subprocesses, each starting its own local Ray, in its own session
so the test can signal or kill it and everything it spawned) against a SQLite store in tmp_path:
two drivers at once on a fresh and on an initialised store, SIGTERM, SIGKILL then resume, the
store made read-only mid-sweep, an unreachable tracking server. Resumes run in this process on
the shared `ray_session`. The SIGTERM test also lists every listening socket of the driver's Ray
and fails on any that is not loopback. Every process a test starts is stopped by PID/session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow  # imported here, not first in a helper thread racing the sweep's own import
import pytest
import yaml

from soclab.cells import plan_cells
from soclab.claims import CLAIM_PREFIX, CLOSED_TAG, LEASE_ENV
from soclab.cluster import listening_addresses, session_processes, stop_session
from soclab.spec import load_spec
from soclab.sweep import run_sweep

pytestmark = pytest.mark.ray

SOCLAB = str(Path(sys.executable).with_name("soclab"))
LOOPBACK_IPS = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
#: listeners allowed beyond loopback, each with the reason (none are needed with Ray 2.60)
ALLOWED_NON_LOOPBACK: dict[str, str] = {}


def write_spec(tmp_path: Path, name: str = "integrity", rates: tuple[float, ...] = (2.0, 4.0),
               duration_us: float = 60_000.0) -> Path:
    """Six cells (MET, HEFT and the ETF baseline at two rates) run one after another in one trial
    per driver, so two drivers meet on every cell and a signal lands between or within cells."""
    spec = {
        "name": name,
        "simulation": {"workload": "wifi-tx-rx", "duration_us": duration_us, "warmup_us": 500},
        "agents": [{"name": "MET"}, {"name": "HEFT"}],
        "axes": {"noise": ["none"], "rates_jobs_per_ms": list(rates), "seeds": [0, 1]},
        "baselines": ["ETF"],
        "tune": {"max_concurrent_trials": 1, "retries": 1},
        "tracking": {"experiment_name": f"integrity-{uuid.uuid4().hex[:8]}"},
        "report": {"gantt": False},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def driver_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "SOCLAB_CLAIM"))}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1",
               RAY_raylet_start_wait_time_s="120",  # a loaded CI machine: no start-up timeout
               **extra)
    return env


def sweep_cmd(spec: Path, uri: str, out: Path, *extra: str) -> list[str]:
    return [SOCLAB, "sweep", str(spec), "--tracking-uri", uri, "--output-dir", str(out),
            "--num-cpus", "1", "--no-report", *extra]


@contextmanager
def driver(cmd: list[str], log: Path, env: dict[str, str] | None = None
           ) -> Iterator[subprocess.Popen]:
    """A driver in its own session; it and everything it spawned is gone when the block ends."""
    t0 = time.time()
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        proc = subprocess.Popen(cmd, env=env or driver_env(), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        stop_session(proc.pid, t0, grace=2.0, sig=signal.SIGKILL)


def stderr_of(log: Path) -> str:
    return log.with_suffix(".err").read_text(errors="replace")


def client(uri: str) -> mlflow.MlflowClient:
    """An explicit client: mlflow.set_tracking_uri would leak into later tests."""
    return mlflow.MlflowClient(uri)


def runs(uri: str, spec: Path, kind: str) -> list:
    c = client(uri)
    exp = c.get_experiment_by_name(load_spec(spec).experiment_name)
    if exp is None:
        return []
    return list(c.search_runs([exp.experiment_id], f"tags.`soclab.kind` = '{kind}'",
                              max_results=1000))


def finished_per_cell(uri: str, spec: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in runs(uri, spec, "cell"):
        if r.info.status == "FINISHED":
            h = r.data.tags["soclab.cell_hash"]
            counts[h] = counts.get(h, 0) + 1
    return counts


def wait_until(pred, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def n_finished(uri: str, spec: Path) -> int:
    try:
        return sum(finished_per_cell(uri, spec).values())
    except Exception:  # the store is being created by the driver
        return 0


def active_claims(uri: str) -> list:
    return [e for e in client(uri).search_experiments(filter_string=f"name LIKE '{CLAIM_PREFIX}/%'")]


def assert_exactly_once(uri: str, spec: Path) -> None:
    counts = finished_per_cell(uri, spec)
    hashes = {c.hash for c in plan_cells(load_spec(spec))}
    assert set(counts) == hashes and set(counts.values()) == {1}, counts
    assert not [r for r in runs(uri, spec, "cell") + runs(uri, spec, "sweep")
                if r.info.status == "RUNNING"]
    assert not active_claims(uri)


def one_error_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in text, text[-3000:]
    return lines[0]


# ------------------------------------------------------------------------- concurrency
@pytest.mark.parametrize("store", ["fresh", "initialised"])
def test_two_drivers_at_once_finish_every_cell_exactly_once(tmp_path: Path, store: str) -> None:
    """Two drivers on one spec and store at once, on a fresh store (MLflow creates its tables
    while both start) and on an initialised one: both exit 0, each cell finishes once."""
    spec = write_spec(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    if store == "initialised":
        from soclab.tracking import Tracker

        Tracker(uri, load_spec(spec).experiment_name)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with driver(sweep_cmd(spec, uri, tmp_path / "out-a"), logs[0]) as a, \
            driver(sweep_cmd(spec, uri, tmp_path / "out-b"), logs[1]) as b:
        rcs = [a.wait(timeout=600), b.wait(timeout=600)]
    texts = [log.read_text(errors="replace") + stderr_of(log) for log in logs]
    assert rcs == [0, 0], texts
    assert not any("internal error" in t for t in texts), texts
    assert_exactly_once(uri, spec)
    sweeps = runs(uri, spec, "sweep")
    assert len(sweeps) == 2 and {r.info.status for r in sweeps} == {"FINISHED"}


# ------------------------------------------------------------------------- crashes
def test_sigterm_stops_cleanly_and_resume_completes_exactly_once(ray_session, tmp_path: Path
                                                                 ) -> None:
    """SIGTERM to the driver: exit 143 with one line, no native abort, its sweep run KILLED, no
    claim left; meanwhile every Ray listener it started was on loopback; resume finishes."""
    spec = write_spec(tmp_path, duration_us=100_000.0)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    log = tmp_path / "driver.log"
    with driver(sweep_cmd(spec, uri, tmp_path / "out"), log) as proc:
        wait_until(lambda: n_finished(uri, spec) >= 1 or proc.poll() is not None, 300,
                   "a finished cell")
        assert proc.poll() is None, stderr_of(log)[-3000:]
        ray_procs = session_processes(proc.pid, 0.0)
        socks = listening_addresses([p.pid for p in ray_procs])
        names = {p.pid: p.name() for p in ray_procs}
        os.kill(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=120)
    err = stderr_of(log)
    assert rc == 143, err[-3000:]
    assert "interrupted (SIGTERM)" in err and "--resume" in err, err[-3000:]
    assert "Traceback" not in err and "*** SIG" not in err and "core dumped" not in err, err[-3000:]
    assert any(names[pid] in ("gcs_server", "raylet") for pid, _, _ in socks), socks
    exposed = [(names.get(pid), ip, port) for pid, ip, port in socks
               if ip not in LOOPBACK_IPS and names.get(pid) not in ALLOWED_NON_LOOPBACK]
    assert not exposed, exposed
    sweeps = runs(uri, spec, "sweep")
    assert [r.info.status for r in sweeps] == ["KILLED"]
    assert not active_claims(uri)  # released by the driver: a resume need not wait for leases
    done_before = finished_per_cell(uri, spec)
    assert 1 <= len(done_before) < 6

    summary = run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                        make_report=False)
    assert summary.skipped == len(done_before) and summary.missing == 0
    assert_exactly_once(uri, spec)


def test_sigint_marks_the_sweep_killed_not_failed(ray_session, tmp_path: Path) -> None:
    """Ctrl-C in a Python session: SweepInterrupted (exit code 130), sweep run KILLED, no claim
    and no RUNNING cell run left; a rerun finishes the rest exactly once."""
    from soclab.interrupts import STATE, SweepInterrupted

    spec = write_spec(tmp_path, duration_us=150_000.0)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def interrupt() -> None:
        wait_until(lambda: n_finished(uri, spec) >= 1, 300, "a finished cell")
        if STATE.active:  # the sweep's handler is in place (never hit pytest with a bare SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(SweepInterrupted) as e:
        run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                  make_report=False)
    assert e.value.exit_code == 130
    assert [r.info.status for r in runs(uri, spec, "sweep")] == ["KILLED"]
    assert not active_claims(uri)
    assert not [r for r in runs(uri, spec, "cell") if r.info.status == "RUNNING"]
    run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
              make_report=False)
    assert_exactly_once(uri, spec)


def test_sigkill_leaves_stale_runs_that_resume_closes_and_takes_over(ray_session, tmp_path: Path,
                                                                     monkeypatch) -> None:
    """SIGKILL of the driver and its Ray: its sweep run stays RUNNING and its in-flight claim
    active; the resume closes the run as KILLED, takes the claim over once its lease expired,
    and finishes every cell exactly once."""
    spec = write_spec(tmp_path, duration_us=100_000.0)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lease = "4"
    with driver(sweep_cmd(spec, uri, tmp_path / "out"), tmp_path / "driver.log",
                driver_env(**{LEASE_ENV: lease})) as proc:
        wait_until(lambda: n_finished(uri, spec) >= 1 or proc.poll() is not None, 300,
                   "a finished cell")
        wait_until(lambda: active_claims(uri) or proc.poll() is not None, 60, "a claimed cell")
        assert proc.poll() is None, stderr_of(tmp_path / "driver.log")[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    [stale] = runs(uri, spec, "sweep")
    assert stale.info.status == "RUNNING"
    assert active_claims(uri), "the killed worker's claim should still be there"

    monkeypatch.setenv(LEASE_ENV, lease)
    t0 = time.monotonic()
    summary = run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                        make_report=False)
    assert summary.missing == 0 and summary.failed == 0
    assert time.monotonic() - t0 < 300
    assert_exactly_once(uri, spec)
    old = client(uri).get_run(stale.info.run_id)
    assert old.info.status == "KILLED" and "heartbeat" in old.data.tags[CLOSED_TAG]


# ------------------------------------------------------------------------- the store
@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files/directories unwritable, also for root (immutable attribute), and undo it."""
    root = os.geteuid() == 0
    if root and shutil.which("chattr") is None:
        pytest.fail("running as root needs `chattr` to make the store read-only")
    modes = {p: p.stat().st_mode for p in paths}
    try:
        if root:
            done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                pytest.fail(f"as root, a read-only store needs the immutable attribute, which "
                            f"this filesystem refuses ({done.stderr.strip()}): run the tests as "
                            "a normal user or with --basetemp on ext4/xfs")
        else:
            for p in paths:
                p.chmod(0o555 if p.is_dir() else 0o444)
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=False)
        for p, m in modes.items():
            p.chmod(m)


def test_store_turning_read_only_mid_sweep_stops_with_one_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, duration_us=100_000.0)
    store = tmp_path / "store"
    store.mkdir()
    db = store / "mlflow.db"
    uri = f"sqlite:///{db}"
    log = tmp_path / "driver.log"
    with driver(sweep_cmd(spec, uri, tmp_path / "out"), log) as proc:
        wait_until(lambda: n_finished(uri, spec) >= 1 or proc.poll() is not None, 300,
                   "a finished cell")
        assert proc.poll() is None, stderr_of(log)[-3000:]
        with read_only(db, store):
            t0 = time.monotonic()
            rc = proc.wait(timeout=180)
            took = time.monotonic() - t0
    err = stderr_of(log)
    assert rc == 2, err[-3000:]
    line = one_error_line(err)
    assert "tracking store" in line and ("read-only" in line or "not writable" in line), line
    assert "--resume" in line
    assert took < 120, took  # stops within seconds (generous: a loaded 2-core machine), no retry storm
    n = n_finished(uri, spec)
    assert 1 <= n < 6


def test_unreachable_tracking_server_fails_fast_with_one_line(tmp_path: Path) -> None:
    from soclab.cluster import free_ports

    spec = write_spec(tmp_path)
    uri = f"http://127.0.0.1:{free_ports(1)[0]}"
    t0 = time.monotonic()
    out = subprocess.run(sweep_cmd(spec, uri, tmp_path / "out"), env=driver_env(),
                         capture_output=True, text=True, timeout=120, check=False)
    took = time.monotonic() - t0
    assert out.returncode == 2, out.stderr[-3000:]
    line = one_error_line(out.stderr)
    assert uri in line and "unreachable" in line, line
    assert took < 60, took  # seconds (interpreter start-up included), not MLflow's retry minutes
    assert not (tmp_path / "out").exists()


def test_read_only_store_is_refused_before_any_work(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    with read_only(store):
        out = subprocess.run(sweep_cmd(spec, uri, tmp_path / "out"), env=driver_env(),
                             capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stderr[-3000:]
    line = one_error_line(out.stderr)
    assert "read-only" in line and "nothing was run" in line, line
    assert not (store / "mlflow.db").exists()
