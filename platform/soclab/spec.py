"""Experiment specs: the validated YAML schema a researcher writes (`experiments/*.yaml`).

One spec = one MLflow experiment: agents (heuristics by name, RL algorithms with hyperparameters
and search spaces, or trained checkpoints) × axes (noise specs, injection rates, seeds), compared
against baselines. Unknown keys and bad values are refused with the file, the key path and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dssoc.errors import ConfigError
from dssoc.schemas import format_validation_error, load_yaml, read_text


class SpecError(ConfigError):
    """A spec file is malformed; the message names the file and the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


SearchKind = Literal["loguniform", "uniform", "choice", "randint", "grid"]


class SimulationSpec(_Strict):
    """The simulated system and the length of each run."""

    workload: str = Field("wifi-tx-rx", description="workload preset, application name, or file")
    soc: str | None = Field(None, description="SoC name or file (default: the workload's SoC)")
    probabilities: list[float] | None = None
    duration_us: float = Field(20_000.0, gt=0)
    warmup_us: float = Field(2_000.0, ge=0)
    max_jobs_in_flight: int = Field(12, ge=1)
    binding: Literal["early", "late"] = Field(
        "early", description="early (DS3: bind every ready task at once) or late (bind at dispatch)"
    )
    arrivals: str | None = Field(None, description="arrival model: poisson, trace:FILE.csv, "
                                 "diurnal:AMP:PERIOD_US, profile:PERIOD_US:F1,F2,... (dssoc.arrivals)")
    mapping: str | None = Field(None, description="mapping of imported workflows onto the SoC "
                                "(dssoc.mapping; default: the SoC's)")

    @field_validator("arrivals")
    @classmethod
    def _arrivals_ok(cls, v: str | None) -> str | None:
        from dssoc.arrivals import parse_arrivals

        parse_arrivals(v)
        return v

    @field_validator("mapping")
    @classmethod
    def _mapping_ok(cls, v: str | None) -> str | None:
        if v is not None:
            from dssoc.mapping import load_mapping

            load_mapping(v)
        return v
    deadline_factor: float | None = Field(None, gt=0, description="job deadline = factor x lower bound")
    throttling: bool = Field(False, description="DS3's thermal throttling")

    @model_validator(mode="after")
    def _warmup_shorter(self) -> SimulationSpec:
        if self.warmup_us >= self.duration_us:
            raise ValueError(f"warmup_us ({self.warmup_us}) must be shorter than duration_us")
        return self


class AgentSpec(_Strict):
    """A scheduler under study: a heuristic (`scheduler`), an RL algorithm, or a checkpoint."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]+$")
    scheduler: str | None = Field(
        None, description="registered heuristic, 'checkpoint:PATH' or 'module:Class' (default: name)"
    )
    algorithm: str | None = Field(None, description="an RLlib algorithm of soclab.rl.algos.ALGORITHM_TABLE")
    model: Literal["graph", "mlp"] = "graph"
    action_mode: Literal["task", "task_pe"] = "task"
    reward: Literal["time_in_system", "latency", "throughput", "latency_energy", "edp"] = "time_in_system"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    search_space: dict[str, dict[SearchKind, list[Any]]] = Field(default_factory=dict)
    params: dict[str, Any] = Field(
        default_factory=dict, description="a heuristic's constructor arguments, e.g. {ds3_tie_quirk: false}"
    )

    def _params_ok(self, spec: str) -> None:
        """The params are arguments the scheduler's constructor accepts, with valid values."""
        from dssoc.schedulers import make_scheduler

        try:
            make_scheduler(spec, **self.params)
        except (TypeError, ValueError) as e:
            raise ValueError(f"params of {spec}: {e}") from None

    def key_dump(self) -> dict[str, Any]:
        """The agent as part of a cell's key; `params` only when given, so the cells of specs
        written before agents had params keep their hashes."""
        out = self.model_dump(mode="json")
        if not out.get("params"):
            out.pop("params", None)
        return out

    @field_validator("algorithm")
    @classmethod
    def _algorithm_known(cls, v: str | None) -> str | None:
        from soclab.rl.algos import ALGORITHMS

        if v is not None and v not in ALGORITHMS:
            raise ValueError(f"Input should be one of {', '.join(ALGORITHMS)}")
        return v

    @property
    def kind(self) -> Literal["heuristic", "rl"]:
        return "rl" if self.algorithm is not None else "heuristic"

    @property
    def scheduler_spec(self) -> str:
        return self.scheduler or self.name

    @model_validator(mode="after")
    def _check(self) -> AgentSpec:
        if self.kind == "heuristic":
            if self.hyperparameters or self.search_space:
                raise ValueError("hyperparameters/search_space need an RL 'algorithm'")
            spec = self.scheduler_spec
            if not (spec.startswith("checkpoint:") or ":" in spec):
                from dssoc.schedulers import make_scheduler

                make_scheduler(spec)  # raises UnknownNameError listing the valid names
                self._params_ok(spec)
        elif self.params:
            raise ValueError("params are a heuristic's arguments; an RL agent takes hyperparameters")
        for key, dim in self.search_space.items():
            if len(dim) != 1:
                raise ValueError(f"search_space.{key}: give exactly one of loguniform, uniform, "
                                 "choice, randint, grid")
        return self


