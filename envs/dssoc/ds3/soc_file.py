"""DS3 and gym-ds3 SoC resource files (`SoC.*.txt`, `DASH.SoC.*.txt`) into a `dssoc.model.SoC`.

`read_ds3_soc` documents the DS3 parser semantics it reproduces; `_SocReader` holds the state of
the line-by-line read, and the module functions turn what was read into clusters and bandwidths.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dssoc.ds3._tokens import need, parse_int, parse_number, token_lines
from dssoc.dvfs import parse_governor
from dssoc.errors import ConfigError
from dssoc.model import Cluster, PowerSpec, SoC

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
_TOP_KEYWORDS = ("add_new_resource", "comm_band", "comm_band_self")

#: Warnings raised in a `_SocReader` line handler, two calls below `read_ds3_soc`, name the line
#: of the code that called `read_ds3_soc` (as when the whole reader was one function).
_HANDLER_STACKLEVEL = 4


def soc_name(path: Path) -> str:
    """`SoC.MULTIPLE_BAL.txt` -> `MULTIPLE_BAL`; `DASH.SoC.Top.txt` -> `Top`."""
    name = path.stem
    for prefix in ("DASH.", "SoC."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name or path.stem


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
        """True for memory and cache pseudo-resources, which run no task."""
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
    need(tokens, 3, f"{tokens[0]} frequency_MHz watts_1 ... watts_N", where)
    freq = parse_int(tokens[1], "frequency (MHz)", where)
    watts = tuple(parse_number(t, f"{tokens[0]} power (W)", where) for t in tokens[2:])
    return freq, watts


class _SocReader:
    """What `read_ds3_soc` has read so far: the resources, the open block and the bandwidth
    lines in force (DS3 discards those read before a later `add_new_resource`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.resources: list[_Resource] = []
        self.current: _Resource | None = None  # the open resource block
        self.formats: set[bool] = set()  # keyword format (True) / positional (False) seen
        self.comm_band_self: float | None = None
        self.pairs: dict[tuple[int, int], tuple[float, int]] = {}  # (a<=b) -> (value, line)
        self.diag_self: dict[int, float] = {}  # resource ID -> same-PE bandwidth

    def line(self, lineno: int, tok: list[str]) -> None:
        """Read one meaningful line: inside an open block, or a top-level keyword."""
        where = f"{self.path}:{lineno}"
        key = tok[0]
        if self.current is not None:
            self._block_line(self.current, tok, where)
        elif key == "add_new_resource":
            self._add_resource(tok, lineno, where)
        elif key == "comm_band_self":
            need(tok, 2, "comm_band_self bandwidth", where)
            self.comm_band_self = parse_number(tok[1], "the same-PE bandwidth", where)
        elif key == "comm_band":
            self._comm_band(tok, lineno, where)
        else:
            raise ConfigError(
                f"expected add_new_resource, comm_band or comm_band_self, got {key!r}", where)

    def _block_line(self, res: _Resource, tok: list[str], where: str) -> None:
        """A line of the open resource block: DVFS data, NoC data or a functionality."""
        key = tok[0]
        if key == "opp":
            need(tok, 3, "opp frequency_MHz voltage_mV", where)
            res.opps.append((parse_int(tok[1], "frequency (MHz)", where),
                             parse_int(tok[2], "voltage (mV)", where)))
        elif key in ("trip_freq", "DTPM_trip_freq"):
            freqs = tuple(parse_int(t, f"{key} frequency (MHz, -1 = unchanged)", where)
                          for t in tok[1:])
            if key == "trip_freq":
                res.trip_freq = freqs
        elif key == "power_profile":
            f, w = _profile(tok, where)
            res.power_profile[f] = w
        elif key == "PG_profile":
            f, w = _profile(tok, where)
            res.pg_profile[f] = w
        elif key == "mesh_information":
            pass  # NoC floor-plan data (name, position, size, colour): not modelled
        elif key in _TOP_KEYWORDS:
            raise ConfigError(
                f"resource {res.name!r} (line {res.lineno}) declares "
                f"num_supported_functionalities {res.n_functions} but only "
                f"{res.n_read} functionality lines precede this {key!r} line",
                where,
            )
        else:
            self._functionality(res, tok, where)

    def _functionality(self, res: _Resource, tok: list[str], where: str) -> None:
        """`task_name time [power]`; the block closes after its announced count of these."""
        key = tok[0]
        need(tok, 2, "task_name execution_time_us", where)
        t = parse_number(tok[1], f"the execution time of {key!r} (us)", where)
        if t < 0:
            raise ConfigError(f"expected an execution time >= 0 for {key!r}, got {t:g}", where)
        res.exec_us.setdefault(key, t)  # first entry wins, as DS3's list.index
        res.n_read += 1
        if res.n_read == res.n_functions:
            self.current = None

    def _add_resource(self, tok: list[str], lineno: int, where: str) -> None:
        """Open a resource block from its `add_new_resource` header."""
        kind, name, ident_s, cap_s, nfun_s, dvfs_mode, keyword = _parse_header(tok, where)
        self.formats.add(keyword)
        if len(self.formats) > 1:
            raise ConfigError("mixes the keyword and the positional add_new_resource "
                              "formats; use one", where)
        ident = parse_int(ident_s, "resource_ID", where)
        if ident != len(self.resources):
            raise ConfigError(
                f"expected resource_ID {len(self.resources)} (DS3 indexes resources by ID, so "
                f"they must be numbered 0, 1, 2, ... in file order), got {ident}",
                where,
            )
        capacity = parse_int(cap_s, "capacity", where)
        if capacity < 1:
            raise ConfigError(f"expected a capacity >= 1, got {capacity}", where)
        n_functions = parse_int(nfun_s, "num_supported_functionalities", where)
        if n_functions < 1:
            raise ConfigError(
                f"expected num_supported_functionalities >= 1, got {n_functions}", where)
        if any(r.name == name for r in self.resources):
            raise ConfigError(f"duplicate resource_name {name!r}", where)
        if self.pairs:
            warnings.warn(
                f"{where}: DS3 resets the bandwidth matrix at each add_new_resource; the "
                f"{len(self.pairs)} comm_band line(s) before this line are discarded",
                stacklevel=_HANDLER_STACKLEVEL,
            )
            self.pairs.clear()
            self.diag_self.clear()
        res = _Resource(kind, name, ident, capacity, n_functions, lineno)
        if not res.pseudo:
            res.governor = parse_governor(dvfs_mode, where)
        self.resources.append(res)
        self.current = res

    def _comm_band(self, tok: list[str], lineno: int, where: str) -> None:
        """`comm_band a b V` between resource IDs already defined; `a == b` sets the same-PE
        bandwidth as DS3 (keyword format) or gym-ds3 (positional format) does."""
        need(tok, 4, "comm_band resource_ID_a resource_ID_b bandwidth", where)
        a = parse_int(tok[1], "resource_ID", where)
        b = parse_int(tok[2], "resource_ID", where)
        value = parse_number(tok[3], "the bandwidth", where)
        for r in (a, b):
            if not 0 <= r < len(self.resources):
                raise ConfigError(
                    f"comm_band names resource_ID {r}, but only IDs 0..{len(self.resources) - 1} "
                    "are defined above this line",
                    where,
                )
        self.pairs[(min(a, b), max(a, b))] = (value, lineno)
        if a == b:
            if self.comm_band_self is not None:
                self.diag_self[a] = self.comm_band_self
            elif self.formats == {False}:  # positional: gym-ds3's matrix, one PE per resource
                self.diag_self[a] = value
            else:
                self.diag_self[a] = 1.0

    def processing_resources(self) -> list[_Resource]:
        """The resources that become clusters, once the file has been read to its end."""
        current = self.current
        if current is not None:
            raise ConfigError(
                f"resource {current.name!r} (line {current.lineno}) declares "
                f"num_supported_functionalities {current.n_functions} but the file ends after "
                f"{current.n_read} functionality lines",
                f"{self.path}:{current.lineno}",
            )
        kept = [r for r in self.resources if not r.pseudo]
        if not kept:
            raise ConfigError("no processing resource (only memory/cache pseudo-resources)",
                              str(self.path))
        return kept


def _bandwidth(reader: _SocReader) -> dict[tuple[str, str], float]:
    """The `comm_band` values between processing clusters, by cluster names; each must be > 0."""
    bandwidth: dict[tuple[str, str], float] = {}
    for (a, b), (value, lineno) in reader.pairs.items():
        ra, rb = reader.resources[a], reader.resources[b]
        if ra.pseudo or rb.pseudo:
            continue
        if value <= 0:
            raise ConfigError(f"expected a bandwidth > 0 between {ra.name} and {rb.name}, "
                              f"got {value:g}", f"{reader.path}:{lineno}")
        bandwidth[(ra.name, rb.name)] = value
    return bandwidth


def _self_bandwidth(reader: _SocReader, kept: list[_Resource]) -> float:
    """dssoc's one same-PE bandwidth: the most common of the clusters' values (warned when they
    differ, as DS3 keeps one per cluster)."""
    self_values = [reader.diag_self.get(r.ident, 1.0) for r in kept]
    self_bw = Counter(self_values).most_common(1)[0][0]
    if len(set(self_values)) > 1:
        warnings.warn(
            f"{reader.path}: the same-PE bandwidth differs between clusters in DS3 "
            f"({dict(zip([r.name for r in kept], self_values, strict=True))}); dssoc has one "
            f"value and uses {self_bw:g}",
            stacklevel=3,  # the caller of read_ds3_soc
        )
    if self_bw <= 0:
        raise ConfigError(f"expected a same-PE bandwidth > 0, got {self_bw:g}", str(reader.path))
    return self_bw


def _cluster(res: _Resource, path: Path) -> Cluster:
    """The cluster of a processing resource, with its power model when it lists `opp` lines."""
    power = None
    if res.opps:
        power = PowerSpec(tuple(sorted(res.opps)), dict(res.power_profile), dict(res.pg_profile),
                          res.trip_freq)
    try:
        return Cluster(res.name, res.kind, res.capacity, dict(res.exec_us), power, res.governor)
    except ConfigError as e:  # a governor the cluster's operating points cannot serve
        raise ConfigError(str(e).split(": ", 1)[-1], f"{path}:{res.lineno}") from None


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
    reader = _SocReader(path)
    for lineno, tok in token_lines(path):
        reader.line(lineno, tok)
    kept = reader.processing_resources()
    bandwidth = _bandwidth(reader)
    self_bw = _self_bandwidth(reader, kept)
    clusters = tuple(_cluster(r, path) for r in kept)
    dropped = [f"{r.name} ({r.kind})" for r in reader.resources if r.pseudo]
    description = f"Imported from the DS3 resource file {path.name}"
    if dropped:
        description += f"; memory/cache pseudo-resources omitted: {', '.join(dropped)}"
    return SoC(
        name=soc_name(path),
        clusters=clusters,
        bandwidth=bandwidth,
        self_bandwidth=self_bw,
        default_bandwidth=1.0,
        description=description + ".",
    )
