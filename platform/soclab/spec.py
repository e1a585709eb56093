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
    algorithm: Literal["PPO", "APPO", "IMPALA", "DQN"] | None = None
    model: Literal["graph", "mlp"] = "graph"
    action_mode: Literal["task", "task_pe"] = "task"
    reward: Literal["time_in_system", "latency", "throughput", "latency_energy", "edp"] = "time_in_system"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    search_space: dict[str, dict[SearchKind, list[Any]]] = Field(default_factory=dict)

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
        for key, dim in self.search_space.items():
            if len(dim) != 1:
                raise ValueError(f"search_space.{key}: give exactly one of loguniform, uniform, "
                                 "choice, randint, grid")
        return self


class SeedRange(_Strict):
    start: int = Field(0, ge=0)
    count: int = Field(5, ge=1)


class AxesSpec(_Strict):
    """The grid: every agent runs on every (noise, rate) with the same seeds."""

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

    @model_validator(mode="after")
    def _agents_ok(self) -> ExperimentSpec:
        if not self.agents:
            raise ValueError("agents: list at least one agent")
        names = [a.name for a in self.agents]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"agents: duplicate names {sorted(dup)}")
        return self

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
