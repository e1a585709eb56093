"""`soclab cluster`: a real multi-node Ray cluster on this machine, and stopping exactly it.

`start_local_cluster` starts a head and N worker nodes as separate `ray start` processes (each
node its own session, temp dir and ports, token authentication on with a freshly generated
token) plus an MLflow tracking server, and records all of it in a state file. `ray start`
daemonises GCS, raylet and agents, so a node is tracked by the session its `ray start` leads
(every daemon and worker stays in it) and by its own temp dir; `stop_local_cluster` stops those
processes and nothing else. Never use a bare `ray stop` on a shared machine: it kills every Ray
process of every user's cluster.

The same machinery kills one node on purpose (`kill_node`) for fault-tolerance drills and tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dssoc.errors import ConfigError
from soclab.processes import (
    _alive,
    _ours,
    session_processes,
    stop_processes,
    stop_session,
    tail_log,
)

STATE_FILE = "state.json"
STATE_DIR_ENV = "SOCLAB_CLUSTER_DIR"
TOKEN_FILE = "auth_token"
ENV_FILE = "env.sh"
LOOPBACK = "127.0.0.1"

# Ray ports that have fixed defaults (two nodes on one machine would collide) or that we want
# pinned so status and tests can name them. Worker ports are left random (--min/max 0).
HEAD_PORTS = ("ray_client_server_port", "dashboard_port")
NODE_PORTS = ("node_manager_port", "object_manager_port", "dashboard_agent_listen_port",
              "dashboard_agent_grpc_port", "metrics_export_port", "runtime_env_agent_port")


def _is_ray_process(p: Any) -> bool:
    try:
        name, cmdline = p.name(), p.cmdline()
    except Exception:
        return False
    return (name.startswith("ray::") or name in ("raylet", "gcs_server")
            or any("site-packages/ray/" in c or c.startswith("ray.") for c in cmdline))


def node_processes_by_temp_dir(temp_dir: str) -> list[Any]:
    """A `ray start` node identified by its own `--temp-dir` (for nodes whose session we did not
    record, e.g. started by the cluster launcher): processes naming the temp dir (GCS, raylet,
    agents), the Ray processes sharing their sessions (client server, monitor), descendants."""
    import psutil

    temp_dir = str(Path(temp_dir).resolve())
    anchors = session_processes(-1, 0.0, temp_dir)
    sids = set()
    for p in anchors:
        with suppress(psutil.Error, OSError):
            sids.add(os.getsid(p.pid))
    found = {p.pid: p for p in anchors}
    for p in psutil.process_iter():
        with suppress(psutil.Error, OSError):
            if p.pid not in found and _ours(p) and os.getsid(p.pid) in sids and _is_ray_process(p):
                found[p.pid] = p
                for c in p.children(recursive=True):
                    found.setdefault(c.pid, c)
    return [p for p in found.values() if _alive(p)]


def stop_node_by_temp_dir(temp_dir: str, grace: float = 5.0) -> int:
    """The scoped `ray stop`: stop only the Ray node that runs with this temp dir."""
    procs = node_processes_by_temp_dir(temp_dir)
    stop_processes(procs, grace)
    late = node_processes_by_temp_dir(temp_dir)
    stop_processes(late, 0.0, signal.SIGKILL)
    return len({p.pid for p in procs} | {p.pid for p in late})


def free_ports(n: int, host: str = "") -> list[int]:
    """`n` distinct ports free on all interfaces right now (held open until all are chosen)."""
    socks, ports = [], []
    with ExitStack() as stack:
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    return ports


def listening_addresses(pids: list[int]) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every TCP socket in LISTEN state owned by `pids`."""
    import psutil

    wanted = set(pids)
    out = []
    for c in psutil.net_connections("tcp"):
        if c.pid in wanted and c.status == psutil.CONN_LISTEN and c.laddr:
            out.append((c.pid, c.laddr.ip, c.laddr.port))
    return out


# ------------------------------------------------------------------------- state
@dataclass
class NodeRecord:
    """One `ray start` node: its session (= pid of the `ray start` we ran), temp dir, ports."""

    name: str
    role: str  # "head" | "worker"
    temp_dir: str
    sid: int
    started_at: float
    num_cpus: int
    ports: dict[str, int]
    log: str

    def processes(self) -> list[Any]:
        return session_processes(self.sid, self.started_at, self.temp_dir)

    def raylet(self) -> Any | None:
        for p in self.processes():
            try:
                if p.name() == "raylet":
                    return p
            except Exception:
                continue
        return None


