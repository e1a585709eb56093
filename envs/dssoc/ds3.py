"""Importer for the text configurations of DS3 (Arda et al. 2020) and gym-ds3.

Reads `SoC.*.txt` resource files, `job_*.txt` application DAGs and `config_file.ini` run
configurations into dssoc's model, reproducing the DS3 parser's semantics (documented per
function). Every malformed input raises `ConfigError` naming `file:line` and what was expected.
"""

from __future__ import annotations

import configparser
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dssoc import checks
from dssoc.config import SimConfig
from dssoc.dvfs import parse_governor
from dssoc.errors import ConfigError, InvalidDAGError, UnsupportedTaskError
from dssoc.model import Application, Cluster, PowerSpec, SoC, Task, Workload

__all__ = ["Ds3Config", "read_ds3_config", "read_ds3_job", "read_ds3_soc"]

#: Resource types that model memory or caches, not processing elements; DS3 never runs a task
#: on them (they support only the dummy task `None`), so the importer leaves them out.
PSEUDO_RESOURCE_TYPES = ("MEM", "CAC")

#: Keywords of the keyword-format `add_new_resource` line, at token positions 1, 3, ..., 11.
_HEADER_KEYS = (
    "resource_type",
    "resource_name",
    "resource_ID",
    "capacity",
    "num_supported_functionalities",
    "DVFS_mode",
)
_BLOCK_KEYWORDS = ("opp", "trip_freq", "DTPM_trip_freq", "power_profile", "PG_profile",
                   "mesh_information")
_TOP_KEYWORDS = ("add_new_resource", "comm_band", "comm_band_self")


