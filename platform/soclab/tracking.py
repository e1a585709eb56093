"""MLflow tracking: one experiment per spec, one parent run per sweep invocation, one child run
per finished cell (params, metrics with CIs, ratios to baselines, per-seed parquet, Gantt chart).

All calls go through `MlflowClient` with explicit run ids (no global active run), so the driver
and every Tune worker can log concurrently. The default store is an absolute SQLite file in the
working directory, never a relative URI: inside a Tune trial the cwd is a throwaway directory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dssoc.errors import ConfigError

DEFAULT_DB = "mlflow.db"
CELL_KIND = "cell"
SWEEP_KIND = "sweep"
TRAIN_KIND = "train"
#: The MLflow 3 UI opens an experiment on its GenAI "Traces" page unless this tag says the
#: experiment holds ordinary training runs (value accepted by the 3.17 UI).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
#: ...but the 3.17 UI's page mode follows its global GenAI / Model-training switch (default
#: GenAI, kept in the browser); this query parameter in a link selects "Model training".
UI_QUERY = "?workflowType=machine_learning"


def ui_url(base_url: str, experiment_id: str) -> str:
    """A link that opens the MLflow UI on the experiment's runs table."""
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}{UI_QUERY}"
T = TypeVar("T")


def default_tracking_uri(workdir: str | Path | None = None) -> str:
    """`sqlite:////abs/path/mlflow.db` in the working directory."""
    return f"sqlite:///{(Path(workdir or os.getcwd()) / DEFAULT_DB).resolve()}"


def resolve_tracking_uri(cli_uri: str | None, spec_uri: str | None) -> str:
    """CLI flag > MLFLOW_TRACKING_URI > spec > local SQLite; relative SQLite paths made absolute."""
    uri = cli_uri or os.environ.get("MLFLOW_TRACKING_URI") or spec_uri or default_tracking_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{Path(uri[len('sqlite:///'):]).resolve()}"
    elif "://" not in uri:  # a bare path: a SQLite file
        uri = f"sqlite:///{Path(uri).resolve()}"
    return uri


