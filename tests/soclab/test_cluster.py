"""Real multi-node Ray clusters on loopback: `soclab cluster local` (head + worker as separate
`ray start` processes, token auth), sweeps spread over both nodes and logged to an MLflow server
backed by PostgreSQL, a worker node and a driver killed mid-sweep, a client without the token
refused, and `soclab cluster down` stopping exactly what was started.

One cluster is shared by the module (node start-up is slow). Every process a test starts is
stopped by the test or a fixture finalizer, by session/PID, also on failure; never `ray stop`.
PostgreSQL comes from `SOCLAB_TEST_POSTGRES_URI` (`.ci/run` starts one via
cluster/ci/start-postgres.sh); without it the tests that need it skip, unless
SOCLAB_REQUIRE_SERVICES=1, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from soclab.cluster import (
    ClusterState,
    cluster_nodes,
    kill_node,
    listening_addresses,
    session_processes,
    stop_local_cluster,
    stop_session,
)
from tests.conftest import REPO

pytestmark = pytest.mark.cluster

SOCLAB = str(Path(sys.executable).with_name("soclab"))
LOOPBACK_IPS = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


# ------------------------------------------------------------------------- helpers
def postgres_uri() -> str:
    uri = os.environ.get("SOCLAB_TEST_POSTGRES_URI")
    if not uri:
        if os.environ.get("SOCLAB_REQUIRE_SERVICES") == "1":
            pytest.fail("SOCLAB_TEST_POSTGRES_URI is unset but SOCLAB_REQUIRE_SERVICES=1 "
                        "(.ci/run must start PostgreSQL via cluster/ci/start-postgres.sh)")
        pytest.skip("no PostgreSQL: set SOCLAB_TEST_POSTGRES_URI (eval \"$(bash "
                    "cluster/ci/start-postgres.sh DIR)\") to run the tracking-server sweeps")
    return uri


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_", "MLFLOW_TRACKING_URI"))}
    env.update(RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1", SOCLAB_DEBUG="1")
    return env


def write_spec(path: Path, name: str, agents: list[str], rates: list[float], *,
               duration_us: float = 3000.0, retries: int = 2) -> tuple[Path, str]:
    """A tiny heuristic spec: one trial per cell, 2 seeds; a fresh experiment name per call."""
    import yaml

    experiment = f"test-cluster/{name}-{uuid.uuid4().hex[:8]}"
    spec = {
        "name": name,
        "simulation": {"workload": "wifi-tx-rx", "duration_us": duration_us, "warmup_us": 500},
        "agents": [{"name": a} for a in agents],
        "axes": {"noise": ["none"], "rates_jobs_per_ms": rates, "seeds": {"start": 0, "count": 2}},
        "baselines": [agents[0]],
        "tune": {"max_concurrent_trials": 2, "cells_per_trial": 1, "retries": retries},
        "tracking": {"experiment_name": experiment},
        "report": {"gantt": False},
    }
    f = path / f"{name}.yaml"
    f.write_text(yaml.safe_dump(spec))
    return f, experiment


@contextmanager
def started(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A subprocess in its own session, killed with everything it spawned when the block ends."""
    t0 = time.time()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        stop_session(proc.pid, t0, grace=2.0)


def sweep_cmd(spec: Path, cluster: ClusterState, out: Path, *extra: str) -> list[str]:
    return [SOCLAB, "sweep", str(spec), "--address", cluster.address, "--tracking-uri",
            str(cluster.tracking_uri), "--no-report", "--output-dir", str(out), *extra]


def run_sweep_cli(spec: Path, cluster: ClusterState, env: dict[str, str], out: Path,
                  *extra: str, timeout: float = 300.0) -> str:
    log = out / f"sweep-{uuid.uuid4().hex[:6]}.log"
    out.mkdir(parents=True, exist_ok=True)
    with started(sweep_cmd(spec, cluster, out, *extra), env, log) as proc:
        rc = proc.wait(timeout=timeout)
    text = log.read_text(errors="replace")
    assert rc == 0, text[-4000:]
    return text