# --------------------------------------------------------------------------------------------
# Low-level helpers
# --------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    """Read a file, turning a missing or unreadable file into a ConfigError."""
    if not path.is_file():
        raise ConfigError("file not found", str(path))
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read file: {e}", str(path)) from None


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, tokens) of the meaningful lines; like DS3, a line whose first token
    contains '#' is a comment, and blank lines are skipped."""
    for lineno, raw in enumerate(_read_text(path).splitlines(), start=1):
        tokens = raw.split()
        if not tokens or "#" in tokens[0]:
            continue
        yield lineno, tokens


def _int(token: str, what: str, where: str) -> int:
    """Parse an integer token or raise a ConfigError saying what was expected."""
    try:
        return int(token)
    except ValueError:
        raise ConfigError(f"expected an integer {what}, got {token!r}", where) from None


def _number(token: str, what: str, where: str) -> float:
    """Parse a finite number token or raise a ConfigError saying what was expected."""
    try:
        value = float(token)
    except ValueError:
        raise ConfigError(f"expected a number for {what}, got {token!r}", where) from None
    if not math.isfinite(value):
        raise ConfigError(f"expected a finite number for {what}, got {token!r}", where)
    return value


def _need(tokens: list[str], n: int, form: str, where: str) -> None:
    """Require at least n tokens on a line whose expected form is `form`."""
    if len(tokens) < n:
        raise ConfigError(f"expected '{form}', got {' '.join(tokens)!r}", where)


def _soc_name(path: Path) -> str:
    """`SoC.MULTIPLE_BAL.txt` -> `MULTIPLE_BAL`; `DASH.SoC.Top.txt` -> `Top`."""
    name = path.stem
    for prefix in ("DASH.", "SoC."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name or path.stem


# --------------------------------------------------------------------------------------------
# SoC resource files
# --------------------------------------------------------------------------------------------


@dataclass
class _Resource:
    """A resource block while it is being read (mutable; becomes a `Cluster`)."""

    kind: str
    name: str
    ident: int
    capacity: int
    n_functions: int
    lineno: int
    n_read: int = 0
    exec_us: dict[str, float] = field(default_factory=dict)
    opps: list[tuple[int, int]] = field(default_factory=list)
    power_profile: dict[int, tuple[float, ...]] = field(default_factory=dict)
    pg_profile: dict[int, tuple[float, ...]] = field(default_factory=dict)
    trip_freq: tuple[int, ...] = ()
    governor: str = "performance"

    @property
    def pseudo(self) -> bool:
        return self.kind.upper() in PSEUDO_RESOURCE_TYPES


def _parse_header(tokens: list[str], where: str) -> tuple[str, str, str, str, str, str, bool]:
    """Split an `add_new_resource` line into (type, name, ID, capacity, n, DVFS, keyword_format).

    Keyword format (DS3): values sit at positions 2, 4, ..., 12 and DS3 ignores the keywords,
    so typos such as `resoruce_type` are accepted; a keyword that names a *different* field
    (fields out of order) is an error. Positional format (gym-ds3, early DS3): 7 tokens.
    """
    if len(tokens) == 13:
        for i, expected in enumerate(_HEADER_KEYS):
            got = tokens[1 + 2 * i]
            if got != expected and got in _HEADER_KEYS:
                raise ConfigError(
                    f"expected keyword {expected!r} at position {2 + 2 * i} of add_new_resource "
                    f"(fields must be in the order {' '.join(_HEADER_KEYS)}), got {got!r}",
                    where,
                )
        kind, name, ident, capacity, n_functions, dvfs = tokens[2::2]
        return kind, name, ident, capacity, n_functions, dvfs, True
    if len(tokens) == 7:
        kind, name, ident, capacity, n_functions, dvfs = tokens[1:7]
        return kind, name, ident, capacity, n_functions, dvfs, False
    raise ConfigError(
        "expected 'add_new_resource resource_type T resource_name N resource_ID i capacity c "
        "num_supported_functionalities n DVFS_mode m' (or the positional 'add_new_resource T N i "
        f"c n m'), got {len(tokens) - 1} fields",
        where,
    )


def _profile(tokens: list[str], where: str) -> tuple[int, tuple[float, ...]]:
    """Parse `power_profile F w1 .. wN` / `PG_profile F w1 .. wN`."""
    _need(tokens, 3, f"{tokens[0]} frequency_MHz watts_1 ... watts_N", where)
    freq = _int(tokens[1], "frequency (MHz)", where)
    watts = tuple(_number(t, f"{tokens[0]} power (W)", where) for t in tokens[2:])
    return freq, watts


def read_ds3_soc(path: str | Path) -> SoC:
    """Parse a DS3 or gym-ds3 SoC resource file into an `SoC` (one cluster per resource).

    DS3 semantics reproduced: each `add_new_resource` is a cluster of `capacity` PEs whose block
    ends after `num_supported_functionalities` functionality lines (`task time [power]`); a task
    listed twice keeps its first time (DS3 looks times up with `list.index`); `opp`, `trip_freq`,
    `DTPM_trip_freq`, `power_profile`, `PG_profile` and `mesh_information` lines belong to the
    open block. `comm_band a b V` takes resource IDs and sets the bandwidth between *different*
    PEs of clusters a and b (symmetric, last line wins); pairs never given keep DS3's initial 1.
    The same-PE bandwidth is the `comm_band_self` value in force when `comm_band a a` is read
    (DS3 default 1); in the positional format without `comm_band_self`, `comm_band a a V` sets it
    (gym-ds3 indexes its matrix by resource, one PE each). DS3 re-creates the bandwidth matrix
    at every `add_new_resource`, so `comm_band` lines placed before a later resource are lost
    (a warning says so). Memory and cache pseudo-resources (types MEM, CAC) are left out and
    named in the description.
    """
    path = Path(path)
    resources: list[_Resource] = []
    current: _Resource | None = None
    formats: set[bool] = set()
    comm_band_self: float | None = None
    pairs: dict[tuple[int, int], tuple[float, int]] = {}  # (a<=b) -> (value, line)
    diag_self: dict[int, float] = {}

    for lineno, tok in _lines(path):
        where = f"{path}:{lineno}"
        key = tok[0]
        if current is not None:
            if key == "opp":
                _need(tok, 3, "opp frequency_MHz voltage_mV", where)
                current.opps.append((_int(tok[1], "frequency (MHz)", where),
                                     _int(tok[2], "voltage (mV)", where)))
            elif key in ("trip_freq", "DTPM_trip_freq"):
                freqs = tuple(_int(t, f"{key} frequency (MHz, -1 = unchanged)", where) for t in tok[1:])
                if key == "trip_freq":
                    current.trip_freq = freqs
            elif key == "power_profile":
                f, w = _profile(tok, where)
                current.power_profile[f] = w
            elif key == "PG_profile":
                f, w = _profile(tok, where)
                current.pg_profile[f] = w
            elif key == "mesh_information":
                pass  # NoC floor-plan data (name, position, size, colour): not modelled
            elif key in _TOP_KEYWORDS:
                raise ConfigError(
                    f"resource {current.name!r} (line {current.lineno}) declares "
                    f"num_supported_functionalities {current.n_functions} but only "
                    f"{current.n_read} functionality lines precede this {key!r} line",
                    where,
                )
            else:
                _need(tok, 2, "task_name execution_time_us", where)
                t = _number(tok[1], f"the execution time of {key!r} (us)", where)
                if t < 0:
                    raise ConfigError(f"expected an execution time >= 0 for {key!r}, got {t:g}",
                                      where)
                current.exec_us.setdefault(key, t)  # first entry wins, as DS3's list.index
                current.n_read += 1
                if current.n_read == current.n_functions:
                    current = None
            continue

        if key == "add_new_resource":
            kind, name, ident_s, cap_s, nfun_s, dvfs_mode, keyword = _parse_header(tok, where)
            formats.add(keyword)
            if len(formats) > 1:
                raise ConfigError("mixes the keyword and the positional add_new_resource "
                                  "formats; use one", where)
            ident = _int(ident_s, "resource_ID", where)
            if ident != len(resources):
                raise ConfigError(
                    f"expected resource_ID {len(resources)} (DS3 indexes resources by ID, so "
                    f"they must be numbered 0, 1, 2, ... in file order), got {ident}",
                    where,
                )
            capacity = _int(cap_s, "capacity", where)
            if capacity < 1:
                raise ConfigError(f"expected a capacity >= 1, got {capacity}", where)
            n_functions = _int(nfun_s, "num_supported_functionalities", where)
            if n_functions < 1:
                raise ConfigError(
                    f"expected num_supported_functionalities >= 1, got {n_functions}", where)
            if any(r.name == name for r in resources):
                raise ConfigError(f"duplicate resource_name {name!r}", where)
            if pairs:
                warnings.warn(
                    f"{where}: DS3 resets the bandwidth matrix at each add_new_resource; the "
                    f"{len(pairs)} comm_band line(s) before this line are discarded",
                    stacklevel=2,
                )
                pairs.clear()
                diag_self.clear()
            current = _Resource(kind, name, ident, capacity, n_functions, lineno)
            if kind.upper() not in PSEUDO_RESOURCE_TYPES:
                current.governor = parse_governor(dvfs_mode, where)
            resources.append(current)
        elif key == "comm_band_self":
            _need(tok, 2, "comm_band_self bandwidth", where)
            comm_band_self = _number(tok[1], "the same-PE bandwidth", where)
        elif key == "comm_band":
            _need(tok, 4, "comm_band resource_ID_a resource_ID_b bandwidth", where)
            a = _int(tok[1], "resource_ID", where)
            b = _int(tok[2], "resource_ID", where)
            value = _number(tok[3], "the bandwidth", where)
            for r in (a, b):
                if not 0 <= r < len(resources):
                    raise ConfigError(
                        f"comm_band names resource_ID {r}, but only IDs 0..{len(resources) - 1} "
                        "are defined above this line",
                        where,
                    )
            pairs[(min(a, b), max(a, b))] = (value, lineno)
            if a == b:
                positional = formats == {False}
                if comm_band_self is not None:
                    diag_self[a] = comm_band_self
                elif positional:
                    diag_self[a] = value
                else:
                    diag_self[a] = 1.0
        else:
            raise ConfigError(
                f"expected add_new_resource, comm_band or comm_band_self, got {key!r}", where)

    if current is not None:
        raise ConfigError(
            f"resource {current.name!r} (line {current.lineno}) declares "
            f"num_supported_functionalities {current.n_functions} but the file ends after "
            f"{current.n_read} functionality lines",
            f"{path}:{current.lineno}",
        )
    kept = [r for r in resources if not r.pseudo]
    if not kept:
        raise ConfigError("no processing resource (only memory/cache pseudo-resources)", str(path))

    bandwidth: dict[tuple[str, str], float] = {}
    for (a, b), (value, lineno) in pairs.items():
        ra, rb = resources[a], resources[b]
        if ra.pseudo or rb.pseudo:
            continue
        if value <= 0:
            raise ConfigError(f"expected a bandwidth > 0 between {ra.name} and {rb.name}, "
                              f"got {value:g}", f"{path}:{lineno}")
        bandwidth[(ra.name, rb.name)] = value

    self_values = [diag_self.get(r.ident, 1.0) for r in kept]
    self_bw = Counter(self_values).most_common(1)[0][0]
    if len(set(self_values)) > 1:
        warnings.warn(
            f"{path}: the same-PE bandwidth differs between clusters in DS3 "
            f"({dict(zip([r.name for r in kept], self_values, strict=True))}); dssoc has one "
            f"value and uses {self_bw:g}",
            stacklevel=2,
        )
    if self_bw <= 0:
        raise ConfigError(f"expected a same-PE bandwidth > 0, got {self_bw:g}", str(path))

    clusters = []
    for r in kept:
        power = None
        if r.opps:
            power = PowerSpec(tuple(sorted(r.opps)), dict(r.power_profile), dict(r.pg_profile),
                              r.trip_freq)
        try:
            clusters.append(Cluster(r.name, r.kind, r.capacity, dict(r.exec_us), power, r.governor))
        except ConfigError as e:  # a governor the cluster's operating points cannot serve
            raise ConfigError(str(e).split(": ", 1)[-1], f"{path}:{r.lineno}") from None
    dropped = [f"{r.name} ({r.kind})" for r in resources if r.pseudo]
    description = f"Imported from the DS3 resource file {path.name}"
    if dropped:
        description += f"; memory/cache pseudo-resources omitted: {', '.join(dropped)}"
    return SoC(
        name=_soc_name(path),
        clusters=tuple(clusters),
        bandwidth=bandwidth,
        self_bandwidth=self_bw,
        default_bandwidth=1.0,
        description=description + ".",
    )


# --------------------------------------------------------------------------------------------
# Job (application DAG) files
# --------------------------------------------------------------------------------------------


@dataclass
class _JobTask:
    """A task while its job file is being read."""

    name: str
    ident: int
    preds: list[int]
    lineno: int
    head: bool = False
    tail: bool = False
    timing: bool = False
    deadline: float = 0.0


def read_ds3_job(path: str | Path) -> Application:
    """Parse a DS3 `job_*.txt` file into an `Application` (task index = task ID).

    Format: `job_name X`, `add_new_tasks N`, then per task `name id pred_ids...`, an optional
    `name HEAD` / `name TAIL`, and `name earliest_start s deadline d ...`; then
    `comm_vol src dst volume` lines (an edge without one has volume 0, as in DS3's zero matrix;
    the last line for an edge wins). HEAD/TAIL marks are checked against the graph and dropped:
    dssoc derives heads and tails from the edges.
    """
    path = Path(path)
    job_name: str | None = None
    n_tasks: int | None = None
    tasks: list[_JobTask] = []
    block_open = False
    volume_lines: list[tuple[int, int, float, int]] = []

    for lineno, tok in _lines(path):
        where = f"{path}:{lineno}"
        key = tok[0]
        if block_open:
            second = tok[1] if len(tok) > 1 else None
            if second in ("HEAD", "TAIL", "earliest_start"):
                if not tasks:
                    raise ConfigError(f"expected a task line 'name id preds...' before this "
                                      f"{second} line", where)
                last = tasks[-1]
                if key != last.name:
                    raise ConfigError(
                        f"expected this {second} line to name the task just defined, "
                        f"{last.name!r}, got {key!r}",
                        where,
                    )
                if second == "HEAD":
                    last.head = True
                elif second == "TAIL":
                    last.tail = True
                else:
                    _need(tok, 5, f"{key} earliest_start s deadline d", where)
                    _number(tok[2], "earliest_start", where)
                    last.deadline = _number(tok[4], "deadline", where)
                    last.timing = True
                    if len(tasks) == n_tasks:
                        block_open = False
                continue
            if key in ("comm_vol", "job_name", "add_new_tasks"):
                missing = [t.name for t in tasks if not t.timing]
                raise ConfigError(
                    f"add_new_tasks announced {n_tasks} tasks but this {key!r} line comes after "
                    f"{len(tasks)} task(s)"
                    + (f"; missing 'earliest_start' line for {missing[-1]!r}" if missing else ""),
                    where,
                )
            if len(tasks) == n_tasks:
                raise ConfigError(
                    f"expected '{tasks[-1].name} earliest_start s deadline d' closing the last of "
                    f"the {n_tasks} tasks, got {' '.join(tok)!r}",
                    where,
                )
            _need(tok, 2, "task_name task_id predecessor_ids...", where)
            ident = _int(tok[1], f"task id for {key!r}", where)
            preds = [_int(t, f"predecessor id for {key!r}", where) for t in tok[2:]]
            if tasks and not tasks[-1].timing:
                raise ConfigError(
                    f"expected '{tasks[-1].name} earliest_start s deadline d' before the next "
                    f"task, got {' '.join(tok)!r}",
                    where,
                )
            tasks.append(_JobTask(key, ident, list(dict.fromkeys(preds)), lineno))
            continue

        if key == "job_name":
            _need(tok, 2, "job_name name", where)
            if job_name is not None or n_tasks is not None:
                raise ConfigError("expected one job_name before add_new_tasks", where)
            job_name = tok[1]
        elif key == "add_new_tasks":
            _need(tok, 2, "add_new_tasks number_of_tasks", where)
            if n_tasks is not None:
                raise ConfigError("expected a single add_new_tasks block per job file", where)
            n_tasks = _int(tok[1], "number of tasks", where)
            if n_tasks < 1:
                raise ConfigError(f"expected add_new_tasks >= 1, got {n_tasks}", where)
            block_open = True
        elif key == "comm_vol":
            _need(tok, 4, "comm_vol source_id destination_id volume", where)
            if n_tasks is None:
                raise ConfigError("expected add_new_tasks before comm_vol lines", where)
            src = _int(tok[1], "source task id", where)
            dst = _int(tok[2], "destination task id", where)
            vol = _number(tok[3], "the communication volume", where)
            if vol < 0:
                raise ConfigError(f"expected a volume >= 0, got {vol:g}", where)
            volume_lines.append((src, dst, vol, lineno))
        elif n_tasks is not None and len(tok) >= 2 and tok[1].lstrip("-").isdigit():
            raise ConfigError(f"add_new_tasks announced {n_tasks} tasks, but this line defines "
                              f"another task {key!r}", where)
        else:
            raise ConfigError(f"expected job_name, add_new_tasks or comm_vol, got {key!r}", where)

    if n_tasks is None:
        raise ConfigError("expected an 'add_new_tasks N' line; the file defines no tasks",
                          str(path))
    if block_open:
        raise ConfigError(
            f"add_new_tasks announced {n_tasks} tasks but the file ends after {len(tasks)} "
            "(each task needs its 'earliest_start' line)",
            str(path),
        )

    by_id: dict[int, _JobTask] = {}
    for t in tasks:
        where = f"{path}:{t.lineno}"
        if not 0 <= t.ident < n_tasks:
            raise ConfigError(f"expected a task id in 0..{n_tasks - 1}, got {t.ident}", where)
        if t.ident in by_id:
            raise ConfigError(f"duplicate task id {t.ident} (also {by_id[t.ident].name!r})", where)
        by_id[t.ident] = t
    for t in tasks:
        for p in t.preds:
            if not 0 <= p < n_tasks:
                raise InvalidDAGError(
                    f"task {t.name!r} names predecessor id {p}, expected 0..{n_tasks - 1}",
                    f"{path}:{t.lineno}",
                )
            if p == t.ident:
                raise InvalidDAGError(f"task {t.name!r} depends on itself", f"{path}:{t.lineno}")

    ordered = [by_id[i] for i in range(n_tasks)]
    edges = {(p, t.ident) for t in ordered for p in t.preds}
    volumes: dict[tuple[int, int], float] = {}
    for src, dst, vol, lineno in volume_lines:
        where = f"{path}:{lineno}"
        for x in (src, dst):
            if not 0 <= x < n_tasks:
                raise ConfigError(f"expected a task id in 0..{n_tasks - 1}, got {x}", where)
        if (src, dst) not in edges:
            warnings.warn(
                f"{where}: comm_vol {src} {dst} is not an edge of the DAG ({by_id[dst].name!r} "
                f"does not list {src} as predecessor); DS3 never reads it, dssoc ignores it",
                stacklevel=2,
            )
            continue
        volumes[(src, dst)] = vol

    name = job_name or path.stem
    # The job's deadline: the latest deadline of its exit tasks (DS3 gives one per task).
    has_pred_of = {p for t in ordered for p in t.preds}
    exit_deadlines = [t.deadline for t in ordered if t.ident not in has_pred_of and t.deadline > 0]
    try:
        app = Application(
            name=name,
            tasks=tuple(Task(t.name, tuple(t.preds)) for t in ordered),
            volumes=volumes,
            description=f"Imported from the DS3 job file {path.name} (job_name {name}).",
            deadline_us=max(exit_deadlines) if exit_deadlines else None,
        )
    except InvalidDAGError as e:
        message = str(e)
        if e.where and message.startswith(f"{e.where}: "):
            message = message[len(e.where) + 2:]
        raise InvalidDAGError(message, str(path)) from None

    has_succ = {p for p, _ in edges}
    for t in ordered:
        where = f"{path}:{t.lineno}"
        if t.head and t.preds:
            raise InvalidDAGError(f"task {t.name!r} is marked HEAD but has predecessors {t.preds}",
                                  where)
        if t.tail and t.ident in has_succ:
            raise InvalidDAGError(f"task {t.name!r} is marked TAIL but has successors", where)

    return app


# --------------------------------------------------------------------------------------------
# config_file.ini
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ds3Config:
    """A DS3 `config_file.ini`: the SoC, the application mix and the run parameters.

    `scale_us` is `[SIMULATION MODE] scale` (DS3 uses it in validation mode); `scale_values` is
    the performance-mode sweep. `warmup_us` is 0 in validation mode, as DS3 forces it.
    """

    path: Path
    soc: SoC
    applications: tuple[Application, ...]
    probabilities: tuple[float, ...]
    scheduler: str
    scale_us: float
    scale_values: list[int]
    warmup_us: float
    simulation_length_us: float
    max_jobs_in_parallel: int
    inject_fixed_num_jobs: bool
    max_jobs: int
    fixed_injection_rate: bool
    standard_deviation: float
    random_seed: int
    simulation_mode: str
    throttling: bool = False  # [POWER MANAGEMENT] enable_throttling

    @property
    def default_scale_us(self) -> float:
        """The scale DS3 would run: `scale` in validation mode, else the first `scale_values`."""
        if self.simulation_mode == "performance" and self.scale_values:
            return float(self.scale_values[0])
        return self.scale_us

    def workload(self, probabilities: tuple[float, ...] | list[float] | None = None) -> Workload:
        """The application mix as a `Workload` named after the ini file."""
        probs = self.probabilities if probabilities is None else tuple(map(float, probabilities))
        if len(probs) != len(self.applications):
            raise ConfigError(
                f"{len(probs)} probabilities for {len(self.applications)} applications",
                "probabilities",
            )
        return Workload(
            name=self.path.stem,
            applications=self.applications,
            probabilities=probs,
            soc=self.soc.name,
            description=f"Application mix of the DS3 configuration {self.path.name}.",
        )

    def to_sim_config(
        self,
        scale_us: float | None = None,
        duration_us: float | None = None,
        warmup_us: float | None = None,
        probabilities: tuple[float, ...] | list[float] | None = None,
    ) -> SimConfig:
        """A `SimConfig` reproducing this DS3 run; arguments override the ini's values.

        The run lasts `simulation_length` (DS3 stops there in both modes) and, with
        `inject_fixed_num_jobs`, also after `max_jobs` jobs. A `standard_deviation` > 0 becomes
        gym-ds3's relative Gaussian execution-time noise.
        """
        from dssoc.noise import GaussianNoise

        noise = (GaussianNoise(self.standard_deviation),) if self.standard_deviation > 0 else ()
        return SimConfig(
            soc=self.soc,
            workload=self.workload(probabilities),
            scale_us=float(scale_us if scale_us is not None else self.default_scale_us),
            fixed_rate=self.fixed_injection_rate,
            max_jobs_in_flight=self.max_jobs_in_parallel,
            warmup_us=float(warmup_us if warmup_us is not None else self.warmup_us),
            duration_us=float(
                duration_us if duration_us is not None else self.simulation_length_us),
            max_jobs=self.max_jobs if self.inject_fixed_num_jobs else None,
            noise=noise,
            integer_times=True,
            arrival_streams="ds3",  # seed k then reproduces DS3's iteration k job for job
            throttling=self.throttling,
        )


def _ini_line(text: str, key: str) -> int | None:
    """Line number of the (last) definition of `key` in an ini text, for error messages."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    found = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            found = lineno
    return found


