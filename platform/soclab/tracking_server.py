"""`soclab tracking-server`: a shared MLflow tracking server for multi-process and multi-node sweeps.

A local SQLite file works for one process on one machine; a sweep on a cluster needs every Tune
worker, on every node, to log to one place. This starts `mlflow server` with a database backend
(SQLite for one machine, PostgreSQL for a team or a cluster) and proxied artifacts
(`--serve-artifacts`, so nodes upload through the server and need no shared disk for artifacts),
bound to loopback unless told otherwise, waits until it answers, and prints the URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from dssoc.errors import ConfigError
from soclab.processes import tail_log

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class TrackingServer:
    """A running (or just started) MLflow server; `pid` leads its own session (process group)."""

    url: str
    host: str
    port: int
    backend_store_uri: str
    artifacts_destination: str
    pid: int
    log: str
    started_at: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_file(cls, path: str | Path) -> TrackingServer:
        return cls(**json.loads(Path(path).read_text()))


def normalize_backend_uri(uri: str | None, workdir: Path) -> str:
    """A SQLAlchemy URI for the server's store: SQLite paths made absolute, PostgreSQL as given."""
    if not uri:
        return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{Path(uri[len('sqlite:///'):]).resolve()}"
    if "://" not in uri:
        return f"sqlite:///{Path(uri).resolve()}"
    if uri.startswith(("postgresql://", "postgres://")):
        return _with_pg_driver(uri)
    if uri.startswith(("postgresql", "mysql", "mssql", "sqlite")):
        return uri
    raise ConfigError(f"unsupported backend store {uri!r}: use sqlite:///ABS/PATH.db or "
                      "postgresql://USER:PASSWORD@HOST:PORT/DB", "--backend-store-uri")


def _with_pg_driver(uri: str) -> str:
    """SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; use psycopg2 when only it is here
    (the dev extra installs psycopg2-binary)."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + uri.split("://", 1)[1]
    return uri


def normalize_artifacts(dest: str | Path | None, workdir: Path) -> str:
    """Artifact destination: a URI (s3://, gs://, file://) as given, a path made absolute."""
    if dest is None:
        return str((workdir / "mlartifacts").resolve())
    text = str(dest)
    if "://" in text:
        return text
    return str(Path(text).resolve())


def server_command(host: str, port: int, backend_store_uri: str, artifacts_destination: str,
                   workers: int = 1, allowed_hosts: str | None = None) -> list[str]:
    """The `mlflow server` command line (run with this interpreter's mlflow)."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
           "--backend-store-uri", backend_store_uri, "--serve-artifacts",
           "--artifacts-destination", artifacts_destination, "--workers", str(workers)]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    return cmd


def url_for(host: str, port: int) -> str:
    """The URL clients use: a wildcard bind is reached through this machine's address."""
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.gethostbyname(socket.gethostname())
    return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True if an MLflow server answers `GET /health` at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_in_use(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def start_tracking_server(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    backend_store_uri: str | None = None,
    artifacts_destination: str | Path | None = None,
    workdir: str | Path | None = None,
    workers: int = 1,
    allowed_hosts: str | None = None,
    log_file: str | Path | None = None,
    wait_s: float = 90.0,
    env: dict[str, str] | None = None,
) -> TrackingServer:
    """Start `mlflow server` in its own session, wait until `/health` answers, return its record.

    Raises ConfigError if the port is taken or the server dies or does not answer in `wait_s`
    (the message carries the tail of its log). The caller owns the process: stop it with
    `stop_tracking_server`.
    """
    workdir = Path(workdir or os.getcwd()).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    backend = normalize_backend_uri(backend_store_uri, workdir)
    artifacts = normalize_artifacts(artifacts_destination, workdir)
    if "://" not in artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
    if port_in_use(host, port):
        raise ConfigError(f"port {port} on {host} is already in use (another tracking server?); "
                          "pick another with --port", "--port")
    url = url_for(host, port)
    to_stdout = str(log_file) == "-"  # containers: let the runtime collect the server's output
    log = Path(os.devnull) if to_stdout else (
        Path(log_file) if log_file else workdir / f"mlflow-server-{port}.log")
    if not to_stdout:
        log.parent.mkdir(parents=True, exist_ok=True)
    cmd = server_command(host, port, backend, artifacts, workers, allowed_hosts)
    proc_env = dict(os.environ if env is None else env)
    proc_env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    proc_env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # GenAI job runner: unused
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=None if to_stdout else out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=workdir, env=proc_env,
                                start_new_session=True)
    server = TrackingServer(url, host, port, backend, artifacts, proc.pid, str(log), time.time())
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"mlflow server exited with code {proc.returncode}: "
                              f"{tail_log(log, 15)}", str(log))
        if is_healthy(url, timeout=1.0):
            return server
        time.sleep(0.3)
    stop_tracking_server(server)
    raise ConfigError(f"mlflow server did not answer within {wait_s:.0f} s: {tail_log(log, 15)}",
                      str(log))


def stop_tracking_server(server: TrackingServer, grace: float = 10.0) -> int:
    """Stop the server's whole session (mlflow CLI, uvicorn and its workers); returns #stopped."""
    from soclab.processes import stop_session

    return stop_session(server.pid, server.started_at, grace=grace)


def write_pid_file(server: TrackingServer, path: str | Path) -> Path:
    """The server's record, 0600 (its backend URI can carry a database password)."""
    from soclab.private import write_private

    return write_private(path, server.to_json())


def stop_from_pid_file(path: str | Path) -> int:
    """Stop the server recorded in a PID file written by `--background`; remove the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no PID file (is a background tracking server running?)", str(path))
    n = stop_tracking_server(TrackingServer.from_file(path))
    path.unlink()
    return n


def run_foreground(server: TrackingServer) -> int:
    """Wait for the server (a child of this process); Ctrl-C / SIGTERM stops its whole session.
    Returns the server's exit code (0 when stopped by us)."""

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _stop)
    try:
        _, status = os.waitpid(server.pid, 0)
        return os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        return 0
    except KeyboardInterrupt:
        stop_tracking_server(server)
        return 0
    finally:
        signal.signal(signal.SIGTERM, old)

