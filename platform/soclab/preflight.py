"""Checks before a sweep starts work, and telling a dead tracking store from a broken cell.

`check_tracking_store` answers within seconds whether the store can be written (a SQLite file in
a writable place, a PostgreSQL server that accepts a connection, an MLflow server whose
`/health` answers), and `check_ray_address` whether a Ray cluster listens at `--address`, so
neither a typo nor a stopped server costs MLflow's retry storm (7 retries with exponential
backoff and a 120 s timeout per request by default, inside soclab's own retries). MLflow's HTTP
retry settings get short defaults here (a user's own values win). During a sweep,
`store_failure` recognises errors that no retry will cure (a read-only or unreachable store), so
the sweep stops with one line instead of failing every remaining cell.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from pathlib import Path

from dssoc.errors import ConfigError, DssocError

#: MLflow HTTP client settings soclab uses unless the user set them (see module docstring).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
TIMEOUT_S = 5.0

_FAILURES = (
    ("read-only", ("readonly database", "read-only", "read only file system",
                   "attempt to write a readonly")),
    ("disk full", ("database or disk is full", "no space left")),
    ("not writable", ("unable to open database file",)),
    ("unreachable", ("connection refused", "max retries exceeded", "failed to establish",
                     "name or service not known", "could not connect to server",
                     "connection reset", "remote end closed", "server closed the connection",
                     "temporary failure in name resolution")),
)


class StoreUnavailable(DssocError):
    """The tracking store cannot be written or reached; the sweep stops (exit 2)."""

    def __init__(self, uri: str, reason: str, during_sweep: bool = True) -> None:
        self.uri, self.reason = uri, reason
        tail = ("; the sweep stopped (finished cells are kept: fix the store, then rerun with "
                "--resume)") if during_sweep else "; nothing was run"
        super().__init__(f"tracking store {redact(uri)}: {reason}{tail}")


def redact(uri: str) -> str:
    """A URI without its password."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", uri)


def configure_mlflow_http() -> None:
    """Short MLflow HTTP retries/timeouts for this process and the Ray workers it starts; and
    no traceback in the log for each SQL error MLflow raises anyway (soclab handles the raised
    error: a retry, or one line naming the store)."""
    for k, v in HTTP_DEFAULTS.items():
        os.environ.setdefault(k, v)
    import logging

    db_log = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _RaisedAnyway) for f in db_log.filters):
        db_log.addFilter(_RaisedAnyway())


class _RaisedAnyway:
    """Drops MLflow's 'SQLAlchemy database error' log records: the error is raised right after."""

    def filter(self, record: object) -> bool:
        return not str(getattr(record, "msg", "")).startswith("SQLAlchemy database error")


def store_failure(exc: BaseException) -> str | None:
    """'read-only', 'unreachable' or 'disk full' (plus the error's first line) if `exc` says the
    store itself is unusable; None for anything else (a cell's own error, a transient lock)."""
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    for kind, needles in _FAILURES:
        if any(n in low for n in needles):
            first = text.strip().splitlines()[0] if text.strip() else kind
            return f"{kind} ({first[:240]})"
    return None


def raise_if_store_failure(exc: BaseException, uri: str) -> None:
    """Raise StoreUnavailable (from None) if `exc` says the store at `uri` is unusable; a cell's
    own errors return, for the caller to handle."""
    reason = store_failure(exc)
    if reason:
        raise StoreUnavailable(uri, reason) from None


def _sqlite_path(uri: str) -> Path:
    return Path(uri[len("sqlite:///"):])


def check_tracking_store(uri: str, timeout: float = TIMEOUT_S) -> None:
    """Raise StoreUnavailable unless the store at `uri` can be reached and written now."""
    configure_mlflow_http()
    try:
        _check_store(uri, timeout)
    except StoreUnavailable as e:
        raise StoreUnavailable(uri, e.reason, during_sweep=False) from None


def _check_store(uri: str, timeout: float) -> None:
    if uri.startswith("sqlite:///"):
        _check_sqlite(uri, _sqlite_path(uri), timeout)
    elif uri.startswith(("http://", "https://")):
        _check_http(uri, timeout)
    elif uri.startswith(("postgresql", "mysql", "mssql")):
        _check_database(uri, timeout)
    elif uri.startswith("file:") or "://" not in uri:
        root = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
        probe = root if root.exists() else root.parent
        if not os.access(probe, os.W_OK):
            raise StoreUnavailable(uri, f"{probe} is not writable")


def _check_sqlite(uri: str, db: Path, timeout: float) -> None:
    parent = db.parent
    if not parent.is_dir():
        raise StoreUnavailable(uri, f"directory {parent} does not exist")
    if db.exists():
        if not os.access(db, os.R_OK | os.W_OK):
            raise StoreUnavailable(uri, f"read-only ({db} is not writable)")
        if not os.access(parent, os.W_OK):  # SQLite writes its journal beside the file
            raise StoreUnavailable(uri, f"read-only (directory {parent} is not writable)")
        try:  # a write transaction that changes nothing: fails on a read-only database/mount
            con = sqlite3.connect(str(db), timeout=timeout)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
            finally:
                con.close()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower():
                raise StoreUnavailable(uri, store_failure(e) or str(e)) from None
    elif not os.access(parent, os.W_OK):
        raise StoreUnavailable(uri, f"read-only (cannot create {db}: directory not writable)")


def _check_http(uri: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    url = uri.rstrip("/")
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            if resp.status != 200:
                raise StoreUnavailable(uri, f"GET /health answered {resp.status}")
    except urllib.error.HTTPError as e:
        raise StoreUnavailable(uri, f"GET /health answered {e.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise StoreUnavailable(uri, f"unreachable within {timeout:g} s ({reason}); is the "
                               "tracking server running (soclab tracking-server)?") from None


def _check_database(uri: str, timeout: float) -> None:
    import sqlalchemy

    from soclab.tracking_server import normalize_backend_uri

    args = {"connect_timeout": int(max(1, timeout))} if uri.startswith("postgres") else {}
    try:
        engine = sqlalchemy.create_engine(normalize_backend_uri(uri, Path.cwd()), connect_args=args)
        try:
            with engine.connect() as con:
                con.execute(sqlalchemy.text("SELECT 1"))
                if uri.startswith("postgres"):
                    ro = con.execute(sqlalchemy.text("SHOW transaction_read_only")).scalar()
                    if str(ro).lower() == "on":
                        raise StoreUnavailable(uri, "read-only (transaction_read_only is on)")
        finally:
            engine.dispose()
    except StoreUnavailable:
        raise
    except Exception as e:
        raise StoreUnavailable(uri, store_failure(e) or f"cannot connect ({str(e).splitlines()[0]})"
                               ) from None


def parse_ray_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a GCS or Ray-client address; None for 'auto'/'local'."""
    if address in ("auto", "local"):
        return None
    text = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"expected HOST:PORT or ray://HOST:PORT, got {address!r}", "--address")
    return host.strip("[]"), int(port)


def check_ray_address(address: str | None, timeout: float = TIMEOUT_S) -> None:
    """Raise ConfigError unless something accepts connections at the Ray address."""
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        return
    target = parse_ray_address(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as e:
        raise ConfigError(f"no Ray cluster answers at {address} within {timeout:g} s "
                          f"({e.strerror or e}); start one (`soclab cluster local`) or fix the "
                          "address", "--address") from None