@dataclass
class ClusterState:
    """What `soclab cluster local` started; `state_dir/state.json`."""

    state_dir: str
    address: str
    token_file: str
    temp_root: str
    created_at: float
    nodes: list[NodeRecord] = field(default_factory=list)
    tracking: dict[str, Any] | None = None

    @property
    def path(self) -> Path:
        return Path(self.state_dir) / STATE_FILE

    @property
    def tracking_uri(self) -> str | None:
        return self.tracking["url"] if self.tracking else None

    def node(self, name: str) -> NodeRecord:
        for n in self.nodes:
            if n.name == name:
                return n
        raise ConfigError(f"no node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")

    def client_env(self) -> dict[str, str]:
        """The environment a driver (or `ray` CLI) needs to use this cluster."""
        from soclab.loopback import LOCAL_ONLY_ENV

        # the nodes listen on loopback only: a driver must keep its loopback node address too
        env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": self.token_file,
               "RAY_ADDRESS": self.address, LOCAL_ONLY_ENV: "0"}
        if self.tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        return env

    def save(self) -> None:
        """state.json (it records the tracking backend URI, which can carry a password) and
        env.sh, both 0600 in a 0700 directory (soclab.private)."""
        from soclab.private import write_private

        write_private(self.path, json.dumps(asdict(self), indent=1))
        lines = [f"export {k}={_shq(v)}" for k, v in self.client_env().items()]
        write_private(Path(self.state_dir) / ENV_FILE, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, state_dir: str | Path) -> ClusterState:
        path = Path(state_dir) / STATE_FILE
        if not path.is_file():
            raise ConfigError("no cluster recorded here (start one with `soclab cluster local`)",
                              str(path))
        d = json.loads(path.read_text())
        d["nodes"] = [NodeRecord(**n) for n in d.get("nodes", [])]
        return cls(**d)


def _shq(v: str) -> str:
    import shlex

    return shlex.quote(v)


def default_state_dir() -> Path:
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env).expanduser().resolve() if env else Path.home() / ".soclab" / "cluster"


def temp_root_for(state_dir: Path) -> Path:
    """Ray's temp dirs must be short (Unix socket paths are limited to ~107 bytes), so they live
    in /tmp under a name derived from the state dir, not inside it."""
    digest = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"soclab-ray-{os.getuid()}-{digest}"


def ray_executable() -> str:
    exe = Path(sys.executable).with_name("ray")
    if exe.exists():
        return str(exe)
    found = shutil.which("ray")
    if not found:
        raise ConfigError("the `ray` command is not installed (pip install 'ray[default]')")
    return found


def node_env(token_file: str, tracking_uri: str | None, base: dict[str, str] | None = None
             ) -> dict[str, str]:
    """Environment of every node process: token auth on (token read from a 0600 file), no
    usage stats, the shared tracking URI; no inherited RAY_ADDRESS/RAY_AUTH_TOKEN."""
    env = dict(os.environ if base is None else base)
    for k in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):
        env.pop(k, None)
    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": token_file,
                "RAY_USAGE_STATS_ENABLED": "0"})
    # `ray job submit -- soclab ...` entrypoints run with the node's PATH: this interpreter's tools
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def ray_start_command(role: str, *, gcs_port: int, temp_dir: str, num_cpus: int,
                      object_store_bytes: int, ports: dict[str, int], dashboard: bool = False
                      ) -> list[str]:
    """`ray start` for a head or a worker node of a one-machine cluster, through
    `soclab.loopback` so the loopback node address is kept (see that module)."""
    cmd = [sys.executable, "-m", "soclab.loopback", "start"]
    if role == "head":
        cmd += ["--head", f"--port={gcs_port}", f"--include-dashboard={str(dashboard).lower()}",
                f"--dashboard-host={LOOPBACK}"]
    else:
        cmd += [f"--address={LOOPBACK}:{gcs_port}"]
    cmd += [f"--node-ip-address={LOOPBACK}", f"--temp-dir={temp_dir}", f"--num-cpus={num_cpus}",
            "--num-gpus=0", f"--object-store-memory={object_store_bytes}", "--disable-usage-stats",
            "--min-worker-port=0", "--max-worker-port=0"]
    cmd += [f"--{k.replace('_', '-')}={v}" for k, v in sorted(ports.items())]
    return cmd


