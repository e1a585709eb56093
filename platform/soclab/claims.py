"""Exactly-once cells across concurrent and crashed drivers: claims (leases) in the tracking store,
heartbeats of running sweeps, and closing what a dead driver left RUNNING.

A cell is *claimed* before it runs. The claim is an MLflow experiment with a unique name,
`.soclab-claims/<experiment id>/<cell hash>/<generation>`: experiment names are unique in every
MLflow store (a unique constraint in SQLite and PostgreSQL, enforced by the server behind an
`http://` URI), so creating one is an atomic test-and-set that needs no access to the database
behind a tracking server and no table of our own. Of two drivers creating the same name, exactly
one succeeds. The holder refreshes a heartbeat tag on its claim; a claim whose heartbeat is older
than its lease belongs to a dead (or hopelessly stalled) process and is taken over by creating the
next generation, which again only one contender can do. Releasing a claim deletes the experiment
(soft delete: the name stays taken, so a released generation can never be claimed twice).

Before a cell's run is marked FINISHED its holder checks that no newer generation exists, and a
new holder re-checks for a FINISHED run after claiming: together with the lease this makes a
cell finish once even when two drivers race for it. Clocks of the machines involved must agree
to well within a lease (NTP); the lease is `SOCLAB_CLAIM_LEASE_S` seconds (default 60).

Sweep (parent) runs get the same heartbeat as a tag; a RUNNING parent whose heartbeat is stale,
and a RUNNING cell run whose cell has no live claim, are closed as KILLED by the next sweep.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soclab.tracking import CELL_KIND, SWEEP_KIND, Tracker, with_retry

LEASE_ENV = "SOCLAB_CLAIM_LEASE_S"
DEFAULT_LEASE_S = 60.0
CLAIM_PREFIX = ".soclab-claims"
HEARTBEAT_TAG = "soclab.heartbeat"
LEASE_TAG = "soclab.lease_s"
SWEEP_TAG = "soclab.claim.sweep"
OWNER_TAG = "soclab.claim.owner"
CLOSED_TAG = "soclab.closed_by"


def lease_s() -> float:
    """The lease of claims and sweep heartbeats, from `SOCLAB_CLAIM_LEASE_S` (>= 2 s)."""
    try:
        value = float(os.environ.get(LEASE_ENV, DEFAULT_LEASE_S))
    except ValueError:
        value = DEFAULT_LEASE_S
    return max(2.0, value) if value == value else DEFAULT_LEASE_S


def heartbeat_interval_s(lease: float | None = None) -> float:
    """How often a holder refreshes its heartbeat: four beats per lease, at most every 5 s."""
    return min(5.0, (lease or lease_s()) / 4)


def owner_id() -> str:
    """HOST:PID:START of this process (the start time tells a reused pid apart)."""
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.2f}"


def owner_alive(owner: str) -> bool | None:
    """Whether the process named by `owner_id()` still runs; None when it is on another host
    (then only its heartbeat can tell)."""
    import psutil

    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        p = psutil.Process(int(pid))
        return not start or abs(p.create_time() - float(start)) < 0.05
    except (psutil.Error, ValueError):
        return False


def _fresh(tags: dict[str, str], fallback_ms: int | None, now: float) -> bool:
    """Whether the holder is alive: its heartbeat (tag, else the start time) is younger than its
    lease and, when it ran on this host, its process still exists (no need to wait out the
    lease of a process known to be dead)."""
    try:
        beat = float(tags[HEARTBEAT_TAG])
    except (KeyError, ValueError):
        beat = (fallback_ms or 0) / 1000
    try:
        lease = float(tags.get(LEASE_TAG, lease_s()))
    except ValueError:
        lease = lease_s()
    return now - beat < lease and owner_alive(tags.get(OWNER_TAG, "")) is not False


class Heartbeat:
    """A daemon thread calling `beat()` every `interval` s; `on_failure(exc)` after each error.
    Stopped by `stop()` (joins), also as a context manager."""

    def __init__(self, beat: Callable[[], None], interval: float,
                 on_failure: Callable[[BaseException], None] | None = None, name: str = "heartbeat"):
        self._beat, self._interval, self._on_failure = beat, interval, on_failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception as e:  # reported, never fatal to the thread
                if self._on_failure is not None:
                    self._on_failure(e)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 15)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------- cell claims
@dataclass
class ClaimState:
    """The newest generation of a cell's claim as the store shows it."""

    generation: int  # -1: never claimed
    experiment_id: str | None
    active: bool
    fresh: bool
    sweep: str = ""

    @property
    def held(self) -> bool:
        """Held by a live process (active and heartbeat within the lease)."""
        return self.active and self.fresh


