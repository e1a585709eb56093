"""Processes this user started: finding a session's processes and stopping exactly them.

Shared by `soclab cluster` (Ray nodes) and `soclab tracking-server` (the MLflow server's
session), so neither imports the other. Never a bare `ray stop` or a kill by name.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path
from typing import Any


def _ours(p: Any) -> bool:
    try:
        return p.uids().real == os.getuid()
    except Exception:
        return False


def _alive(p: Any) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def session_processes(sid: int, since: float, marker: str | None = None) -> list[Any]:
    """Live processes of session `sid` created after `since` (guards against pid reuse), plus
    processes whose command line names `marker` (a node's own temp dir), plus all descendants.
    Only this user's processes are considered."""
    import psutil

    found: dict[int, Any] = {}
    for p in psutil.process_iter(["pid", "create_time", "cmdline"]):
        try:
            if p.pid == os.getpid() or not _ours(p):
                continue
            in_session = os.getsid(p.pid) == sid and p.info["create_time"] >= since - 2.0
            named = bool(marker) and any(_names_path(c, marker) for c in (p.info["cmdline"] or []))
            if in_session or named:
                found[p.pid] = p
        except (psutil.Error, OSError):
            continue
    for p in list(found.values()):
        try:
            for c in p.children(recursive=True):
                found.setdefault(c.pid, c)
        except psutil.Error:
            continue
    return [p for p in found.values() if _alive(p)]


def _names_path(arg: str, path: str) -> bool:
    """Whether a command-line argument names `path` or something under it (not a sibling that
    merely shares the prefix, e.g. /tmp/x-1 for /tmp/x)."""
    path = path.rstrip("/")
    return arg == path or arg.endswith(("=" + path, ":" + path)) or (path + "/") in arg


def _wait_gone(procs: list[Any], timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(p)]
    return alive


def _signal_all(procs: list[Any], sig: int) -> None:
    import psutil

    for p in procs:
        with suppress(psutil.Error):
            p.send_signal(sig)


def stop_processes(procs: list[Any], grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """`sig` to all at once, SIGKILL to whatever still runs after `grace` seconds."""
    _signal_all(procs, sig)
    stubborn = _wait_gone(procs, grace if sig != signal.SIGKILL else 2.0)
    _signal_all(stubborn, signal.SIGKILL)
    _wait_gone(stubborn, 5.0)


def stop_session(sid: int, since: float, marker: str | None = None, grace: float = 5.0,
                 sig: int = signal.SIGTERM) -> int:
    """Stop every process of a session we started (plus marker matches and descendants): `sig`,
    then SIGKILL after `grace` s; a second pass catches processes spawned meanwhile. Returns
    how many processes were signalled."""
    procs = session_processes(sid, since, marker)
    stop_processes(procs, grace, sig)
    late = session_processes(sid, since, marker)
    stop_processes(late, 0.0, signal.SIGKILL)
    return len({p.pid for p in procs} | {p.pid for p in late})


def tail_log(path: str | Path, lines: int = 12) -> str:
    """The last `lines` lines of a log, joined on one line (for one-line error messages)."""
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