def search(uri: str, experiment: str, kind: str = "cell"):  # -> pandas.DataFrame
    """Runs of one kind in the server, as mlflow.search_runs shows them (columns status, run_id,
    tags.*, params.*, metrics.*), through an explicit client: mlflow.set_tracking_uri would
    export MLFLOW_TRACKING_URI into this process and leak into later tests."""
    import mlflow
    import pandas as pd

    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return pd.DataFrame(columns=["run_id", "status"])
    runs = client.search_runs([exp.experiment_id], f"tags.`soclab.kind` = '{kind}'",
                              max_results=5000, order_by=["attributes.start_time ASC"])
    return pd.DataFrame([{"run_id": r.info.run_id, "status": r.info.status,
                          **{f"tags.{k}": v for k, v in r.data.tags.items()},
                          **{f"params.{k}": v for k, v in r.data.params.items()},
                          **{f"metrics.{k}": v for k, v in r.data.metrics.items()}}
                         for r in runs])


def cell_runs(uri: str, experiment: str):  # -> pandas.DataFrame
    return search(uri, experiment, "cell")


def finished_per_hash(uri: str, experiment: str) -> dict[str, int]:
    df = cell_runs(uri, experiment)
    if df.empty:
        return {}
    fin = df[df["status"] == "FINISHED"]
    return fin["tags.soclab.cell_hash"].value_counts().to_dict()


def wait_until(pred, timeout: float, what: str, every: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    """`soclab cluster local --workers 1` (head + one worker node, 1 CPU each, token auth) with a
    tracking server backed by PostgreSQL when available (else SQLite)."""
    state_dir = tmp_path_factory.mktemp("cluster") / "state"
    cmd = [SOCLAB, "cluster", "local", "--workers", "1", "--state-dir", str(state_dir)]
    pg = os.environ.get("SOCLAB_TEST_POSTGRES_URI")
    if pg:
        cmd += ["--backend-store-uri", pg]
    t0 = time.time()
    out = subprocess.run(cmd, env=base_env(), capture_output=True, text=True, timeout=400,
                         check=False)
    recorded: list[ClusterState] = []
    try:
        if (state_dir / "state.json").is_file():
            recorded.append(ClusterState.load(state_dir))
        assert out.returncode == 0, out.stdout + out.stderr
        state = recorded[0]
        state_text = out.stdout
        assert f"--address {state.address}" in state_text and "RAY_AUTH_TOKEN_PATH" in state_text
        yield state
    finally:
        if (state_dir / "state.json").is_file():
            stop_local_cluster(state_dir)
        for s in recorded:  # belt and braces: nothing of ours may outlive the module
            for n in s.nodes:
                stop_session(n.sid, n.started_at, n.temp_dir, grace=1.0)
            if s.tracking:
                stop_session(s.tracking["pid"], s.tracking["started_at"], grace=1.0)
        assert time.time() - t0 < 3600


@pytest.fixture(scope="module")
def client_env(cluster: ClusterState) -> dict[str, str]:
    """What a driver on this machine exports to use the cluster (token via a 0600 file)."""
    return base_env() | cluster.client_env()


# ------------------------------------------------------------------------- tests
def test_cluster_is_two_real_nodes_with_token_auth(cluster: ClusterState,
                                                    client_env: dict[str, str]) -> None:
    assert [n.name for n in cluster.nodes] == ["head", "worker-1"]
    nodes = [n for n in cluster_nodes(cluster.address, client_env) if n["alive"]]
    assert len(nodes) == 2 and sum(n["is_head"] for n in nodes) == 1
    assert all(n["cpus"] == 1 for n in nodes)
    # separate `ray start` processes: own session, own temp dir, own raylet
    sids = {n.sid for n in cluster.nodes}
    assert len(sids) == 2
    raylets = [n.raylet() for n in cluster.nodes]
    assert all(raylets) and len({r.pid for r in raylets}) == 2
    for node, raylet in zip(cluster.nodes, raylets, strict=True):
        assert os.getsid(raylet.pid) == node.sid
        assert any(node.temp_dir in c for c in raylet.cmdline())
    # every node runs with token auth and the shared tracking URI in its environment
    for raylet in raylets:
        env = raylet.environ()
        assert env["RAY_AUTH_MODE"] == "token"
        assert env["RAY_AUTH_TOKEN_PATH"] == cluster.token_file
        assert env["MLFLOW_TRACKING_URI"] == cluster.tracking_uri
    token = Path(cluster.token_file)
    assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text().strip()) == 64
    env_sh = (Path(cluster.state_dir) / "env.sh").read_text()
    assert f"RAY_ADDRESS={cluster.address}" in env_sh and token.read_text() not in env_sh
    status = json.loads(subprocess.run(
        [SOCLAB, "cluster", "status", "--state-dir", cluster.state_dir, "--json"],
        env=base_env(), capture_output=True, text=True, timeout=120, check=True).stdout)
    assert status["gcs_alive_nodes"] == 2 and status["tracking_healthy"]
    assert all(n["raylet"] for n in status["nodes"])


