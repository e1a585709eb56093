"""Claims, preflight checks and private files, without Ray: the building blocks of sweep integrity
(tests/soclab/test_sweep_integrity.py runs them end to end with real drivers)."""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from soclab import claims
from soclab.preflight import (
    StoreUnavailable,
    check_ray_address,
    check_tracking_store,
    store_failure,
)
from soclab.tracking import Tracker


def _contend(uri: str, start_at: float, q: mp.Queue, done) -> None:  # type: ignore[no-untyped-def]
    tracker = Tracker(uri, "claims")
    time.sleep(max(0.0, start_at - time.time()))
    claim = claims.try_claim(tracker, "cellhash", "sweep-x")
    q.put(None if claim is None else claim.generation)
    if claim is not None:
        done.wait(120)  # hold it (heartbeating) until every contender has tried
        claim.release()


def test_one_claim_wins_among_concurrent_processes(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri, "claims")
    ctx = mp.get_context("spawn")
    q, done = ctx.Queue(), ctx.Event()
    start_at = time.time() + 5.0  # most processes have imported MLflow by then: a real race
    procs = [ctx.Process(target=_contend, args=(uri, start_at, q, done)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        results = [q.get(timeout=180) for _ in procs]
    finally:
        done.set()
        for p in procs:
            p.join(timeout=60)
    assert sorted(results, key=str) == [0, None, None, None], results


def test_expired_claim_is_taken_over_and_the_old_holder_knows(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(claims.LEASE_ENV, "2")
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "claims")
    first = claims.try_claim(tracker, "h1", "sweep-a")
    assert first is not None and first.still_held()
    assert claims.try_claim(tracker, "h1", "sweep-b") is None  # held and fresh
    first._heartbeat.stop()  # the holder "dies": no more heartbeats, no release
    time.sleep(2.3)
    second = claims.try_claim(tracker, "h1", "sweep-b")
    assert second is not None and second.generation == first.generation + 1
    assert not first.still_held() and second.still_held()
    second.release()
    third = claims.try_claim(tracker, "h1", "sweep-c")  # released: free again, next generation
    assert third is not None and third.generation == second.generation + 1
    third.release()
    assert claims.claim_state(tracker, "h1").held is False


def test_stale_runs_are_closed_killed_live_ones_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(claims.LEASE_ENV, "2")
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "claims")
    dead = tracker.start_run("sweep dead", {"soclab.kind": "sweep", **claims.mark_heartbeat_tags()})
    orphan = tracker.start_run("cell", {"soclab.kind": "cell", "soclab.cell_hash": "h2"}, dead)
    time.sleep(2.3)
    live = tracker.start_run("sweep live", {"soclab.kind": "sweep", **claims.mark_heartbeat_tags()})
    held = claims.try_claim(tracker, "h3", live)
    busy = tracker.start_run("cell", {"soclab.kind": "cell", "soclab.cell_hash": "h3"}, live)
    assert claims.reap_stale_runs(tracker) == {"sweeps": 1, "cells": 1, "claims": 0}
    status = {r: tracker.client.get_run(r).info.status for r in (dead, orphan, live, busy)}
    assert status == {dead: "KILLED", orphan: "KILLED", live: "RUNNING", busy: "RUNNING"}
    assert "heartbeat" in tracker.client.get_run(dead).data.tags[claims.CLOSED_TAG]
    held.release()


def test_fresh_sqlite_store_initialised_by_many_processes_at_once(tmp_path: Path) -> None:
    """MLflow's table creation raced ('table experiments already exists'); now serialised."""
    import subprocess
    import sys

    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = f"from soclab.tracking import Tracker; Tracker({uri!r}, 'e'); print('OK')"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e[-2000:] for _, e in outs]
    assert all(o.strip().endswith("OK") for o, _ in outs)


