"""`SimConfig`: everything that defines a simulation run except the scheduler and the seed."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from dssoc.arrivals import ArrivalModel, TraceReplay, check_arrivals, parse_arrivals
from dssoc.catalog import load_soc, load_workload
from dssoc.errors import ConfigError
from dssoc.mapping import WorkflowMapping, map_workload, needs_mapping
from dssoc.model import SoC, Workload
from dssoc.noise import NoiseModel, PESlowdown, noise_spec, parse_noise

DEFAULT_WORKLOAD = "wifi-tx-rx"
DEFAULT_SOC = "MULTIPLE_BAL"


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

    def __post_init__(self) -> None:
        if not (self.scale_us > 0 and math.isfinite(self.scale_us)):
            raise ConfigError(f"scale must be a positive number of microseconds, got {self.scale_us}",
                              "config.scale_us")
        if self.max_jobs_in_flight < 1:
            raise ConfigError(f"must be >= 1, got {self.max_jobs_in_flight}", "config.max_jobs_in_flight")
        if self.arrival_streams not in ("dssoc", "ds3"):
            raise ConfigError(f"must be 'dssoc' or 'ds3', got {self.arrival_streams!r}",
                              "config.arrival_streams")
        if self.duration_us is None and self.max_jobs is None:
            raise ConfigError("give a duration or a number of jobs to stop after", "config")
        if self.duration_us is not None and self.duration_us <= 0:
            raise ConfigError(f"must be > 0, got {self.duration_us}", "config.duration_us")
        if self.max_jobs is not None and self.max_jobs < 1:
            raise ConfigError(f"must be >= 1, got {self.max_jobs}", "config.max_jobs")
        if self.warmup_us < 0 or (self.duration_us is not None and self.warmup_us >= self.duration_us):
            raise ConfigError(f"warm-up {self.warmup_us} must be >= 0 and shorter than the run",
                              "config.warmup_us")
        for app in self.workload.applications:
            if any(t.work is not None for t in app.tasks):
                raise ConfigError(f"application {app.name!r} is an imported workflow: build the "
                                  "config with SimConfig.build(..., mapping=...) to map it onto the SoC",
                                  "config.workload")
            app.check_supported(self.soc)
        check_arrivals(self.arrivals, [a.name for a in self.workload.applications])
        names = [c.name for c in self.soc.clusters]
        bound = tuple(m.bind(names) if isinstance(m, PESlowdown) else m for m in self.noise)
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
        wl = load_workload(workload, seed=workload_seed)
        if probabilities is not None:
            if len(probabilities) != len(wl.applications):
                raise ConfigError(
                    f"{len(probabilities)} probabilities for {len(wl.applications)} applications "
                    f"({', '.join(a.name for a in wl.applications)})",
                    "probabilities",
                )
            wl = wl.with_probabilities(tuple(float(p) for p in probabilities))
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
            if not rate_jobs_per_ms > 0:
                raise ConfigError(f"rate must be > 0 jobs/ms, got {rate_jobs_per_ms}", "rate")
            scale_us = 1000.0 / rate_jobs_per_ms
        if scale_us is not None:
            kwargs["scale_us"] = scale_us
        models = parse_noise(noise) if isinstance(noise, str) or noise is None else tuple(noise)
        return cls(soc=soc_obj, workload=wl, noise=models, arrivals=arrivals, **kwargs)

    def replace(self, **changes: Any) -> SimConfig:
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
        }
        # Only when set, so that the fingerprints of existing configurations do not change.
        if self.arrivals is not None:
            out["arrivals"] = self.arrivals.spec
        if self.mapping is not None:
            out["mapping"] = self.mapping
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