def _claim_base(tracker: Tracker, cell_hash: str) -> str:
    return f"{CLAIM_PREFIX}/{tracker.experiment_id}/{cell_hash}/"


def claim_state(tracker: Tracker, cell_hash: str) -> ClaimState:
    """The newest claim generation of a cell (active or released)."""
    from mlflow.entities import ViewType

    base = _claim_base(tracker, cell_hash)
    exps = with_retry(lambda: tracker.client.search_experiments(
        view_type=ViewType.ALL, filter_string=f"name LIKE '{base}%'", max_results=1000))
    newest: Any = None
    gen = -1
    for e in exps:
        try:
            g = int(e.name[len(base):])
        except ValueError:
            continue
        if g > gen:
            gen, newest = g, e
    if newest is None:
        return ClaimState(-1, None, False, False)
    active = newest.lifecycle_stage == "active"
    fresh = _fresh(newest.tags, newest.creation_time, time.time())
    return ClaimState(gen, newest.experiment_id, active, fresh, newest.tags.get(SWEEP_TAG, ""))


class Claim:
    """This process's claim on one cell: a heartbeat while held, `still_held()` before the cell's
    run is marked FINISHED, `release()` when done (also on failure)."""

    def __init__(self, tracker: Tracker, cell_hash: str, generation: int, experiment_id: str,
                 lease: float) -> None:
        self.tracker, self.cell_hash = tracker, cell_hash
        self.generation, self.experiment_id, self.lease = generation, experiment_id, lease
        self._heartbeat = Heartbeat(self._beat, heartbeat_interval_s(lease),
                                    name=f"claim-{cell_hash}").start()

    def _beat(self) -> None:
        self.tracker.client.set_experiment_tag(self.experiment_id, HEARTBEAT_TAG, f"{time.time():.3f}")

    def still_held(self) -> bool:
        """No other process has taken the cell over (its lease would have had to expire)."""
        state = claim_state(self.tracker, self.cell_hash)
        return state.generation == self.generation and state.active

    def release(self) -> None:
        self._heartbeat.stop()
        with contextlib.suppress(Exception):  # a dead store: the lease expires instead
            with_retry(lambda: self.tracker.client.delete_experiment(self.experiment_id), attempts=3)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def try_claim(tracker: Tracker, cell_hash: str, sweep_run_id: str | None) -> Claim | None:
    """Claim a cell unless a live process holds it; None if it is held elsewhere."""
    from mlflow.exceptions import MlflowException

    from soclab.tracking import artifact_root_for

    lease = lease_s()
    for _ in range(20):  # each lost race means someone else advanced the generation
        state = claim_state(tracker, cell_hash)
        if state.held:
            return None
        gen = state.generation + 1
        name = f"{_claim_base(tracker, cell_hash)}{gen:06d}"
        tags = {HEARTBEAT_TAG: f"{time.time():.3f}", LEASE_TAG: f"{lease:g}",
                SWEEP_TAG: sweep_run_id or "", OWNER_TAG: owner_id(),
                "mlflow.note.content": "soclab claim of a running cell (deleted when released)"}
        try:
            exp_id = with_retry(lambda name=name, tags=tags: tracker.client.create_experiment(
                name, artifact_location=artifact_root_for(tracker.uri), tags=tags))
        except MlflowException as e:
            if "RESOURCE_ALREADY_EXISTS" in str(e.error_code) or "already exists" in str(e):
                continue
            raise
        if state.active and state.experiment_id:  # taken over from a dead holder: retire its claim
            with contextlib.suppress(Exception):
                tracker.client.delete_experiment(state.experiment_id)
        return Claim(tracker, cell_hash, gen, exp_id, lease)
    return None


