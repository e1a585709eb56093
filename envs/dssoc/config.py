"""`SimConfig`: everything that defines a simulation run except the scheduler and the seed.

One frozen pydantic model is the only simulation schema: the YAML `simulation:` block of a spec,
`SimConfig.build(...)`, the CLI, the RL env configs and sweep axes all go through it. Inputs may
be names and spec strings (`soc`, `workload`, `noise`, `arrivals`, `mapping`, `governor`) and the
input-only keys `rate_jobs_per_ms`, `probabilities` and `workload_seed`; the model holds the
resolved objects. Every failure is a `ConfigError` naming `config.<field>`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, SkipValidation, ValidationError, model_validator

from dssoc.arrivals import ArrivalModel, TraceReplay, check_arrivals, parse_arrivals
from dssoc.catalog import load_soc, load_workload
from dssoc.checks import MAX_DURATION_US, MAX_JOBS, MAX_JOBS_IN_FLIGHT, integer, known_keys, number
from dssoc.errors import ConfigError, UnknownNameError
from dssoc.mapping import WorkflowMapping, map_workload, needs_mapping
from dssoc.model import SoC, Workload
from dssoc.noise import NoiseModel, noise_spec, parse_noise

DEFAULT_WORKLOAD = "wifi-tx-rx"
DEFAULT_SOC = "MULTIPLE_BAL"
BINDINGS = ("early", "late")
#: Upper bound of a cluster's capacity set by name (a typo guard).
MAX_CLUSTER_CAPACITY = 1024
#: Keys a config input may hold that are not fields: consumed while the config is built.
INPUT_KEYS = ("rate_jobs_per_ms", "probabilities", "workload_seed")
#: Input keys that say the same thing; overriding one drops the other (see `with_overrides`).
ALIASES = {"rate_jobs_per_ms": "scale_us", "scale_us": "rate_jobs_per_ms"}
_BOOL_FIELDS = ("fixed_rate", "integer_times", "ds3_event_order", "energy", "throttling")


def _config_error(e: ValidationError) -> ConfigError:
    """The ConfigError inside a pydantic ValidationError (raised by our validators), or one
    naming the field pydantic refused."""
    err = e.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):
        return inner
    loc = ".".join(str(p) for p in err["loc"])
    return ConfigError(f"{err['msg']}, got {err.get('input')!r}", f"config.{loc}" if loc else "config")


class SimConfig(BaseModel):
    """A validated simulation configuration.

    Arrivals are exponential with mean `scale_us` (rate = 1000/scale_us jobs per ms), or exactly
    every `scale_us` with `fixed_rate`. At most `max_jobs_in_flight` jobs are in the system; when
    full, the next arrival waits for a job to finish (DS3). The run stops after `duration_us` or
    once `max_jobs` jobs have been injected and finished. Only jobs finishing at or after
    `warmup_us` count in the metrics. `integer_times` reproduces DS3's truncation of arrival gaps
    and transfer times to whole microseconds; `ds3_event_order` its one-microsecond scheduling
    delay after zero-length tasks and zero gaps (see dssoc.engine). `arrival_streams="ds3"` draws
    gaps and applications exactly as DS3 does for the same seed (Python's `random` and numpy's
    legacy generator), so a run can be compared with DS3 job for job. `energy=False` skips DS3's
    windowed energy accounting (about a quarter of the run time) and reports energy as NaN.
    `arrivals` replaces the Poisson arrivals by a trace replay or a rate-modulated process
    (dssoc.arrivals); `mapping` records how imported workflows were mapped onto the SoC
    (dssoc.mapping; a named imported workload is mapped when the config is built).
    `binding="early"` (DS3, the default) binds every ready task at once into job-ordered PE
    queues; `binding="late"` binds a ready task only to a free PE, at dispatch (see dssoc.engine).

    DVFS (dssoc.dvfs): each cluster carries its governor; `governor` overrides them at
    construction ("powersave" for all clusters, "A7=powersave,A15=ondemand" per cluster) and is
    then folded into `soc` (the field reads None afterwards). `throttling` enables DS3's thermal
    trip points. Deadlines: a job's relative deadline is `deadline_factor` x its application's
    lower bound when given, else its application's `deadline_us`; jobs without one are not
    counted in the deadline metrics.

    Build from names: `SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5)` or
    `SimConfig.model_validate({"workload": "wifi-tx-rx", "noise": "gaussian:0.2", ...})` (a
    spec's `simulation:` block as is); change fields with `cfg.replace(...)` (re-validated).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True,
                              validate_default=False)

    soc: Annotated[SoC, SkipValidation]
    workload: Annotated[Workload, SkipValidation]
    scale_us: float = 100.0
    fixed_rate: bool = False
    max_jobs_in_flight: int = 12
    warmup_us: float = 0.0
    duration_us: float | None = 20_000.0
    max_jobs: int | None = None
    noise: Annotated[tuple[NoiseModel, ...], SkipValidation] = ()
    integer_times: bool = True
    ds3_event_order: bool = True
    arrival_streams: Literal["dssoc", "ds3"] = "dssoc"
    energy: bool = True
    arrivals: Annotated[ArrivalModel | None, SkipValidation] = None
    mapping: str | None = None
    governor: str | None = None
    throttling: bool = False
    deadline_factor: Annotated[float | None, SkipValidation] = None  # kept as given (fingerprints)
    binding: Literal["early", "late"] = "early"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise _config_error(e) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> SimConfig:  # type: ignore[override]
        """Validate a mapping of inputs (names, spec strings, objects); errors are ConfigErrors."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as e:
            raise _config_error(e) from None

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a mapping of simulation settings, got "
                              f"{type(data).__name__}", "config")
        return _resolve_inputs(dict(data))

    @model_validator(mode="after")
    def _consistent(self) -> SimConfig:
        _check_run(self)
        return self

    @property
    def rate_jobs_per_ms(self) -> float:
        return 1000.0 / self.scale_us

    @classmethod
    def build(
        cls,
        workload: str | Path | Workload = DEFAULT_WORKLOAD,
        soc: str | Path | SoC | None = None,
        *,
        scale_us: float | None = None,
        rate_jobs_per_ms: float | None = None,
        probabilities: tuple[float, ...] | list[float] | None = None,
        noise: str | tuple[NoiseModel, ...] | None = None,
        arrivals: str | ArrivalModel | None = None,
        mapping: str | Path | WorkflowMapping | None = None,
        workload_seed: int = 0,
        **kwargs: Any,
    ) -> SimConfig:
        """Build from names or paths: `SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5)`.

        A convenience over `model_validate`: imported workflows (WfFormat,
        `wfcommons:RECIPE:TASKS` generated with `workload_seed`, STG, DOT) are mapped onto the
        SoC with `mapping` (default: the SoC's, see dssoc.mapping); `arrivals` is an arrival
        spec such as `trace:PATH.csv` or `diurnal:0.5:20000`.
        """
        known_keys(kwargs, BUILD_KEYWORDS, "SimConfig.build")
        given = {"scale_us": scale_us, "rate_jobs_per_ms": rate_jobs_per_ms,
                 "probabilities": probabilities, "noise": noise, "arrivals": arrivals,
                 "mapping": mapping}
        doc: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if isinstance(workload, Workload):
            doc["mapping"] = mapping  # an imported workflow object is mapped (None: the SoC's way)
        return cls.model_validate({"workload": workload, "soc": soc, "workload_seed": workload_seed,
                                   **doc, **kwargs})

    def inputs(self) -> dict[str, Any]:
        """Every field with its value: `SimConfig.model_validate(cfg.inputs())` is `cfg`."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def replace(self, **changes: Any) -> SimConfig:
        """A copy with some fields (or inputs such as `rate_jobs_per_ms`, a SoC name) changed,
        validated like a new config; the one way to derive a config from another."""
        known_keys(changes, CONFIG_KEYS, "SimConfig.replace")
        return type(self).model_validate(with_overrides(self.inputs(), changes))

    def json_inputs(self) -> dict[str, Any]:
        """JSON-able inputs describing this config for records (model cards, env settings):
        the SoC and workload by name, rate, noise and arrivals as spec strings, the run length,
        and every other field that differs from its default. `model_validate` rebuilds the
        config from them when the names are built-ins."""
        from dssoc.dvfs import governors_of

        out: dict[str, Any] = {
            "workload": self.workload.name,
            "soc": self.soc.name,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "noise": noise_spec(self.noise),
            "max_jobs_in_flight": self.max_jobs_in_flight,
            "warmup_us": self.warmup_us,
            "duration_us": self.duration_us,
            "probabilities": list(self.workload.probabilities),
        }
        if self.arrivals is not None:
            out["arrivals"] = self.arrivals.spec
        gov = governors_of(self.soc)
        if gov != "performance":
            out["governor"] = gov
        skip = {*out, "soc", "workload", "scale_us", "noise", "arrivals", "governor"}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if name not in skip and value != info.default:
                out[name] = value
        return out

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-ready description (used for MLflow params and config hashes)."""
        out: dict[str, Any] = {
            "soc": self.soc.name,
            "workload": self.workload.name,
            "applications": [a.name for a in self.workload.applications],
            "probabilities": list(self.workload.probabilities),
            "scale_us": self.scale_us,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "fixed_rate": self.fixed_rate,
            "max_jobs_in_flight": self.max_jobs_in_flight,
            "warmup_us": self.warmup_us,
            "duration_us": self.duration_us,
            "max_jobs": self.max_jobs,
            "noise": noise_spec(self.noise),
            "integer_times": self.integer_times,
            "ds3_event_order": self.ds3_event_order,
            "arrival_streams": self.arrival_streams,
            "energy": self.energy,
            **self._dvfs_summary(),
            # only when not the default, so early-binding configs keep their fingerprints
            **({"binding": self.binding} if self.binding != "early" else {}),
        }
        # Only when set, so that the fingerprints of existing configurations do not change.
        if self.arrivals is not None:
            out["arrivals"] = self.arrivals.spec
        if self.mapping is not None:
            out["mapping"] = self.mapping
        return out

    def _dvfs_summary(self) -> dict[str, Any]:
        """DVFS and deadline settings, only when not the defaults (older fingerprints hold)."""
        from dssoc.dvfs import governors_of

        out: dict[str, Any] = {}
        gov = governors_of(self.soc)
        if gov != "performance":
            out["governor"] = gov
        if self.throttling:
            out["throttling"] = True
        if self.deadline_factor is not None:
            out["deadline_factor"] = self.deadline_factor
        return out

    def fingerprint(self) -> str:
        """A short stable hash of the full configuration (including the SoC and DAG contents)."""
        from dssoc.catalog import application_to_dict, soc_to_dict

        doc: dict[str, Any] = {
            "summary": self.summary(),
            "soc": soc_to_dict(self.soc),
            "apps": [application_to_dict(a) for a in self.workload.applications],
        }
        if isinstance(self.arrivals, TraceReplay):  # the trace's contents, not only its path
            doc["arrival_trace"] = [list(self.arrivals.times), list(self.arrivals.applications)]
        blob = json.dumps(doc, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def with_overrides(doc: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` (config inputs) with `changes` applied by name: a dotted name (`a.b`) sets a key
    inside a mapping-valued input (a SoC name becomes `{name: NAME}` first, so
    `soc.FFT.capacity` refines it); setting the rate drops a given scale and vice versa."""
    out = dict(doc)
    for name, value in changes.items():
        head, _, rest = name.partition(".")
        if rest:
            inner = out.get(head)
            if inner is None:  # nothing there yet (or the default): a new mapping
                inner = {}
            elif head == "soc" and isinstance(inner, str | Path):  # a SoC name, refined
                inner = {"name": inner}
            if not isinstance(inner, Mapping):
                raise ConfigError(f"{head!r} holds no settings to set {rest!r} in", name)
            out[head] = with_overrides(inner, {rest: value})
            continue
        if name in ALIASES:
            out.pop(ALIASES[name], None)
        out[name] = value
    return out


def _resolve_inputs(data: dict[str, Any]) -> dict[str, Any]:
    """Names and spec strings to objects, numbers normalised (3.0 jobs -> 3), input-only keys
    consumed, the governor folded into the SoC and slowdown noise bound to its clusters."""
    known_keys(data, CONFIG_KEYS, "config", "key")
    workload = data.get("workload", DEFAULT_WORKLOAD)
    if not isinstance(workload, str | Path | Workload):
        raise ConfigError(f"expected a workload name, file or Workload, got "
                          f"{type(workload).__name__}", "workload")
    named = not isinstance(workload, Workload)
    wl = load_workload(workload, seed=integer(data.pop("workload_seed", 0), "workload_seed", ge=0))
    probabilities = data.pop("probabilities", None)
    if probabilities is not None:
        wl = _with_probabilities(wl, probabilities)
    soc_obj = _load_soc_input(data.get("soc"), wl.soc or DEFAULT_SOC)
    mapping = data.get("mapping")
    if isinstance(mapping, str):
        from dssoc.mapping import load_mapping

        load_mapping(mapping)  # a bad mapping is refused even where nothing needs mapping
    if needs_mapping(wl) and (named or "mapping" in data):
        wl, soc_obj, used = map_workload(wl, soc_obj, mapping)
        data["mapping"] = used.spec
    elif mapping is not None and named:
        raise ConfigError(f"workload {wl.name!r} has no imported workflow to map", "mapping")
    elif mapping is not None and not isinstance(mapping, str):
        raise ConfigError(f"expected the spec string of a mapping, got {mapping!r}", "config.mapping")
    if data.get("governor") is not None:
        from dssoc.dvfs import apply_governors

        soc_obj = apply_governors(soc_obj, data["governor"], "config.governor")
        data["governor"] = None
    data.update(workload=wl, soc=soc_obj)
    _resolve_arrivals_and_noise(data, soc_obj)
    _normalise(data)
    return data


#: Cluster fields a SoC input may set by name (`soc: {name: MULTIPLE_BAL, FFT: {capacity: 8}}`,
#: or the axis `soc.FFT.capacity: [4, 8]`), DS3's design-space knobs.
CLUSTER_SETTINGS = ("capacity", "governor")


def _load_soc_input(soc: Any, default: str) -> SoC:
    """A SoC from a name, file or SoC object, or from a mapping: `name` (default: the
    workload's SoC) plus, per cluster, the `CLUSTER_SETTINGS` to change; the changed SoC is
    named after them (`MULTIPLE_BAL+FFT.capacity=8`), so its summary tells it apart."""
    if soc is None or isinstance(soc, str | Path | SoC):
        return load_soc(soc if soc is not None else default)
    if not isinstance(soc, Mapping):
        raise ConfigError(f"expected a SoC name, file or SoC, got {type(soc).__name__}", "config.soc")
    changes = dict(soc)
    base = _load_soc_input(changes.pop("name", None), default)
    clusters = {c.name: c for c in base.clusters}
    tags = []
    for name, fields in changes.items():
        where = f"config.soc.{name}"
        if name not in clusters:
            raise UnknownNameError("cluster", name, clusters, where)
        if not isinstance(fields, Mapping):
            raise ConfigError(f"expected settings such as {{capacity: 8}}, got {fields!r}", where)
        known_keys(fields, CLUSTER_SETTINGS, where, "cluster setting")
        update = dict(fields)
        if "capacity" in update:
            update["capacity"] = integer(update["capacity"], f"{where}.capacity", ge=1,
                                         le=MAX_CLUSTER_CAPACITY)  # the power model as in files
        clusters[name] = dataclasses.replace(clusters[name], **update)
        tags += [f"{name}.{k}={v}" for k, v in update.items()]
    if not tags:
        return base
    return dataclasses.replace(base, name="+".join([base.name, *tags]),
                               clusters=tuple(clusters[c.name] for c in base.clusters))


def _with_probabilities(wl: Workload, probabilities: Any) -> Workload:
    if isinstance(probabilities, str) or not isinstance(probabilities, tuple | list):
        raise ConfigError(f"expected a list of numbers, got {probabilities!r}", "probabilities")
    if len(probabilities) != len(wl.applications):
        raise ConfigError(
            f"{len(probabilities)} probabilities for {len(wl.applications)} applications "
            f"({', '.join(a.name for a in wl.applications)})", "probabilities")
    return wl.with_probabilities(tuple(number(p, f"probabilities[{i}]", ge=0)
                                       for i, p in enumerate(probabilities)))


def _resolve_arrivals_and_noise(data: dict[str, Any], soc: SoC) -> None:
    """Rate or scale, the arrival model and the noise models, from spec strings or objects."""
    rate = data.pop("rate_jobs_per_ms", None)
    if rate is not None and data.get("scale_us") is not None:
        raise ConfigError("give either a scale or a rate, not both", "arrivals")
    if rate is not None:
        data["scale_us"] = 1000.0 / number(rate, "rate_jobs_per_ms", gt=0, unit="jobs/ms")
    elif "scale_us" in data and data["scale_us"] is None:
        del data["scale_us"]
    arrivals = data.get("arrivals")
    if isinstance(arrivals, str):
        data["arrivals"] = parse_arrivals(arrivals)
    elif arrivals is not None and not (hasattr(arrivals, "spec") and hasattr(arrivals, "make_process")):
        raise ConfigError(f"expected an arrival spec string or model, got {arrivals!r}", "config.arrivals")
    noise = data.get("noise")
    if isinstance(noise, str) or noise is None:
        models = parse_noise(noise)
    elif isinstance(noise, tuple | list) and all(isinstance(m, NoiseModel) for m in noise):
        models = tuple(noise)
    else:
        raise ConfigError(f"expected a noise spec string (e.g. 'gaussian:0.2') or noise models, "
                          f"got {noise!r}", "noise")
    names = [c.name for c in soc.clusters]
    data["noise"] = tuple(m.bind(names) for m in models)  # names resolved against this SoC


def _normalise(data: dict[str, Any]) -> None:
    """Numbers within their bounds (3.0 jobs -> 3), booleans and the two enumerations."""
    if "scale_us" in data:
        data["scale_us"] = number(data["scale_us"], "config.scale_us", gt=0, unit="microseconds")
    if "max_jobs_in_flight" in data:
        data["max_jobs_in_flight"] = integer(data["max_jobs_in_flight"], "config.max_jobs_in_flight",
                                             ge=1, le=MAX_JOBS_IN_FLIGHT)
    if "warmup_us" in data:
        data["warmup_us"] = number(data["warmup_us"], "config.warmup_us", ge=0, le=MAX_DURATION_US)
    if data.get("duration_us") is not None:
        data["duration_us"] = number(data["duration_us"], "config.duration_us", gt=0,
                                     le=MAX_DURATION_US)
    if data.get("max_jobs") is not None:
        data["max_jobs"] = integer(data["max_jobs"], "config.max_jobs", ge=1, le=MAX_JOBS)
    for name in _BOOL_FIELDS:
        if name in data:
            if not isinstance(data[name], bool | np.bool_):
                raise ConfigError(f"expected true or false, got {data[name]!r}", f"config.{name}")
            data[name] = bool(data[name])
    factor = data.get("deadline_factor")
    bad = isinstance(factor, bool) or not isinstance(factor, int | float) or not (
        factor > 0 and math.isfinite(factor))
    if factor is not None and bad:  # a good factor is kept as given: fingerprints hold
        raise ConfigError(f"must be a positive number, got {factor}", "config.deadline_factor")
    if data.get("arrival_streams", "dssoc") not in ("dssoc", "ds3"):
        raise ConfigError(f"must be 'dssoc' or 'ds3', got {data['arrival_streams']!r}",
                          "config.arrival_streams")
    if data.get("binding", "early") not in BINDINGS:
        raise ConfigError(f"must be 'early' (DS3) or 'late' (bind at dispatch), got "
                          f"{data['binding']!r}", "config.binding")


def _check_run(cfg: SimConfig) -> None:
    """Cross-field checks: a stop condition, warm-up inside the run, a bounded number of jobs,
    applications the SoC can run and arrivals naming known applications."""
    for app in cfg.workload.applications:
        if any(t.work is not None for t in app.tasks):
            raise ConfigError(f"application {app.name!r} is an imported workflow: build the "
                              "config with SimConfig.build(..., mapping=...) to map it onto the SoC",
                              "config.workload")
        app.check_supported(cfg.soc)
    check_arrivals(cfg.arrivals, [a.name for a in cfg.workload.applications])
    if cfg.duration_us is None and cfg.max_jobs is None:
        raise ConfigError("give a duration or a number of jobs to stop after", "config")
    if cfg.duration_us is not None and cfg.warmup_us >= cfg.duration_us:
        raise ConfigError(f"warm-up {cfg.warmup_us:g} must be shorter than the run ({cfg.duration_us:g})",
                          "config.warmup_us")
    replay = isinstance(cfg.arrivals, TraceReplay)  # a trace brings its own (finite) jobs
    if cfg.duration_us is not None and cfg.max_jobs is None and not replay and \
            cfg.duration_us / cfg.scale_us > MAX_JOBS:
        raise ConfigError(f"{cfg.duration_us:g} µs at {cfg.rate_jobs_per_ms:g} jobs/ms would inject about "
                          f"{cfg.duration_us / cfg.scale_us:,.0f} jobs (more than {MAX_JOBS:,}): "
                          "shorten the run or lower the rate", "config.duration_us")


#: Every key a config input may hold: the fields and the input-only keys.
CONFIG_KEYS = (*SimConfig.model_fields, *INPUT_KEYS)
#: Keywords of `SimConfig.build` besides workload, soc, scale/rate, probabilities and noise.
BUILD_KEYWORDS = tuple(k for k in SimConfig.model_fields if k not in ("soc", "workload", "noise"))