class SeedRange(_Strict):
    start: int = Field(0, ge=0)
    count: int = Field(5, ge=1)


#: axes that are not simulation fields: the noise spec and the injection rate (SimConfig.build's
#: `noise` and `rate_jobs_per_ms`); both are always part of a cell's point.
POINT_AXES = ("noise", "rate_jobs_per_ms")


def axis_kind(name: str) -> Literal["point", "simulation", "config"]:
    """Where an axis value goes: `point` (noise, rate), a `simulation:` block field, or another
    `SimConfig` field (e.g. `energy`, `fixed_rate`, `max_jobs`); unknown names raise ValueError."""
    import dataclasses

    from dssoc.config import SimConfig

    if name in POINT_AXES:
        return "point"
    if name in SimulationSpec.model_fields:
        return "simulation"
    fields = {f.name for f in dataclasses.fields(SimConfig)} - {"soc", "workload", "scale_us", "noise"}
    if name in fields:
        return "config"
    known = sorted({*POINT_AXES, *SimulationSpec.model_fields, *fields, "seeds"})
    raise ValueError(f"unknown axis {name!r}; axes are SimConfig fields: {', '.join(known)}")


def _check_config_values(name: str, values: list[Any]) -> None:
    """Type-check a SimConfig-only axis with the field's own annotation."""
    import typing

    from pydantic import TypeAdapter

    from dssoc.config import SimConfig

    hint = typing.get_type_hints(SimConfig)[name]
    adapter = TypeAdapter(hint)
    for i, v in enumerate(values):
        try:
            adapter.validate_python(v, strict=True)
        except ValidationError as e:
            raise ValueError(f"{name}[{i}]: {e.errors()[0]['msg']}") from None