def _active_claims(tracker: Tracker) -> list[Any]:
    base = f"{CLAIM_PREFIX}/{tracker.experiment_id}/"
    return list(with_retry(lambda: tracker.client.search_experiments(
        filter_string=f"name LIKE '{base}%'", max_results=10_000)))


def _delete_claims(tracker: Tracker, exps: list[Any]) -> int:
    n = 0
    for e in exps:
        with contextlib.suppress(Exception):
            tracker.client.delete_experiment(e.experiment_id)
            n += 1
    return n


def release_sweep_claims(tracker: Tracker, sweep_run_id: str) -> int:
    """Release every active claim a sweep's workers still hold (after its workers stopped, e.g.
    on Ctrl-C), so a resume need not wait for their leases. Returns how many were released."""
    return _delete_claims(tracker, [e for e in _active_claims(tracker)
                                    if e.tags.get(SWEEP_TAG) == sweep_run_id])


# ------------------------------------------------------------------------- run status
def close_runs(tracker: Tracker, runs: list[Any], reason: str, status: str = "KILLED") -> int:
    """Mark runs terminated (KILLED by default) with a tag saying why."""
    for r in runs:
        with_retry(lambda r=r: tracker.client.set_tag(r.info.run_id, CLOSED_TAG, reason))
        with_retry(lambda r=r: tracker.client.set_terminated(r.info.run_id, status))
    return len(runs)


def running_runs(tracker: Tracker, kind: str, extra: str = "") -> list[Any]:
    flt = f"tags.`soclab.kind` = '{kind}' and attributes.status = 'RUNNING'{extra}"
    return list(with_retry(lambda: tracker.client.search_runs(
        [tracker.experiment_id], filter_string=flt, max_results=10_000)))


def close_stale_cell_runs(tracker: Tracker, cell_hash: str) -> int:
    """RUNNING runs of a cell this process has just claimed: their writer is gone."""
    stale = running_runs(tracker, CELL_KIND, f" and tags.`soclab.cell_hash` = '{cell_hash}'")
    return close_runs(tracker, stale, "its driver or worker died while logging it")


def reap_stale_runs(tracker: Tracker, exclude: str | None = None) -> dict[str, int]:
    """Close (KILLED) what dead drivers left RUNNING: sweep runs whose heartbeat is older than
    their lease, and cell runs whose cell has no live claim. Live concurrent sweeps keep theirs."""
    now = time.time()
    parents = [r for r in running_runs(tracker, SWEEP_KIND)
               if r.info.run_id != exclude and not _fresh(r.data.tags, r.info.start_time, now)]
    cells = [r for r in running_runs(tracker, CELL_KIND)
             if not claim_state(tracker, r.data.tags.get("soclab.cell_hash", "")).held]
    dead_claims = [e for e in _active_claims(tracker)
                   if not _fresh(e.tags, e.creation_time, now)]
    gone = "its driver is gone (process ended, or no heartbeat within the lease)"
    return {"sweeps": close_runs(tracker, parents, gone),
            "cells": close_runs(tracker, cells, "no live claim: its driver or worker died"),
            "claims": _delete_claims(tracker, dead_claims)}


def close_sweep_leftovers(tracker: Tracker, sweep_run_id: str) -> None:
    """After a sweep's trials stopped (normally or on a signal): release claims its workers still
    hold and close its cell runs left RUNNING, so a resume starts at once."""
    release_sweep_claims(tracker, sweep_run_id)
    mine = running_runs(tracker, CELL_KIND, f" and tags.`mlflow.parentRunId` = '{sweep_run_id}'")
    close_runs(tracker, mine, "its sweep was stopped while the cell was being logged")


def beat_run(tracker: Tracker, run_id: str) -> None:
    """One heartbeat of a sweep run: a single store write, no retries (a failing store must be
    noticed within seconds, not after the retry budget)."""
    tracker.client.set_tag(run_id, HEARTBEAT_TAG, f"{time.time():.3f}")


def mark_heartbeat_tags(lease: float | None = None) -> dict[str, str]:
    """Tags a new sweep run starts with, so a stale one can be told from a live one."""
    return {HEARTBEAT_TAG: f"{time.time():.3f}", LEASE_TAG: f"{lease or lease_s():g}",
            OWNER_TAG: owner_id()}