def is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def artifact_root_for(uri: str) -> str | None:
    """Artifacts of a local SQLite store go beside the database (absolute), else server default."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


#: errors of two processes creating or migrating a fresh store's tables at once (PostgreSQL; for
#: SQLite `store_init_lock` serialises them): retrying finds the tables made by the other one.
MIGRATION_RACE = ("already exists", "duplicate column", "duplicate key", "unique constraint",
                  "alembic_version")


def with_retry(fn: Callable[[], T], attempts: int = 8, delay_s: float = 0.25,
               transient: tuple[str, ...] = ()) -> T:
    """Retry an MLflow call on transient errors (SQLite 'database is locked', HTTP hiccups, and
    the extra `transient` texts)."""
    for k in range(attempts):
        try:
            return fn()
        except Exception as e:  # MLflow wraps store errors in several exception types
            text = str(e).lower()
            transient_error = any(s in text for s in ("database is locked", "timed out", "connection",
                                                      "temporarily", "503", "502", *transient))
            if "readonly" in text or "read-only" in text:  # no retry cures that (soclab.preflight)
                raise
            if not transient_error or k == attempts - 1:
                raise
            time.sleep(delay_s * (2**k))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def store_init_lock(uri: str) -> Iterator[None]:
    """Serialise the first use of a SQLite store across processes (a lock file beside it):
    MLflow creates and migrates the tables on first use, and two processes doing that at once
    fail ('table experiments already exists'). Other stores: a no-op (see MIGRATION_RACE)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri[len("sqlite:///"):])
    try:
        fd = os.open(f"{db}.init-lock", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:  # a read-only directory: nothing can migrate there anyway
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Tracker:
    """A thin, retrying wrapper over MlflowClient bound to one experiment."""

    def __init__(self, tracking_uri: str, experiment_name: str) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri
        self.experiment_name = experiment_name
        with store_init_lock(tracking_uri):  # the client creates/migrates a fresh store's tables
            self.client = with_retry(lambda: MlflowClient(tracking_uri=tracking_uri),
                                     transient=MIGRATION_RACE)
            self.experiment_id = with_retry(self._ensure_experiment, transient=MIGRATION_RACE)

    def _ensure_experiment(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment_name)
        if exp is not None:
            if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:  # made by an older soclab
                self.client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG,
                                               EXPERIMENT_KIND)
            return exp.experiment_id
        try:
            return self.client.create_experiment(
                self.experiment_name, artifact_location=artifact_root_for(self.uri),
                tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
            )
        except Exception:  # created concurrently by another process
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is None:
                raise
            return exp.experiment_id

    def describe(self, text: str) -> None:
        """The experiment's description in the UI (`mlflow.note.content`)."""
        if text.strip():
            with_retry(lambda: self.client.set_experiment_tag(self.experiment_id,
                                                              "mlflow.note.content", text.strip()))

    # ------------------------------------------------------------------ runs
    def start_run(self, name: str, tags: dict[str, str], parent_run_id: str | None = None,
                  start_time_ms: int | None = None) -> str:
        """A new run (child of `parent_run_id` if given); `start_time_ms` when the work began
        earlier than the run is created (a cell logged once its seeds are done)."""
        tags = dict(tags)
        tags["mlflow.runName"] = name
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        run = with_retry(lambda: self.client.create_run(self.experiment_id, tags=tags,
                                                        start_time=start_time_ms))
        return run.info.run_id

    def log(self, run_id: str, params: dict[str, Any] | None = None,
            metrics: dict[str, float] | None = None, tags: dict[str, str] | None = None,
            step: int = 0) -> None:
        from mlflow.entities import Metric, Param, RunTag

        ts = int(time.time() * 1000)
        p = [Param(k, _short(v)) for k, v in (params or {}).items()]
        m = [Metric(k, float(v), ts, step) for k, v in (metrics or {}).items() if _finite(v)]
        t = [RunTag(k, _short(v)) for k, v in (tags or {}).items()]
        for i in range(0, max(len(p), len(m), len(t), 1), 100):  # MLflow batch limits
            with_retry(lambda i=i: self.client.log_batch(
                run_id, metrics=m[i:i + 100], params=p[i:i + 100], tags=t[i:i + 100]))

    def log_metric_series(self, run_id: str, name: str, values: list[float]) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        ms = [Metric(name, float(v), ts, k) for k, v in enumerate(values) if _finite(v)]
        for i in range(0, len(ms), 500):
            with_retry(lambda i=i: self.client.log_batch(run_id, metrics=ms[i:i + 500]))

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        """A file under `artifact_path`, or a directory's contents under `artifact_path`
        (default: the directory's name)."""
        if Path(path).is_dir():
            dest = artifact_path or Path(path).name
            with_retry(lambda: self.client.log_artifacts(run_id, str(path), dest))
            return
        with_retry(lambda: self.client.log_artifact(run_id, str(path), artifact_path))

    def end_run(self, run_id: str, status: str = "FINISHED", end_time_ms: int | None = None) -> None:
        with_retry(lambda: self.client.set_terminated(run_id, status, end_time=end_time_ms))

    def log_workload(self, run_id: str, workload: str, digest: str, source: str) -> None:
        """Name the run's workload as an MLflow dataset input (the UI's "Dataset" column)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        ds = DatasetInput(Dataset(name=workload, digest=digest[:36], source_type="soclab",
                                  source=source), tags=[InputTag("mlflow.data.context", "eval")])
        with_retry(lambda: self.client.log_inputs(run_id, datasets=[ds]))

    # --------------------------------------------------------------- queries
    def cell_runs(self, status: str | None = "FINISHED") -> dict[str, Any]:
        """Child runs of cells in this experiment, keyed by cell hash (the newest per hash)."""
        flt = f"tags.`soclab.kind` = '{CELL_KIND}'"
        if status:
            flt += f" and attributes.status = '{status}'"
        out: dict[str, Any] = {}
        token = None
        while True:  # page through: a large sweep has more cells than one page holds
            page = with_retry(lambda token=token: self.client.search_runs(
                [self.experiment_id], filter_string=flt, max_results=10_000,
                order_by=["attributes.start_time DESC"], page_token=token))
            for r in page:
                out.setdefault(r.data.tags.get("soclab.cell_hash", ""), r)
            token = page.token
            if not token:
                return out

    def finished_cell(self, cell_hash: str) -> Any | None:
        flt = (f"tags.`soclab.cell_hash` = '{cell_hash}' and attributes.status = 'FINISHED'")
        runs = with_retry(lambda: self.client.search_runs([self.experiment_id], filter_string=flt,
                                                          max_results=1))
        return runs[0] if runs else None

    def discard_unfinished(self, cell_hash: str) -> None:
        """Delete FAILED runs of a cell that is about to run again (KILLED ones stay as the record
        of a crash; see soclab.claims)."""
        flt = (f"tags.`soclab.cell_hash` = '{cell_hash}' and attributes.status = 'FAILED'")
        for r in with_retry(lambda: self.client.search_runs([self.experiment_id], filter_string=flt)):
            with_retry(lambda r=r: self.client.delete_run(r.info.run_id))

    def download(self, run_id: str, artifact_path: str, dst: str | Path) -> Path:
        return Path(with_retry(lambda: self.client.download_artifacts(run_id, artifact_path, str(dst))))


def provenance() -> dict[str, str]:
    """Git commit, package versions and machine, for the parent run's tags."""
    from importlib.metadata import PackageNotFoundError, version

    tags = {"host": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "cpus": str(os.cpu_count())}
    for pkg in ("soclab", "ray", "mlflow", "gymnasium", "torch", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            tags[f"version.{pkg}"] = version(pkg)
    try:
        repo = Path(__file__).resolve().parents[2]
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        if commit:
            tags["git_commit"] = commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return tags


def require_shared_store(uri: str, cluster_address: str | None) -> None:
    """On a multi-node cluster, workers on other nodes cannot write a local SQLite file.
    `RAY_ADDRESS` (set by `ray job submit` and `soclab cluster env`) counts as an address."""
    cluster_address = cluster_address or os.environ.get("RAY_ADDRESS")
    if cluster_address and cluster_address not in ("local",) and is_local_store(uri):
        raise ConfigError(
            f"tracking URI {uri} is a local file store, which workers on other nodes cannot "
            "write; start `soclab tracking-server` and pass --tracking-uri http://HOST:PORT",
            "--tracking-uri",
        )


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 6000 else s[:5997] + "..."


def _finite(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and f not in (float("inf"), float("-inf"))