# ------------------------------------------------------------------------- preflight
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_store_failures_are_told_from_cell_errors() -> None:
    assert store_failure(Exception("(sqlite3.OperationalError) attempt to write a readonly database"))
    assert "unreachable" in store_failure(ConnectionError(
        "HTTPConnectionPool(host='x', port=1): Max retries exceeded (Connection refused)"))
    assert "read-only" in store_failure(Exception(
        "psycopg2.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction"))
    assert store_failure(ValueError("rate must be > 0")) is None
    assert store_failure(Exception("database is locked")) is None  # transient: retried instead


def test_store_failing_while_a_cell_is_claimed_raises_store_unavailable(
        tmp_path: Path, monkeypatch) -> None:
    """A read-only store met by the claim itself (before any attempt) is a store failure too,
    not a cell error escaping as the raw MLflow exception (CI once saw Tune print its traceback)."""
    from mlflow.exceptions import MlflowException

    from soclab.cellrun import execute_cell
    from soclab.cells import plan_cells
    from soclab.spec import load_spec
    from tests.conftest import REPO

    def read_only_store(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MlflowException("(sqlite3.OperationalError) unable to open database file")

    monkeypatch.setattr(claims, "try_claim", read_only_store)
    cell = plan_cells(load_spec(REPO / "experiments" / "quickstart.yaml"))[0]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(StoreUnavailable, match="not writable") as e:
        execute_cell(cell, Tracker(uri, "claims"), None)
    assert e.value.uri == uri


def test_preflight_of_tracking_uris(tmp_path: Path) -> None:
    check_tracking_store(f"sqlite:///{tmp_path / 'ok.db'}")  # creatable: fine
    with pytest.raises(StoreUnavailable, match="does not exist"):
        check_tracking_store(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable") as e:
        check_tracking_store(f"http://127.0.0.1:{_free_port()}")
    assert time.monotonic() - t0 < 10 and "nothing was run" in str(e.value)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]  # short MLflow retries set for workers


def test_preflight_of_ray_addresses() -> None:
    t0 = time.monotonic()
    with pytest.raises(Exception, match=r"no Ray cluster answers at 127\.0\.0\.1"):
        check_ray_address(f"127.0.0.1:{_free_port()}")
    assert time.monotonic() - t0 < 10
    with pytest.raises(Exception, match="HOST:PORT"):
        check_ray_address("nonsense")
    check_ray_address("auto")  # resolved by Ray itself
    with socket.socket() as s:  # something listening: accepted
        s.bind(("127.0.0.1", 0))
        s.listen()
        check_ray_address(f"127.0.0.1:{s.getsockname()[1]}")


# ------------------------------------------------------------------------- private files
def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_state_dir_and_credential_files_are_private(tmp_path: Path, monkeypatch) -> None:
    from soclab import private
    from soclab.cluster import ClusterState
    from soclab.tracking_server import TrackingServer, write_pid_file

    home = tmp_path / "home" / ".soclab"
    monkeypatch.setattr(private, "STATE_ROOT", home)
    pid_file = write_pid_file(TrackingServer("http://127.0.0.1:5", "127.0.0.1", 5,
                                             "postgresql://u:secret@db/x", "/a", 1, "/l", 0.0),
                              home / "tracking-server-5.json")
    assert _mode(home) == 0o700 and _mode(pid_file) == 0o600
    state = ClusterState(str(home / "cluster"), "127.0.0.1:1", str(home / "cluster" / "auth_token"),
                         "/tmp/x", 0.0, tracking={"url": "http://127.0.0.1:5",
                                                  "backend_store_uri": "postgresql://u:pw@h/d"})
    state.save()
    assert _mode(home / "cluster") == 0o700
    assert _mode(home / "cluster" / "state.json") == 0o600
    assert _mode(home / "cluster" / "env.sh") == 0o600
    home.chmod(0o755)  # an old, too open state dir is tightened on the next write
    private.write_private(home / "x.json", "{}")
    assert _mode(home) == 0o700
