"""`SimConfig`: everything that defines a simulation run except the scheduler and the seed."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dssoc.arrivals import ArrivalModel, TraceReplay, check_arrivals, parse_arrivals
from dssoc.catalog import load_soc, load_workload
from dssoc.checks import MAX_DURATION_US, MAX_JOBS, MAX_JOBS_IN_FLIGHT, integer, known_keys, number
from dssoc.errors import ConfigError
from dssoc.mapping import WorkflowMapping, map_workload, needs_mapping
from dssoc.model import SoC, Workload
from dssoc.noise import NoiseModel, noise_spec, parse_noise

DEFAULT_WORKLOAD = "wifi-tx-rx"
DEFAULT_SOC = "MULTIPLE_BAL"
BINDINGS = ("early", "late")


@dataclass(frozen=True)
class SimConfig:
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
    (dssoc.mapping; applied by `build`).
    `binding="early"` (DS3, the default) binds every ready task at once into job-ordered PE
    queues; `binding="late"` binds a ready task only to a free PE, at dispatch (see dssoc.engine).

    DVFS (dssoc.dvfs): each cluster carries its governor; `governor` overrides them at
    construction ("powersave" for all clusters, "A7=powersave,A15=ondemand" per cluster) and is
    then folded into `soc` (the field reads None afterwards). `throttling` enables DS3's thermal
    trip points. Deadlines: a job's relative deadline is `deadline_factor` x its application's
    lower bound when given, else its application's `deadline_us`; jobs without one are not
    counted in the deadline metrics.
    """

    soc: SoC
    workload: Workload
    scale_us: float = 100.0
    fixed_rate: bool = False
    max_jobs_in_flight: int = 12
    warmup_us: float = 0.0
    duration_us: float | None = 20_000.0
    max_jobs: int | None = None
    noise: tuple[NoiseModel, ...] = field(default_factory=tuple)
    integer_times: bool = True
    ds3_event_order: bool = True
    arrival_streams: Literal["dssoc", "ds3"] = "dssoc"
    energy: bool = True
    arrivals: ArrivalModel | None = None
    mapping: str | None = None
    governor: str | None = None
    throttling: bool = False
    deadline_factor: float | None = None
    binding: Literal["early", "late"] = "early"

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.deadline_factor is not None and not (
                self.deadline_factor > 0 and math.isfinite(self.deadline_factor)):
            raise ConfigError(f"must be a positive number, got {self.deadline_factor}",
                              "config.deadline_factor")
        if self.governor is not None:
            from dssoc.dvfs import apply_governors

            object.__setattr__(self, "soc", apply_governors(self.soc, self.governor, "config.governor"))
            object.__setattr__(self, "governor", None)
        for app in self.workload.applications:
            if any(t.work is not None for t in app.tasks):
                raise ConfigError(f"application {app.name!r} is an imported workflow: build the "
                                  "config with SimConfig.build(..., mapping=...) to map it onto the SoC",
                                  "config.workload")
            app.check_supported(self.soc)
        check_arrivals(self.arrivals, [a.name for a in self.workload.applications])
        names = [c.name for c in self.soc.clusters]
        bound = tuple(m.bind(names) for m in self.noise)  # names resolved against this SoC
        object.__setattr__(self, "noise", bound)

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

        Imported workflows (WfFormat, `wfcommons:RECIPE:TASKS` generated with `workload_seed`,
        STG, DOT) are mapped onto the SoC with `mapping` (default: the SoC's, see dssoc.mapping);
        `arrivals` is an arrival spec such as `trace:PATH.csv` or `diurnal:0.5:20000`.
        """
        known_keys(kwargs, BUILD_KEYWORDS, "SimConfig.build")
        if not isinstance(workload, str | Path | Workload):
            raise ConfigError(f"expected a workload name, file or Workload, got "
                              f"{type(workload).__name__}", "workload")
        wl = load_workload(workload, seed=integer(workload_seed, "workload_seed", ge=0))
        if probabilities is not None:
            if isinstance(probabilities, str) or not isinstance(probabilities, tuple | list):
                raise ConfigError(f"expected a list of numbers, got {probabilities!r}", "probabilities")
            if len(probabilities) != len(wl.applications):
                raise ConfigError(
                    f"{len(probabilities)} probabilities for {len(wl.applications)} applications "
                    f"({', '.join(a.name for a in wl.applications)})",
                    "probabilities",
                )
            wl = wl.with_probabilities(tuple(number(p, f"probabilities[{i}]", ge=0)
                                             for i, p in enumerate(probabilities)))
        soc_obj = load_soc(soc if soc is not None else (wl.soc or DEFAULT_SOC))
        if needs_mapping(wl):
            wl, soc_obj, used = map_workload(wl, soc_obj, mapping)
            kwargs["mapping"] = used.spec
        elif mapping is not None:
            raise ConfigError(f"workload {wl.name!r} has no imported workflow to map", "mapping")
        if isinstance(arrivals, str) or arrivals is None:
            arrivals = parse_arrivals(arrivals)
        if scale_us is not None and rate_jobs_per_ms is not None:
            raise ConfigError("give either a scale or a rate, not both", "arrivals")
        if rate_jobs_per_ms is not None:
            scale_us = 1000.0 / number(rate_jobs_per_ms, "rate_jobs_per_ms", gt=0, unit="jobs/ms")
        if scale_us is not None:
            kwargs["scale_us"] = scale_us
        if isinstance(noise, str) or noise is None:
            models = parse_noise(noise)
        elif isinstance(noise, tuple | list) and all(isinstance(m, NoiseModel) for m in noise):
            models = tuple(noise)
        else:
            raise ConfigError(f"expected a noise spec string (e.g. 'gaussian:0.2') or noise models, "
                              f"got {noise!r}", "noise")
        return cls(soc=soc_obj, workload=wl, noise=models, arrivals=arrivals, **kwargs)

    def replace(self, **changes: Any) -> SimConfig:
        """A copy with some fields changed (validated like a new config)."""
        known_keys(changes, [f.name for f in fields(self)], "SimConfig.replace")
        return replace(self, **changes)

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


def _check_fields(cfg: SimConfig) -> None:
    """Validate (and normalise: 3.0 jobs -> 3) every field; errors name `config.<field>`."""
    def put(name: str, value: Any) -> None:
        object.__setattr__(cfg, name, value)

    if not isinstance(cfg.soc, SoC) or not isinstance(cfg.workload, Workload):
        raise ConfigError("soc and workload must be SoC and Workload objects; SimConfig.build() "
                          "takes names and files", "config")
    put("scale_us", number(cfg.scale_us, "config.scale_us", gt=0, unit="microseconds"))
    put("max_jobs_in_flight", integer(cfg.max_jobs_in_flight, "config.max_jobs_in_flight", ge=1,
                                      le=MAX_JOBS_IN_FLIGHT))
    put("warmup_us", number(cfg.warmup_us, "config.warmup_us", ge=0, le=MAX_DURATION_US))
    if cfg.duration_us is not None:
        put("duration_us", number(cfg.duration_us, "config.duration_us", gt=0, le=MAX_DURATION_US))
    if cfg.max_jobs is not None:
        put("max_jobs", integer(cfg.max_jobs, "config.max_jobs", ge=1, le=MAX_JOBS))
    for name in ("fixed_rate", "integer_times", "ds3_event_order", "energy"):
        if not isinstance(getattr(cfg, name), bool | np.bool_):
            raise ConfigError(f"expected true or false, got {getattr(cfg, name)!r}", f"config.{name}")
    if cfg.arrival_streams not in ("dssoc", "ds3"):
        raise ConfigError(f"must be 'dssoc' or 'ds3', got {cfg.arrival_streams!r}", "config.arrival_streams")
    if cfg.binding not in BINDINGS:
        raise ConfigError(f"must be 'early' (DS3) or 'late' (bind at dispatch), got {cfg.binding!r}",
                          "config.binding")
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


#: Keywords of `SimConfig.build` besides workload, soc, scale/rate, probabilities and noise.
BUILD_KEYWORDS = tuple(f.name for f in fields(SimConfig) if f.name not in ("soc", "workload", "noise"))