def _start_node(state: ClusterState, name: str, role: str, gcs_port: int, num_cpus: int,
                object_store_bytes: int, env: dict[str, str], dashboard: bool,
                timeout: float) -> NodeRecord:
    names = NODE_PORTS + (HEAD_PORTS if role == "head" else ())
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    temp_dir = str(Path(state.temp_root) / name)
    log = Path(state.state_dir) / "logs" / f"{name}.log"
    from soclab.private import private_dir

    private_dir(log.parent)
    cmd = ray_start_command(role, gcs_port=gcs_port, temp_dir=temp_dir, num_cpus=num_cpus,
                            object_store_bytes=object_store_bytes, ports=ports, dashboard=dashboard)
    started = time.time()
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    record = NodeRecord(name, role, temp_dir, proc.pid, started, num_cpus, ports, str(log))
    state.nodes.append(record)  # recorded before waiting, so a failed start is still stopped
    state.save()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    if rc != 0:
        raise ConfigError(f"`ray start` for {name} failed ({'timeout' if rc is None else rc}): "
                          f"{tail_log(log)}", str(log))
    return record


def cluster_nodes(address: str, env: dict[str, str], timeout: float = 30.0) -> list[dict[str, Any]]:
    """The cluster's nodes as GCS sees them (node id, alive, CPUs, raylet socket), asked from a
    separate process so this one's Ray/auth settings stay untouched."""
    script = (
        "import json, sys\n"
        "from ray._raylet import GcsClient\n"
        "from ray.core.generated import gcs_pb2\n"
        "c = GcsClient(address=sys.argv[1])\n"
        "nodes = c.get_all_node_info(timeout=10)\n"
        "print(json.dumps([{'node_id': k.hex(), 'alive': v.state == gcs_pb2.GcsNodeInfo.ALIVE,\n"
        "  'ip': v.node_manager_address, 'is_head': v.is_head_node,\n"
        "  'cpus': dict(v.resources_total).get('CPU', 0), 'socket': v.raylet_socket_name}\n"
        "  for k, v in nodes.items()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, address], env=env, capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise ConfigError(f"cannot query the cluster at {address}: "
                          f"{out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_nodes(address: str, env: dict[str, str], count: int, timeout: float = 60.0
                   ) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    nodes: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        nodes = [n for n in cluster_nodes(address, env) if n["alive"]]
        if len(nodes) >= count:
            return nodes
        time.sleep(1.0)
    raise ConfigError(f"only {len(nodes)} of {count} Ray nodes came up within {timeout:.0f} s")


def running_state(state_dir: Path) -> ClusterState | None:
    """The recorded cluster if any of its processes still runs."""
    try:
        state = ClusterState.load(state_dir)
    except ConfigError:
        return None
    alive = any(n.processes() for n in state.nodes)
    if state.tracking:
        alive = alive or bool(session_processes(state.tracking["pid"], state.tracking["started_at"]))
    return state if alive else None