def _parse_scale_values(value: str, where: str) -> list[int]:
    """DS3's `start-stop-step` ranges (comma-separated, mixed with single values or `[..]`)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    out: list[int] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if "-" in part:
            bits = part.split("-")
            if len(bits) != 3:
                raise ConfigError(f"expected scale_values as start-stop-step, got {part!r}", where)
            start, stop, step = (_int(b, "in start-stop-step", where) for b in bits)
            if step == 0:
                raise ConfigError(f"expected a non-zero step in {part!r}", where)
            out.extend(range(start, stop, step))
        else:
            out.append(_int(part, "scale value", where))
    if any(v <= 0 for v in out):
        raise ConfigError(f"expected scale values > 0 (us), got {out}", where)
    return out


def _parse_probabilities(value: str, where: str) -> tuple[float, ...]:
    """`[0.8,0.2,0,0]` (brackets optional) -> (0.8, 0.2, 0.0, 0.0)."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    probs = tuple(_number(p.strip(), "a job probability", where)
                  for p in text.split(",") if p.strip())
    if not probs:
        raise ConfigError("expected a list of job probabilities like [0.8,0.2]", where)
    if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        raise ConfigError(f"expected probabilities >= 0 summing to 1, got {list(probs)}", where)
    return probs


def _resolve(base: Path, name: str, kind: str, where: str) -> Path:
    """Find a resource/job file named in an ini: next to it, in config_SoC/ or config_Jobs/,
    or in those folders one level up (DS3 keeps variants in config_Files/)."""
    candidates = [base / name, base / "config_SoC" / name, base / "config_Jobs" / name,
                  base.parent / "config_SoC" / name, base.parent / "config_Jobs" / name]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"{kind} {name!r} not found (tried {tried})", where)