class AxesSpec(BaseModel):
    """The grid: every agent runs at every point of the axes' product with the same seeds.

    `noise`, `rates_jobs_per_ms` (or `rate_jobs_per_ms`) and `seeds` as before; any other key
    names a SimConfig field (a `simulation:` field such as `soc`, `workload`,
    `max_jobs_in_flight`, or another one such as `energy`) and lists its values, e.g.
    `axes: {soc: [MULTIPLE_BAL, my_soc.json], max_jobs_in_flight: [4, 12]}`. Axes vary in the
    order written, the last fastest; noise and rate come last (as before).
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    noise: list[str] = Field(default_factory=lambda: ["none"])
    rates_jobs_per_ms: list[float] = Field(default_factory=lambda: [5.0])
    seeds: list[int] | SeedRange = Field(default_factory=SeedRange)
    governors: list[str] | None = Field(None, description="DVFS governor settings (default: the SoC's)")

    @field_validator("governors")
    @classmethod
    def _governors_ok(cls, v: list[str] | None) -> list[str] | None:
        from dssoc.dvfs import parse_governor

        for spec in v or []:
            for part in spec.split(","):
                parse_governor(part.split("=", 1)[-1])
        if v is not None and not v:
            raise ValueError("governors: give at least one setting, or leave the key out")
        return v

    @model_validator(mode="before")
    @classmethod
    def _rate_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rate_jobs_per_ms" in data:
            if "rates_jobs_per_ms" in data:
                raise ValueError("give rate_jobs_per_ms or rates_jobs_per_ms, not both")
            data = dict(data)
            data["rates_jobs_per_ms"] = data.pop("rate_jobs_per_ms")
        return data

    @field_validator("noise")
    @classmethod
    def _noise_ok(cls, v: list[str]) -> list[str]:
        from dssoc.noise import parse_noise

        for spec in v:
            parse_noise(spec)
        return v

    @field_validator("rates_jobs_per_ms")
    @classmethod
    def _rates_ok(cls, v: list[float]) -> list[float]:
        if not v or any(r <= 0 for r in v):
            raise ValueError("rates must be a non-empty list of numbers > 0 (jobs/ms)")
        return v

    @model_validator(mode="after")
    def _extra_axes_ok(self) -> AxesSpec:
        if self.governors is not None and "governor" in (self.model_extra or {}):
            raise ValueError("give governor or governors, not both")
        for name, values in (self.model_extra or {}).items():
            kind = axis_kind(name)
            if not isinstance(values, list) or not values:
                raise ValueError(f"{name}: give a non-empty list of values")
            if len({repr(v) for v in values}) != len(values):
                raise ValueError(f"{name}: duplicate values")
            if kind == "config":
                _check_config_values(name, values)
        return self  # simulation fields are checked against the spec's `simulation:` block

    @property
    def extra_axes(self) -> dict[str, list[Any]]:
        """The axes beyond noise, rate and seeds, in the order written (`governors` is the
        `governor` axis)."""
        out = dict(self.model_extra or {})
        if self.governors is not None:
            out["governor"] = list(self.governors)
        return out

    def values(self) -> dict[str, list[Any]]:
        """Every axis of a cell's point with its values, in plan order (the last varies fastest):
        the extra axes as written, then noise and rate, then `governors` (as before)."""
        extra = self.extra_axes
        gov = {"governor": extra.pop("governor")} if self.governors is not None else {}
        return {**extra, "noise": list(self.noise),
                "rate_jobs_per_ms": [float(r) for r in self.rates_jobs_per_ms], **gov}

    @property
    def seed_list(self) -> list[int]:
        if isinstance(self.seeds, SeedRange):
            return list(range(self.seeds.start, self.seeds.start + self.seeds.count))
        return list(self.seeds)


class BudgetSpec(_Strict):
    """How much work each RL agent gets; evaluation uses the axes' seeds (held out from training)."""

    rl_iterations: int = Field(10, ge=1)
    time_budget_s: float | None = Field(None, gt=0)
    train_seed_offset: int = Field(10_000, ge=0, description="training seeds = offset + eval seed")


class TuneSpec(_Strict):
    """Ray Tune options."""

    max_concurrent_trials: int = Field(2, ge=1)
    search_alg: Literal["grid", "optuna"] = "grid"
    scheduler: Literal["fifo", "asha"] = "fifo"
    num_samples: int = Field(1, ge=1, description="samples per RL search space")
    retries: int = Field(1, ge=0, description="re-runs of a failed cell (and of a crashed trial)")
    cells_per_trial: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    cpus_per_rl_trial: int = Field(1, ge=1)


class TrackingSpec(_Strict):
    experiment_name: str | None = None
    tracking_uri: str | None = None


class ReportSpec(_Strict):
    """What the report draws."""

    gantt: bool = True
    gantt_window_us: float | None = Field(
        None, gt=0, description="Gantt window after the warm-up (default: a few jobs after it)")
    hide_agents: list[str] = Field(default_factory=list, description="agents left out of figures")
    outlier_factor: float = Field(
        1.5, ge=0, description="agents on average slower than this x the best get their own "
        "row of panels (0: never)")