def test_sweep_on_cluster_refuses_local_sqlite(cluster: ClusterState, tmp_path: Path) -> None:
    spec, _ = write_spec(tmp_path, "refuse", ["MET"], [2.0])
    db = f"sqlite:///{tmp_path / 'local.db'}"
    env = base_env()
    out = subprocess.run([SOCLAB, "sweep", str(spec), "--address", cluster.address,
                          "--tracking-uri", db], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "local file store" in out.stderr and "soclab tracking-server" in out.stderr
    # the address may also come from RAY_ADDRESS (`ray job submit`, `soclab cluster env`)
    out = subprocess.run([SOCLAB, "sweep", str(spec), "--tracking-uri", db],
                         env=env | {"RAY_ADDRESS": cluster.address}, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 2 and "local file store" in out.stderr
    assert not (tmp_path / "local.db").exists()  # refused before touching anything


def test_sweep_spreads_cells_over_both_nodes(cluster: ClusterState, client_env: dict[str, str],
                                             tmp_path: Path) -> None:
    pg = postgres_uri()
    assert cluster.tracking and cluster.tracking["backend_store_uri"].startswith("postgresql")
    assert pg.rsplit("@", 1)[-1] in cluster.tracking["backend_store_uri"]
    spec, experiment = write_spec(tmp_path, "spread", ["MET", "ETF"], [2.0, 5.0])
    run_sweep_cli(spec, cluster, client_env, tmp_path / "out")
    df = cell_runs(str(cluster.tracking_uri), experiment)
    assert len(df) == 4 and set(df["status"]) == {"FINISHED"}
    assert df["tags.soclab.cell_hash"].nunique() == 4
    node_ids = {n["node_id"] for n in cluster_nodes(cluster.address, client_env) if n["alive"]}
    used = set(df["tags.soclab.node"])
    assert used == node_ids, f"cells ran on {used}, cluster nodes {node_ids}"
    # artifacts went through the server's proxy into its artifact store
    import mlflow

    client = mlflow.MlflowClient(str(cluster.tracking_uri))
    names = {a.path for a in client.list_artifacts(df["run_id"].iloc[0])}
    assert "results.parquet" in names


def test_listening_sockets(cluster: ClusterState) -> None:
    """Every listener of the cluster is on loopback: the tracking server, and every Ray process
    of every node (GCS, raylets, object managers, workers, agents, metrics, client server; see
    soclab.loopback); the dashboard is off. No allow-list is needed with Ray 2.60."""
    import psutil

    assert cluster.tracking
    trk = session_processes(cluster.tracking["pid"], cluster.tracking["started_at"])
    socks = listening_addresses([p.pid for p in trk])
    assert socks, "the tracking server listens nowhere?"
    assert {ip for _, ip, _ in socks} <= LOOPBACK_IPS, socks
    assert {port for _, _, port in socks} == {cluster.tracking["port"]}
    ray_pids = [p.pid for n in cluster.nodes for p in n.processes()]
    ray_socks = listening_addresses(ray_pids)
    gcs_port = int(cluster.address.rsplit(":", 1)[1])
    assert gcs_port in {port for _, _, port in ray_socks}
    exposed = [(psutil.Process(pid).name(), ip, port) for pid, ip, port in ray_socks
               if ip not in LOOPBACK_IPS]
    assert not exposed, exposed
    client_port = cluster.nodes[0].ports["ray_client_server_port"]
    assert client_port in {port for _, _, port in ray_socks}  # the client server is among them
    dashboard = cluster.nodes[0].ports["dashboard_port"]
    assert dashboard not in {port for _, _, port in ray_socks}  # --include-dashboard=false
    # nobody else listens on our ports
    ours = set(ray_pids) | {p.pid for p in trk}
    for c in psutil.net_connections("tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in (
                gcs_port, cluster.tracking["port"]):
            assert c.pid in ours


def test_client_or_worker_without_the_token_is_refused(cluster: ClusterState,
                                                       tmp_path: Path) -> None:
    wrong = base_env() | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64,
                          "HOME": str(tmp_path)}  # no ~/.ray/auth_token to fall back on
    # a driver on this machine keeps its loopback address, as the cluster's env.sh makes it
    driver_env = wrong | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    missing = {k: v for k, v in wrong.items() if k != "RAY_AUTH_TOKEN"}
    temp_dir = f"/tmp/soclab-ray-intruder-{uuid.uuid4().hex[:6]}"
    # joined like our own nodes (`soclab.loopback` keeps the loopback address the head listens
    # on): a plain `ray start` would advertise the external address and hang before the token check
    worker = [sys.executable, "-m", "soclab.loopback", "start", f"--address={cluster.address}",
              f"--temp-dir={temp_dir}", "--num-cpus=1", "--disable-usage-stats",
              "--min-worker-port=0", "--max-worker-port=0",
              f"--dashboard-agent-listen-port={_free_port()}"]
    driver = [sys.executable, "-c",
              f"import ray; ray.init(address={cluster.address!r}, log_to_driver=False); "
              "print('CONNECTED')"]
    t0 = time.time()
    try:
        # the wrong-token attempts retry for ~20 s before giving up: run them side by side
        with started(worker, wrong, tmp_path / "worker.log") as w, \
                started(driver, driver_env, tmp_path / "driver.log") as d:
            no_token = subprocess.run(driver, env=missing | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                                      capture_output=True, text=True, timeout=120, check=False)
            rc_w, rc_d = w.wait(timeout=180), d.wait(timeout=180)
    finally:
        import shutil

        stop_session(-1, t0, temp_dir, grace=1.0)  # sid -1: match the intruder by temp dir only
        shutil.rmtree(temp_dir, ignore_errors=True)
    wlog = (tmp_path / "worker.log").read_text(errors="replace")
    dlog = (tmp_path / "driver.log").read_text(errors="replace")
    assert rc_w != 0 and "InvalidAuthToken" in wlog, wlog[-3000:]
    assert rc_d != 0 and "InvalidAuthToken" in dlog and "CONNECTED" not in dlog, dlog[-3000:]
    assert no_token.returncode != 0 and "CONNECTED" not in no_token.stdout
    assert "no authentication token was found" in no_token.stderr, no_token.stderr[-3000:]
    # the cluster is unaffected: still exactly our two nodes
    env = base_env() | cluster.client_env()
    assert sum(n["alive"] for n in cluster_nodes(cluster.address, env)) == 2


def test_driver_killed_mid_sweep_then_resume(cluster: ClusterState, client_env: dict[str, str],
                                             tmp_path: Path) -> None:
    postgres_uri()
    uri = str(cluster.tracking_uri)
    spec, experiment = write_spec(tmp_path, "driverkill", ["MET", "ETF"], [2.0, 4.0, 6.0],
                                  duration_us=6000.0)
    out = tmp_path / "out"
    out.mkdir()
    # the claims of the cells in flight die with the driver: a short lease, so the resume takes
    # them over after seconds (the driver passes it to the workers on the nodes)
    client_env = client_env | {"SOCLAB_CLAIM_LEASE_S": "8"}
    with started(sweep_cmd(spec, cluster, out), client_env, tmp_path / "first.log") as proc:
        wait_until(lambda: sum(finished_per_hash(uri, experiment).values()) >= 2
                   or proc.poll() is not None, 240, "two finished cells")
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    done_before = finished_per_hash(uri, experiment)
    assert 2 <= len(done_before) < 6
    run_sweep_cli(spec, cluster, client_env, out, "--resume")
    counts = finished_per_hash(uri, experiment)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts
    sweeps = search(uri, experiment, "sweep")
    todo = [int(x) for x in sweeps["params.cells_todo"]]
    # only what was missing ran the second time (cells finished after the snapshot was
    # taken by a still-running trial are skipped too; if those were all, the resume had nothing
    # to run and made no parent run)
    assert todo[0] == 6 and (len(todo) == 1 or todo[-1] <= 6 - len(done_before))


def test_worker_node_killed_mid_sweep(cluster: ClusterState, client_env: dict[str, str],
                                      tmp_path: Path) -> None:
    postgres_uri()
    uri = str(cluster.tracking_uri)
    spec, experiment = write_spec(tmp_path, "nodekill", ["MET", "ETF"], [2.0, 4.0],
                                  duration_us=6000.0, retries=2)
    worker = cluster.node("worker-1")
    out = tmp_path / "out"
    out.mkdir()
    with started(sweep_cmd(spec, cluster, out), client_env, tmp_path / "sweep.log") as proc:
        def trial_on_worker() -> bool:
            return any(p.name().startswith("ray::ImplicitFunc") for p in worker.processes())

        wait_until(lambda: trial_on_worker() or proc.poll() is not None, 240,
                   "a trial running on the worker node")
        assert proc.poll() is None, "the sweep ended before a trial reached the worker"
        killed = kill_node(cluster, "worker-1")
        assert killed >= 3 and worker.raylet() is None
        rc = proc.wait(timeout=400)
    log = (tmp_path / "sweep.log").read_text(errors="replace")
    assert rc == 0, log[-4000:]
    assert "ActorDiedError" in log or "node" in log.lower()  # Tune saw the trial die
    counts = finished_per_hash(uri, experiment)
    assert len(counts) == 4 and set(counts.values()) == {1}, counts
    df = cell_runs(uri, experiment)
    assert set(df["status"]) == {"FINISHED"}
    head_id = next(n["node_id"] for n in cluster_nodes(cluster.address, client_env)
                   if n["is_head"])
    assert head_id in set(df["tags.soclab.node"])
    # The GCS marks a killed node dead only after its health checks time out: wait for it.
    def only_head_alive() -> bool:
        alive = [n for n in cluster_nodes(cluster.address, client_env) if n["alive"]]
        return len(alive) == 1 and alive[0]["is_head"]

    wait_until(only_head_alive, 120, "the GCS to mark the killed worker node dead")


def test_cluster_down_stops_exactly_what_it_started(cluster: ClusterState, tmp_path: Path) -> None:
    # a bystander that looks like someone else's Ray node (what a bare `ray stop` would kill)
    decoy_cmd = ["bash", "-c", "exec -a raylet sleep 600"]
    with started(decoy_cmd, base_env(), tmp_path / "decoy.log") as decoy:
        assert cluster.tracking
        # the scoped `ray stop` of one node by its temp dir (what cluster/*.yaml nodes use)
        head = cluster.node("head")
        assert head.processes()
        out = subprocess.run([SOCLAB, "cluster", "stop-node", "--temp-dir", head.temp_dir],
                             env=base_env(), capture_output=True, text=True, timeout=120,
                             check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert head.processes() == []
        assert session_processes(cluster.tracking["pid"], cluster.tracking["started_at"])
        out = subprocess.run([SOCLAB, "cluster", "down", "--state-dir", cluster.state_dir],
                             env=base_env(), capture_output=True, text=True, timeout=120,
                             check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "stopped: " in out.stdout
        for n in cluster.nodes:
            assert n.processes() == []
        assert session_processes(cluster.tracking["pid"], cluster.tracking["started_at"]) == []
        assert not Path(cluster.state_dir, "state.json").exists()
        assert not Path(cluster.token_file).exists() and not Path(cluster.temp_root).exists()
        assert decoy.poll() is None, "cluster down killed a process it did not start"


def test_tracking_server_command_background_and_stop(tmp_path: Path) -> None:
    port = _free_port()
    pid_file = tmp_path / "server.json"
    cmd = [SOCLAB, "tracking-server", "--port", str(port), "--backend-store-uri",
           f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination",
           str(tmp_path / "artifacts"), "--background", "--pid-file", str(pid_file)]
    out = subprocess.run(cmd, env=base_env(), capture_output=True, text=True, timeout=180,
                         check=False, cwd=tmp_path)
    record = json.loads(pid_file.read_text()) if pid_file.exists() else None
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"http://127.0.0.1:{port}" in out.stdout
        assert record is not None
        procs = session_processes(record["pid"], record["started_at"])
        socks = listening_addresses([p.pid for p in procs])
        assert socks and {ip for _, ip, _ in socks} <= LOOPBACK_IPS, socks
        from soclab.tracking_server import is_healthy

        assert is_healthy(f"http://127.0.0.1:{port}")
        stop = subprocess.run([SOCLAB, "tracking-server", "--stop", "--port", str(port),
                               "--pid-file", str(pid_file)], env=base_env(),
                              capture_output=True, text=True, timeout=60, check=False)
        assert stop.returncode == 0, stop.stderr
        assert session_processes(record["pid"], record["started_at"]) == []
        assert not is_healthy(f"http://127.0.0.1:{port}")
    finally:
        if record is not None:
            stop_session(record["pid"], record["started_at"], grace=1.0)


def test_require_shared_store_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    from dssoc.errors import ConfigError
    from soclab.tracking import require_shared_store

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    require_shared_store("sqlite:////tmp/x.db", None)  # local Ray: fine
    require_shared_store("sqlite:////tmp/x.db", "local")
    require_shared_store("http://127.0.0.1:5000", "10.0.0.1:6379")
    for address in ("10.0.0.1:6379", "127.0.0.1:6379", "auto", "ray://head:10001"):
        with pytest.raises(ConfigError, match="local file store"):
            require_shared_store("sqlite:////tmp/x.db", address)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    with pytest.raises(ConfigError, match="soclab tracking-server"):
        require_shared_store("sqlite:////tmp/x.db", None)


# ------------------------------------------------------------------------- small helpers
def _free_port() -> int:
    from soclab.cluster import free_ports

    return free_ports(1)[0]


# ------------------------------------------------------------------------- cluster/ configs
CLUSTER_DIR = REPO / "cluster"
K8S_API = {"Namespace": "v1", "Secret": "v1", "Service": "v1", "PersistentVolumeClaim": "v1",
           "Deployment": "apps/v1", "StatefulSet": "apps/v1",
           "NetworkPolicy": "networking.k8s.io/v1", "RayCluster": "ray.io/v1",
           "RayJob": "ray.io/v1", "Kustomization": "kustomize.config.k8s.io/v1beta1"}


def _yaml_docs(path: Path) -> list[dict]:
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _kuberay_docs() -> list[tuple[Path, dict]]:
    return [(f, d) for f in sorted((CLUSTER_DIR / "kuberay").glob("*.yaml")) for d in _yaml_docs(f)]


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def _ray_pod_templates(spec: dict) -> list[dict]:
    return [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]


def test_every_cluster_yaml_parses() -> None:
    files = sorted(CLUSTER_DIR.rglob("*.yaml"))
    assert {f.name for f in files} >= {"aws.yaml", "onprem.yaml", "raycluster.yaml", "rayjob.yaml",
                                       "mlflow.yaml", "postgres.yaml", "kustomization.yaml"}
    for f in files:
        assert _yaml_docs(f), f"{f} is empty"


def test_launcher_configs_pass_rays_own_schema() -> None:
    """What `ray up` does before touching a cloud: fill defaults, validate against Ray's schema."""
    import copy

    from ray.autoscaler._private.util import prepare_config, validate_config

    for name, provider in (("aws.yaml", "aws"), ("onprem.yaml", "local")):
        (config,) = _yaml_docs(CLUSTER_DIR / name)
        assert config["provider"]["type"] == provider
        validate_config(prepare_config(copy.deepcopy(config)))
        setup = " ".join(config["setup_commands"])
        assert "pip install" in setup and "~/soclab" in setup  # soclab from the synced repo
        assert config["file_mounts"]["~/soclab"] == "."
        assert "RAY_AUTH_MODE=token" in setup and "RAY_AUTH_TOKEN_PATH" in setup
        assert "~/.soclab/ray_auth_token" in config["file_mounts"]
        assert "SOCLAB_STORAGE_PATH" in setup
        for key in ("head_start_ray_commands", "worker_start_ray_commands"):
            cmds = config[key]
            starts = [c for c in cmds if "ray start" in c]
            assert starts and all("MLFLOW_TRACKING_URI=http://" in c and "env.sh" in c
                                  for c in starts), key
            for c in cmds:  # never a bare `ray stop` (kills every Ray process on the host)
                assert "ray stop" not in c, c
        head = " ".join(config["head_start_ray_commands"])
        assert "soclab tracking-server" in head and "--backend-store-uri" in head
        assert "--dashboard-host=127.0.0.1" in head


def test_kuberay_manifests_are_well_formed() -> None:
    docs = _kuberay_docs()
    kinds: dict[str, list[dict]] = {}
    for f, d in docs:
        kind = d.get("kind")
        assert kind in K8S_API, f"{f.name}: unexpected kind {kind!r}"
        assert d.get("apiVersion") == K8S_API[kind], f"{f.name}: {kind} apiVersion"
        if kind == "Namespace":
            assert d["metadata"]["name"] == "soclab"
        elif kind != "Kustomization":
            assert d["metadata"]["name"] and d["metadata"].get("namespace") == "soclab"
        kinds.setdefault(kind, []).append(d)
    for dep in kinds["Deployment"] + kinds["StatefulSet"]:
        spec = dep["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        assert all(c["name"] and c["image"] for c in spec["template"]["spec"]["containers"])
    services = {s["metadata"]["name"]: s for s in kinds["Service"]}
    assert services["mlflow"]["spec"]["ports"][0]["port"] == 5000
    assert services["postgres"]["spec"]["ports"][0]["port"] == 5432
    (sts,) = kinds["StatefulSet"]
    assert sts["spec"]["serviceName"] == "postgres"
    assert _env(sts["spec"]["template"]["spec"]["containers"][0])["POSTGRES_PASSWORD"][
        "valueFrom"]["secretKeyRef"]["name"] == "soclab-postgres"
    (mlflow,) = [d for d in kinds["Deployment"] if d["metadata"]["name"] == "mlflow"]
    args = " ".join(mlflow["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--backend-store-uri=postgresql://" in args and "@postgres:5432/" in args
    assert "--artifacts-destination=" in args and "mlflow:*" in args
    secrets = {s["metadata"]["name"]: s for s in kinds["Secret"]}
    assert "auth_token" in secrets["soclab-ray-token"]["stringData"]
    assert "password" in secrets["soclab-postgres"]["stringData"]
    # every Ray container: token auth from the Secret, the tracking server, shared storage
    for kind in ("RayCluster", "RayJob"):
        (obj,) = kinds[kind]
        spec = obj["spec"] if kind == "RayCluster" else obj["spec"]["rayClusterSpec"]
        assert spec["rayVersion"] == "2.60.0"
        assert "rayStartParams" in spec["headGroupSpec"]
        for g in spec["workerGroupSpecs"]:
            assert {"groupName", "minReplicas", "maxReplicas", "rayStartParams"} <= g.keys()
        for tpl in _ray_pod_templates(spec):
            for c in tpl["spec"]["containers"]:
                env = _env(c)
                assert env["RAY_AUTH_MODE"]["value"] == "token"
                assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
                    "name": "soclab-ray-token", "key": "auth_token"}
                assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow:5000"
                assert "SOCLAB_STORAGE_PATH" in env
    (job,) = kinds["RayJob"]
    assert job["spec"]["entrypoint"].startswith("soclab sweep ")
    assert "experiments/" in job["spec"]["entrypoint"]
    assert "--tracking-uri http://mlflow:5000" in job["spec"]["entrypoint"]
    submitter = _env(job["spec"]["submitterPodTemplate"]["spec"]["containers"][0])
    assert submitter["RAY_AUTH_MODE"]["value"] == "token" and "RAY_AUTH_TOKEN" in submitter
    # the kustomization lists files that exist (secrets/secrets.yaml is made by make-secrets.sh)
    (kust,) = kinds["Kustomization"]
    for res in kust["resources"]:
        assert res == "secrets/secrets.yaml" or (CLUSTER_DIR / "kuberay" / res).is_file(), res
    assert "rayjob.yaml" not in kust["resources"]


def test_kuberay_secrets_are_rendered_not_committed(tmp_path: Path) -> None:
    import shutil

    work = tmp_path / "kuberay"
    shutil.copytree(CLUSTER_DIR / "kuberay", work, ignore=shutil.ignore_patterns("secrets.yaml"))
    out = subprocess.run(["bash", str(work / "make-secrets.sh")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    rendered = work / "secrets" / "secrets.yaml"
    assert rendered.stat().st_mode & 0o077 == 0
    docs = _yaml_docs(rendered)
    values = [v for d in docs for v in d["stringData"].values()]
    assert not any("REPLACE" in v for v in values)
    token = docs[0]["stringData"]["auth_token"]
    assert len(token) == 64 and token not in (CLUSTER_DIR / "kuberay" / "secret.template.yaml").read_text()
    assert (CLUSTER_DIR / "kuberay" / "secrets" / ".gitignore").read_text().startswith("*")
    again = subprocess.run(["bash", str(work / "make-secrets.sh")], capture_output=True,
                           text=True, timeout=60, check=False)
    assert again.returncode != 0  # never overwrites secrets in use