def read_ds3_config(path: str | Path) -> Ds3Config:
    """Parse a DS3 `config_file.ini` and the SoC and job files it names.

    Keys are looked up in `[SIMULATION MODE]` then `[DEFAULT]`; keys DS3 requires but dssoc can
    default (clock, traces, power settings) are not read. `job_list` snippets are not supported.
    """
    path = Path(path)
    text = _read_text(path)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:
        lineno = getattr(e, "lineno", None)
        if lineno is None and getattr(e, "errors", None):
            lineno = e.errors[0][0]  # type: ignore[attr-defined]
        where = f"{path}:{lineno}" if lineno else str(path)
        raise ConfigError(f"invalid ini syntax: {e.message.splitlines()[0]}", where) from None

    has_mode = parser.has_section("SIMULATION MODE")
    section = parser["SIMULATION MODE"] if has_mode else parser["DEFAULT"]

    def where_of(key: str) -> str:
        lineno = _ini_line(text, key)
        return f"{path}:{lineno}" if lineno else f"{path}: [{key}]"

    def get(key: str, default: str | None = None) -> str:
        value = section.get(key)
        if value is None:
            if default is None:
                raise ConfigError(f"missing key {key!r} (expected in [DEFAULT])", str(path))
            return default
        return value.strip()

    def get_int(key: str, default: str) -> int:
        return _int(get(key, default), key, where_of(key))

    def get_float(key: str, default: str) -> float:
        return _number(get(key, default), key, where_of(key))

    def get_bool(key: str, default: str) -> bool:
        value = get(key, default).lower()
        if value not in parser.BOOLEAN_STATES:
            raise ConfigError(f"expected yes/no for {key}, got {value!r}", where_of(key))
        return parser.BOOLEAN_STATES[value]

    soc_path = _resolve(path.parent, get("resource_file"), "resource_file",
                        where_of("resource_file"))
    old_key = section.get("job_file") is None and section.get("task_file") is not None
    job_key = "task_file" if old_key else "job_file"
    job_names = [j.strip() for j in get(job_key).split(",") if j.strip()]
    if not job_names:
        raise ConfigError("expected at least one job file name", where_of(job_key))
    soc = read_ds3_soc(soc_path)
    apps = []
    for job in job_names:
        job_path = _resolve(path.parent, job, job_key, where_of(job_key))
        app = read_ds3_job(job_path)
        missing = sorted({t.name for t in app.tasks if not soc.supports(t.name)})
        if missing:
            raise UnsupportedTaskError(
                f"tasks {missing} of {job_path.name} run on no PE of {soc_path.name}",
                where_of(job_key))
        apps.append(app)
    probs = _parse_probabilities(get("job_probabilities"), where_of("job_probabilities"))
    if len(probs) != len(apps):
        raise ConfigError(f"expected {len(apps)} job probabilities (one per job file), got "
                          f"{len(probs)}", where_of("job_probabilities"))
    job_list = get("job_list", "[]").replace(" ", "")
    if job_list not in ("", "[]"):
        warnings.warn(f"{where_of('job_list')}: job_list snippets are not supported; the job "
                      "probabilities are used instead", stacklevel=2)

    mode = get("simulation_mode", "performance").lower()
    if mode not in ("performance", "validation"):
        raise ConfigError(f"expected simulation_mode performance or validation, got {mode!r}",
                          where_of("simulation_mode"))
    scale = get_float("scale", "100")
    if scale <= 0:
        raise ConfigError(f"expected a scale > 0 (us), got {scale:g}", where_of("scale"))
    warmup = get_float("warmup_period", "0")
    length = get_float("simulation_length", "100000")
    max_par = get_int("max_jobs_in_parallel", "12")
    max_jobs = get_int("max_jobs", "100")
    # the simulator's caps (dssoc.checks), reported at the ini line rather than as config.X
    checks.number(length, where_of("simulation_length"), le=checks.MAX_DURATION_US)
    checks.integer(max_jobs, where_of("max_jobs"), le=checks.MAX_JOBS)
    checks.integer(max_par, where_of("max_jobs_in_parallel"), le=checks.MAX_JOBS_IN_FLIGHT)
    if warmup < 0 or length <= 0 or max_par < 1 or max_jobs < 1:
        raise ConfigError(
            f"expected warmup_period >= 0, simulation_length > 0, max_jobs_in_parallel >= 1 and "
            f"max_jobs >= 1, got {warmup:g}, {length:g}, {max_par}, {max_jobs}", str(path))
    return Ds3Config(
        path=path,
        soc=soc,
        applications=tuple(apps),
        probabilities=probs,
        scheduler=get("scheduler", "ETF"),
        scale_us=scale,
        scale_values=_parse_scale_values(get("scale_values", ""), where_of("scale_values")),
        warmup_us=0.0 if mode == "validation" else warmup,
        simulation_length_us=length,
        max_jobs_in_parallel=max_par,
        inject_fixed_num_jobs=get_bool("inject_fixed_num_jobs", "no"),
        max_jobs=max_jobs,
        fixed_injection_rate=get_bool("fixed_injection_rate", "no"),
        standard_deviation=get_float("standard_deviation", "0"),
        random_seed=checks.seed(get_int("random_seed", "1"), where_of("random_seed")),
        simulation_mode=mode,
        throttling=_throttling(parser, where_of),
    )


def _throttling(parser: configparser.ConfigParser, where_of: Callable[[str], str]) -> bool:
    """DS3's `enable_throttling` in the [POWER MANAGEMENT] section (default off)."""
    if not parser.has_section("POWER MANAGEMENT"):
        return False
    value = parser["POWER MANAGEMENT"].get("enable_throttling", "no").strip().lower()
    if value not in parser.BOOLEAN_STATES:
        raise ConfigError(f"expected yes/no for enable_throttling, got {value!r}",
                          where_of("enable_throttling"))
    return parser.BOOLEAN_STATES[value]