class MetricsSpec(_Strict):
    """Which result metric the study is about: ratios to baselines, the report's tables and
    figures, and RL hyperparameter searches all use `primary`, any metric with a direction
    declared in `dssoc.metric_registry` (name, unit, which way is better, computation)."""

    primary: str = Field("avg_latency_us", description="e.g. avg_latency_us, p95_latency_us, edp")

    @field_validator("primary")
    @classmethod
    def _known(cls, v: str) -> str:
        from soclab import metrics

        names = metrics.rankable()
        if v not in names:
            raise ValueError(f"unknown primary metric {v!r}; valid: {', '.join(names)}")
        return v

    @property
    def info(self) -> Any:
        """The primary metric's declaration (`soclab.metrics.MetricInfo`)."""
        from soclab import metrics

        return metrics.get(self.primary)


class ExperimentSpec(_Strict):
    """A whole experiment: see experiments/*.yaml and docs/experiments.md."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)
    agents: list[AgentSpec]
    axes: AxesSpec = Field(default_factory=AxesSpec)
    baselines: list[str] = Field(default_factory=lambda: ["HEFT", "ETF"])
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    tune: TuneSpec = Field(default_factory=TuneSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)

    @model_validator(mode="after")
    def _agents_ok(self) -> ExperimentSpec:
        if not self.agents:
            raise ValueError("agents: list at least one agent")
        names = [a.name for a in self.agents]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"agents: duplicate names {sorted(dup)}")
        self._simulation_axes_ok()
        self._bindings_ok()
        return self

    def _simulation_axes_ok(self) -> None:
        """Each value of an axis over a `simulation:` field gives a valid simulation block."""
        base = self.simulation.model_dump()
        for name, values in self.axes.extra_axes.items():
            if axis_kind(name) != "simulation":
                continue
            for i, v in enumerate(values):
                try:
                    SimulationSpec.model_validate({**base, name: v})
                except ValidationError as e:
                    raise ValueError(f"axes.{name}[{i}]: {e.errors()[0]['msg']}") from None

    def _bindings_ok(self) -> None:
        """Every registered heuristic (agents and baselines) must suit simulation.binding."""
        from dssoc.errors import UnknownNameError
        from dssoc.schedulers import scheduler_binding

        binding = self.simulation.binding
        named = [(a.name, a.scheduler_spec) for a in self.agents if a.kind == "heuristic"]
        named += [(b, b) for b in self.baselines]
        for name, spec in named:
            if ":" in spec:
                continue  # checkpoints and module:Class schedulers are checked when they run
            try:
                needs = scheduler_binding(spec)
            except UnknownNameError:
                continue  # reported, with its key path, by the name checks
            if needs != binding:
                raise ValueError(f"agents/baselines: {name}: scheduler {spec!r} needs binding "
                                 f"{needs!r} but simulation.binding is {binding!r}")

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment_name or f"soclab/{self.name}"

    def all_agents(self) -> list[AgentSpec]:
        """The agents plus any baseline not already listed (baselines always run)."""
        names = {a.name for a in self.agents}
        extra = [AgentSpec(name=b) for b in self.baselines if b not in names]
        return list(self.agents) + extra


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec; errors name the file (and line, for YAML errors and duplicate
    keys), the key path and the reason."""
    path = Path(path)
    try:
        doc = load_yaml(read_text(path, "spec file"), str(path))
    except ConfigError as e:
        raise SpecError(e.reason, e.where) from None
    if not isinstance(doc, dict):
        raise SpecError("expected a mapping at the top level", str(path))
    doc.setdefault("name", path.stem)
    return spec_from_dict(doc, str(path))


def spec_from_dict(doc: dict[str, Any], where: str = "spec") -> ExperimentSpec:
    """Validate a spec document: its schema, then every name and value it uses
    (`soclab.validation.check_spec`), before anything runs."""
    from soclab.validation import check_spec

    try:
        spec = ExperimentSpec.model_validate(doc)
        check_spec(spec)
    except ValidationError as e:
        raise SpecError(format_validation_error(e, "", doc).reason, where) from None
    except ConfigError as e:  # raised by check_spec, or inside validators (unknown scheduler, noise)
        raise SpecError(str(e), where) from None
    return spec