def start_local_cluster(
    workers: int = 1,
    *,
    port: int | None = None,
    state_dir: str | Path | None = None,
    tracking: bool = True,
    tracking_port: int | None = None,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    head_cpus: int = 1,
    worker_cpus: int = 1,
    object_store_mb: int = 128,
    dashboard: bool = False,
    timeout: float = 120.0,
) -> ClusterState:
    """Start a head + `workers` worker nodes (separate `ray start` processes) and a tracking
    server on this machine, token auth on; everything recorded in `state_dir/state.json`.
    On any failure, everything started so far is stopped again."""
    if workers < 0:
        raise ConfigError("must be >= 0", "--workers")
    sdir = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
    if running_state(sdir):
        raise ConfigError("a cluster started from this state dir is still running; stop it "
                          "with `soclab cluster down` (or use another --state-dir)", str(sdir))
    from soclab.private import private_dir, write_private

    private_dir(sdir)
    token_file = write_private(sdir / TOKEN_FILE, secrets.token_hex(32))
    gcs_port = port or free_ports(1)[0]
    temp_root = temp_root_for(sdir)
    if temp_root.exists():
        shutil.rmtree(temp_root, ignore_errors=True)
    temp_root.mkdir(parents=True, mode=0o700)
    state = ClusterState(str(sdir), f"{LOOPBACK}:{gcs_port}", str(token_file), str(temp_root),
                         time.time())
    state.save()
    try:
        if tracking:
            from soclab.tracking_server import start_tracking_server

            server = start_tracking_server(
                host=LOOPBACK, port=tracking_port or free_ports(1)[0],
                backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination,
                workdir=sdir, log_file=sdir / "logs" / "mlflow-server.log",
                env=node_env(str(token_file), None))
            state.tracking = asdict(server)
            state.save()
        env = node_env(str(token_file), state.tracking_uri)
        osb = object_store_mb * 2**20
        _start_node(state, "head", "head", gcs_port, head_cpus, osb, env, dashboard, timeout)
        for i in range(1, workers + 1):
            _start_node(state, f"worker-{i}", "worker", gcs_port, worker_cpus, osb, env, False,
                        timeout)
        wait_for_nodes(state.address, env, 1 + workers, timeout=60.0)
    except BaseException:
        stop_local_cluster(sdir)
        raise
    return state


def stop_local_cluster(state_dir: str | Path | None = None, keep_logs: bool = False,
                       grace: float = 5.0) -> dict[str, int]:
    """Stop exactly what `start_local_cluster` started (workers, head, tracking server), by
    session and temp dir; remove the state and token. Returns processes stopped per component."""
    sdir = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
    state = ClusterState.load(sdir)
    groups: dict[str, tuple[int, float, str | None]] = {
        n.name: (n.sid, n.started_at, n.temp_dir) for n in state.nodes}
    if state.tracking:
        groups["tracking-server"] = (state.tracking["pid"], state.tracking["started_at"], None)
    procs = {name: session_processes(*g) for name, g in groups.items()}
    # Everything at once: stopping the head first would leave raylets retrying a dead GCS,
    # and waiting for Ray's own graceful shutdown takes tens of seconds per node.
    stop_processes([p for ps in procs.values() for p in ps], grace)
    stopped = {name: len(ps) + stop_session(*groups[name], grace=0.0, sig=signal.SIGKILL)
               for name, ps in procs.items()}
    if not keep_logs:
        shutil.rmtree(state.temp_root, ignore_errors=True)
    for name in (STATE_FILE, TOKEN_FILE, ENV_FILE):
        (sdir / name).unlink(missing_ok=True)
    return stopped


def kill_node(state: ClusterState, name: str, sig: int = signal.SIGKILL) -> int:
    """Kill one node abruptly (fault injection): every process of its session, at once."""
    node = state.node(name)
    return stop_session(node.sid, node.started_at, node.temp_dir, sig=sig, grace=2.0)


def cluster_status(state: ClusterState) -> dict[str, Any]:
    """Per node: live processes and whether its raylet runs; the tracking server's health;
    and GCS's view of the nodes when the head is up."""
    from soclab.tracking_server import is_healthy

    nodes = []
    for n in state.nodes:
        procs = n.processes()
        nodes.append({"name": n.name, "role": n.role, "processes": len(procs),
                      "raylet": any(_safe_name(p) == "raylet" for p in procs),
                      "temp_dir": n.temp_dir})
    out: dict[str, Any] = {"address": state.address, "nodes": nodes,
                           "tracking_uri": state.tracking_uri,
                           "tracking_healthy": bool(state.tracking_uri)
                           and is_healthy(state.tracking_uri)}
    head = next((n for n in nodes if n["role"] == "head"), None)
    if head and head["raylet"]:
        try:
            env = node_env(state.token_file, state.tracking_uri)
            out["gcs_alive_nodes"] = sum(n["alive"] for n in cluster_nodes(state.address, env))
        except (ConfigError, subprocess.SubprocessError, ValueError):
            out["gcs_alive_nodes"] = None
    return out


def _safe_name(p: Any) -> str:
    try:
        return p.name()
    except Exception:
        return ""

