"""Schemas of dssoc's own file formats (SoC, application, workload) and how documents are read.

The files are validated at the edge by the pydantic models below before anything is built from
them: numbers must be real numbers (a string such as `"12"` is refused, not coerced), finite and in
range; keys are checked for typos (unknown keys are refused); a bandwidth pair is
`[cluster, cluster, bandwidth]`. A failure is one `ConfigError` line `FILE: key.path: reason`
(see `format_validation_error`, shared with soclab's experiment specs).

`read_document` reads JSON or YAML refusing what the plain parsers let through: duplicate keys
(YAML and JSON silently keep the last one), binary files, and non-mapping documents. YAML errors
and duplicate YAML keys name `FILE:LINE`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dssoc.errors import ConfigError

# ------------------------------------------------------------------------------- reading files


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a mapping with the same key twice (PyYAML keeps the last)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key: let the normal constructor report it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML (safe, duplicate keys refused); errors name `where:LINE`."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else where
        raise ConfigError(f"invalid YAML: {getattr(e, 'problem', None) or e}", at) from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def load_json(text: str, where: str) -> Any:
    """Parse JSON with duplicate keys refused; syntax errors name `where:LINE`."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON: {e.msg}", f"{where}:{e.lineno}") from None
    except ValueError as e:  # from _unique_pairs
        raise ConfigError(f"invalid JSON: {e}", where) from None


def read_text(path: Path, what: str = "file") -> str:
    """The UTF-8 text of `path`; a missing, unreadable or binary file is a one-line ConfigError."""
    if not path.exists():
        raise ConfigError(f"{what} not found", str(path))
    if not path.is_file():
        raise ConfigError(f"expected a {what}, got a directory", str(path))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", str(path)) from None
    if b"\0" in data[:8192]:
        raise ConfigError(f"not a text {what} (binary data)", str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte {e.start})", f"{path}:{line}") from None


def read_document(path: Path, what: str = "file") -> dict[str, Any]:
    """Read a JSON or YAML mapping (by suffix: .yaml/.yml is YAML, anything else JSON)."""
    text = read_text(path, what)
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    doc = load_yaml(text, str(path)) if yaml_file else load_json(text, str(path))
    if not isinstance(doc, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(doc).__name__}", str(path))
    return doc


# ----------------------------------------------------------------------------- error messages


def key_path(loc: tuple[Any, ...], doc: Any = None) -> str:
    """pydantic's error location as a key path of the document: `clusters[0].exec_us.fft`.

    With the document at hand, location parts that are not in it (pydantic's labels of union
    branches such as `list[int]` or `SeedRange`) are left out, except a final missing key."""
    out, node = "", doc
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if doc is not None:
            present = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
            if not present and not (last and isinstance(node, dict)):
                continue  # a union branch label, not a key (a final missing key is kept)
            node = node[part] if present else None
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(err: ValidationError, where: str, doc: Any = None) -> ConfigError:
    """One line for a pydantic error: `where: key.path: reason, got INPUT` (+ how many more)."""
    first = err.errors(include_url=False)[0]
    msg = re.sub(r"^(Value error|Assertion failed), ", "", first["msg"]).splitlines()[0]
    given = first.get("input")
    shown = ""
    if first["type"] not in ("missing", "extra_forbidden", "value_error", "assertion_error") and \
            " got " not in msg and \
            isinstance(given, str | int | float | bool | type(None)):
        text = repr(given)
        shown = f", got {text if len(text) <= 40 else text[:37] + '...'}"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(f"{key_path(first['loc'], doc)}: {msg}{shown}{more}", where)


def validate(model: type[BaseModel], doc: Any, where: str) -> Any:
    """`model.model_validate(doc)` with a failure turned into one ConfigError line."""
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise format_validation_error(e, where, doc) from None


# ---------------------------------------------------------------------------------- the models

NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
Name = Annotated[str, Field(strict=True, min_length=1)]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PowerDoc(_Schema):
    """DS3 power data of a cluster: OPPs `[MHz, mV]` and power per busy-core count (W)."""

    opps: list[tuple[Annotated[int, Field(strict=True, gt=0)], Annotated[int, Field(strict=True, gt=0)]]] = \
        Field(min_length=1)
    power_profile: dict[Annotated[int, Field(gt=0)], list[NonNegative]] = Field(default_factory=dict)
    pg_profile: dict[Annotated[int, Field(gt=0)], list[NonNegative]] = Field(default_factory=dict)
    trip_freq: list[Annotated[int, Field(strict=True)]] = Field(
        default_factory=list, description="MHz cap per thermal trip point, -1 = unchanged (dssoc.dvfs)")


class ClusterDoc(_Schema):
    name: Name
    kind: Name = "CPU"
    capacity: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    exec_us: dict[Name, NonNegative]
    power: PowerDoc | None = None
    governor: Name = Field("performance", description="DVFS governor (dssoc.dvfs)")


class BandwidthDoc(_Schema):
    self_: Positive = Field(10000.0, alias="self")
    default: Positive = 1.0
    pairs: list[tuple[Name, Name, Positive]] = Field(default_factory=list)

    @field_validator("pairs", mode="before")
    @classmethod
    def _triples(cls, v: Any) -> Any:
        for i, p in enumerate(v if isinstance(v, list) else []):
            if not (isinstance(p, list | tuple) and len(p) == 3):
                raise ValueError(f"entry {i} is {p!r}, expected [cluster_a, cluster_b, bandwidth]")
        return v


class SoCDoc(_Schema):
    name: Name
    description: str = ""
    clusters: list[ClusterDoc] = Field(min_length=1)
    bandwidth: BandwidthDoc = Field(default_factory=lambda: BandwidthDoc.model_validate({}))

    @field_validator("clusters")
    @classmethod
    def _unique(cls, v: list[ClusterDoc]) -> list[ClusterDoc]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate cluster names {dup}")
        return v


class TaskDoc(_Schema):
    name: Name
    after: dict[Name, NonNegative] | None = Field(None, description="predecessor -> data volume")
    category: str = Field("", description="task category of an imported workflow (dssoc.mapping)")
    work: NonNegative | None = Field(None, description="work of an imported workflow task")


class ApplicationDoc(_Schema):
    name: Name
    description: str = ""
    deadline_us: Positive | None = Field(None, description="relative deadline of each job (µs)")
    tasks: list[TaskDoc] = Field(min_length=1)


class WorkloadDoc(_Schema):
    name: Name | None = None
    description: str = ""
    soc: Name | None = None
    mix: dict[Name, NonNegative] = Field(min_length=1, description="application -> probability")
