"""The schema of experiment specs (`experiments/*.yaml`); `soclab.spec.load_spec` reads them.

One spec = one MLflow experiment: agents (heuristics by name, RL algorithms with hyperparameters
and search spaces, or trained checkpoints) × axes (any SimConfig field, agent parameters,
seeds), compared against baselines. The `simulation:` block is `dssoc.SimConfig`'s input as
is. Unknown keys and bad values are refused with the file, the key path and why. This module
imports neither `soclab.validation` nor `soclab.cells` (they import it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dssoc.errors import ConfigError


class SpecError(ConfigError):
    """A spec file is malformed; the message names the file and the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


SearchKind = Literal["loguniform", "uniform", "choice", "randint", "grid"]


#: The `simulation:` keys every spec's block holds, with the defaults of a spec (a warm-up of
#: 2 ms, unlike `SimConfig`'s 0); a cell's key always lists them, as it did before the block
#: was `SimConfig`'s input, so resuming finds the cells of older specs.
SIMULATION_DEFAULTS: dict[str, Any] = {"workload": "wifi-tx-rx", "soc": None, "probabilities": None,
                                       "duration_us": 20_000.0, "warmup_us": 2_000.0,
                                       "max_jobs_in_flight": 12}
#: Further keys older specs could write in `simulation:` (their axes went into the block's part
#: of a cell's key; axes over any other SimConfig field go beside it).
BLOCK_KEYS = (*SIMULATION_DEFAULTS, "binding", "arrivals", "mapping", "deadline_factor", "throttling")
#: `simulation:` keys that are axes of every point: written in the block, they become the axis.
POINT_KEYS = ("noise", "rate_jobs_per_ms", "scale_us")
#: What a YAML value of a SimConfig input may be, where it is not the field's own type (names and
#: spec strings for the objects; input-only keys).
_YAML_TYPES: dict[str, Any] = {"workload": str, "soc": str | dict[str, Any] | None, "noise": str | None,
                               "arrivals": str | None, "mapping": str | None,
                               "rate_jobs_per_ms": float | None, "probabilities": list[float] | None,
                               "deadline_factor": float | None, "scale_us": float | None}


def _block_model() -> type[BaseModel]:
    """The typed form of a `simulation:` block, derived from `SimConfig`'s fields (so it is not
    a second schema): YAML types and bounds checked here, values by `SimConfig` itself."""
    from pydantic import create_model

    from dssoc.config import SimConfig

    fields: dict[str, Any] = {}
    for name, info in SimConfig.model_fields.items():
        # an object's input (a name or spec string) defaults to none given
        unset = name in _YAML_TYPES or name in POINT_KEYS
        default = SIMULATION_DEFAULTS.get(name, None if unset else info.default)
        fields[name] = (_YAML_TYPES.get(name, info.annotation), default)
    fields["rate_jobs_per_ms"] = (_YAML_TYPES["rate_jobs_per_ms"], None)
    fields["probabilities"] = (_YAML_TYPES["probabilities"], None)
    return create_model("SimulationBlock", __config__=ConfigDict(extra="forbid", frozen=True,
                                                                 allow_inf_nan=False), **fields)


#: The `simulation:` block's model (pydantic locates its errors at `simulation.<key>`).
SimulationBlock = _block_model()


def block_settings(block: BaseModel) -> dict[str, Any]:
    """A checked `simulation:` block as SimConfig input, normalised (20000 -> 20000.0): the keys
    of `SIMULATION_DEFAULTS` always, the others only when written."""
    dump = block.model_dump(mode="json")
    return {k: v for k, v in dump.items() if k in SIMULATION_DEFAULTS or k in block.model_fields_set}


def point_inputs(simulation: Mapping[str, Any], point: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The `SimConfig` input of a cell: the spec's `simulation:` block with the point's axis
    values over SimConfig fields set by name (agent parameters left out), and the workload
    seed (generated workloads get one instance per evaluation seed)."""
    from dssoc.config import with_overrides

    changes = {k: v for k, v in point.items() if not k.startswith(AGENT_AXIS_PREFIX)}
    plain = {k: v for k, v in changes.items() if "." not in k}  # `soc` before `soc.FFT.capacity`
    nested = {k: v for k, v in changes.items() if "." in k}
    return {**with_overrides(with_overrides(simulation, plain), nested), "workload_seed": seed}


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


def training_copy_names(name: str, n: int) -> list[str]:
    """The names of an RL agent's `budget.training_seeds` copies: `NAME-t0` ... `NAME-t{n-1}`."""
    return [f"{name}-t{k}" for k in range(n)]


class SeedRange(_Strict):
    start: int = Field(0, ge=0)
    count: int = Field(5, ge=1)


#: axes that are not simulation fields: the noise spec and the injection rate (SimConfig.build's
#: `noise` and `rate_jobs_per_ms`); both are always part of a cell's point.
POINT_AXES = ("noise", "rate_jobs_per_ms")
#: Axes named `agent.PARAM` set a heuristic's constructor argument `PARAM` (its `params:`).
AGENT_AXIS_PREFIX = "agent."
#: SimConfig inputs that cannot be axes: the rate is `rates_jobs_per_ms`, the workload seed is
#: each evaluation seed.
_NOT_AXES = ("scale_us", "workload_seed")


def axis_kind(name: str) -> Literal["point", "simulation", "config", "agent"]:
    """Where an axis value goes: `point` (noise, rate), a key of older specs' `simulation:`
    block (part of the block's key), another `SimConfig` field (e.g. `energy`, `fixed_rate`,
    `max_jobs`), or an agent parameter (`agent.PARAM`); unknown names raise ValueError."""
    from dssoc.config import CONFIG_KEYS

    if name in POINT_AXES:
        return "point"
    if name.startswith(AGENT_AXIS_PREFIX) and name[len(AGENT_AXIS_PREFIX):].isidentifier():
        return "agent"
    if name in BLOCK_KEYS:
        return "simulation"
    if name in CONFIG_KEYS and name not in _NOT_AXES:
        return "config"
    if name.partition(".")[0] == "soc" and name.count(".") == 2:  # soc.CLUSTER.SETTING
        return "config"
    known = sorted({*POINT_AXES, *(k for k in CONFIG_KEYS if k not in _NOT_AXES), "seeds"})
    raise ValueError(f"unknown axis {name!r}; axes are SimConfig fields ({', '.join(known)}), "
                     f"SoC cluster settings (soc.CLUSTER.capacity) or agent parameters "
                     f"({AGENT_AXIS_PREFIX}PARAM)")


def _check_config_values(name: str, values: list[Any]) -> None:
    """Type-check a SimConfig-only axis with the field's own annotation (a nested setting such
    as `soc.FFT.capacity` is checked by SimConfig when each value is built)."""
    from pydantic import TypeAdapter

    from dssoc.config import SimConfig

    if name not in SimConfig.model_fields:
        return

    adapter = TypeAdapter(SimConfig.model_fields[name].annotation)
    for i, v in enumerate(values):
        try:
            adapter.validate_python(v, strict=True)
        except ValidationError as e:
            raise ValueError(f"{name}[{i}]: {e.errors()[0]['msg']}") from None


def agent_takes(agent: AgentSpec, param: str, value: Any) -> bool:
    """Whether the agent's scheduler takes constructor argument `param` (a registered heuristic
    whose constructor names it); a bad value for it raises ValueError."""
    if agent.kind != "heuristic" or ":" in agent.scheduler_spec:
        return False
    import inspect

    from dssoc.schedulers import make_scheduler

    params = inspect.signature(type(make_scheduler(agent.scheduler_spec))).parameters
    if param not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return False
    try:
        make_scheduler(agent.scheduler_spec, **{**agent.params, param: value})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{AGENT_AXIS_PREFIX}{param}: {agent.name}: {e}") from None
    return True


def agent_at(agent: AgentSpec, point: Mapping[str, Any]) -> AgentSpec:
    """The agent at a point: the point's `agent.PARAM` values it takes set in its `params`
    (others leave it as it is, so baselines still run, and pair, at every point)."""
    given = {k[len(AGENT_AXIS_PREFIX):]: v for k, v in point.items() if k.startswith(AGENT_AXIS_PREFIX)}
    taken = {k: v for k, v in given.items() if agent_takes(agent, k, v)}
    return agent.model_copy(update={"params": {**agent.params, **taken}}) if taken else agent


class AxesSpec(BaseModel):
    """The grid: every agent runs at every point of the axes' product with the same seeds.

    `noise`, `rates_jobs_per_ms` (or `rate_jobs_per_ms`) and `seeds` as before; any other key
    names a SimConfig field (`soc`, `workload`, `max_jobs_in_flight`, `energy`, ...) or an agent
    parameter (`agent.PARAM`, set in the `params` of every heuristic agent whose scheduler takes
    it) and lists its values, e.g. `axes: {soc: [MULTIPLE_BAL, my_soc.json],
    agent.ds3_tie_quirk: [true, false]}`. Axes vary in the order written, the last fastest;
    noise and rate come last (as before).
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
        return self  # simulation fields are checked against the block, agent ones by the agents

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
    training_seeds: int = Field(
        1, ge=1, le=16, description="independently trained copies of each RL agent (`NAME-tK`, "
        "K = 0..N-1), each evaluated on the same axes.seeds; copy K trains with seed offset + "
        "min(seeds) + 1000·K (copy 0 as an unexpanded agent does)")


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
    simulation: SimulationBlock = Field(default_factory=SimulationBlock)  # type: ignore[valid-type]
    agents: list[AgentSpec]
    axes: AxesSpec = Field(default_factory=AxesSpec)
    baselines: list[str] = Field(default_factory=lambda: ["HEFT", "ETF"])
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    tune: TuneSpec = Field(default_factory=TuneSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)

    @model_validator(mode="before")
    @classmethod
    def _point_keys_to_axes(cls, data: Any) -> Any:
        """`noise`, `rate_jobs_per_ms` or `scale_us` written in `simulation:` are the one value
        of their axis (every point has a noise and a rate); refused if the axis is given too."""
        if not isinstance(data, dict) or not isinstance(data.get("simulation"), dict):
            return data
        sim = dict(data["simulation"])
        moved = {k: sim.pop(k) for k in POINT_KEYS if sim.get(k) is not None}
        if not moved:
            return data
        axes = dict(data.get("axes") or {})
        if "rate_jobs_per_ms" in moved and "scale_us" in moved:
            raise ValueError("simulation: give rate_jobs_per_ms or scale_us, not both")
        for key, value in moved.items():
            axis = "noise" if key == "noise" else "rates_jobs_per_ms"
            if axis in axes or (axis == "rates_jobs_per_ms" and "rate_jobs_per_ms" in axes):
                raise ValueError(f"simulation.{key} and axes.{axis}: give one of them")
            if key == "scale_us":
                if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                    raise ValueError(f"simulation.scale_us: must be a number > 0, got {value!r}")
                value = 1000.0 / value
            axes[axis] = [value]
        return {**data, "simulation": sim, "axes": axes}

    @model_validator(mode="after")
    def _agents_ok(self) -> ExperimentSpec:
        if not self.agents:
            raise ValueError("agents: list at least one agent")
        names = [a.name for a in self.agents]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"agents: duplicate names {sorted(dup)}")
        self._training_copies_ok()
        self._simulation_axes_ok()
        self._agent_axes_ok()
        self._bindings_ok()
        return self

    def _training_copies_ok(self) -> None:
        """With budget.training_seeds > 1 the copies' names must be free and no baseline may be
        an RL agent (its copies would leave no rows under its own name to pair with)."""
        n = self.budget.training_seeds
        if n == 1:
            return
        taken = {a.name for a in self.agents} | set(self.baselines)
        for a in self.agents:
            if a.kind != "rl":
                continue
            if a.name in self.baselines:
                raise ValueError(f"budget.training_seeds: {n} copies of RL agent {a.name!r}, "
                                 "which is also a baseline; list a heuristic as baseline")
            clash = sorted(taken & set(training_copy_names(a.name, n)))
            if clash:
                raise ValueError(f"budget.training_seeds: copy name {clash[0]!r} of RL agent "
                                 f"{a.name!r} is already an agent or baseline name; rename it")

    @property
    def settings(self) -> dict[str, Any]:
        """The `simulation:` block as SimConfig input (`block_settings`)."""
        return block_settings(self.simulation)

    def _simulation_axes_ok(self) -> None:
        """Each value of an axis over a `simulation:` key gives a valid simulation block."""
        base = self.simulation.model_dump()
        for name, values in self.axes.extra_axes.items():
            if axis_kind(name) != "simulation":
                continue
            for i, v in enumerate(values):
                try:
                    SimulationBlock.model_validate({**base, name: v})
                except ValidationError as e:
                    raise ValueError(f"axes.{name}[{i}]: {e.errors()[0]['msg']}") from None

    def _agent_axes_ok(self) -> None:
        """Every `agent.PARAM` axis value is taken by at least one heuristic agent (a typo
        would otherwise only multiply the cells) and valid for every agent taking it."""
        agent_axes = {k: v for k, v in self.axes.extra_axes.items() if axis_kind(k) == "agent"}
        agents = self.all_agents() if agent_axes else []  # (bad baseline names: check_spec's)
        for name, values in agent_axes.items():
            param = name[len(AGENT_AXIS_PREFIX):]
            for i, v in enumerate(values):
                try:
                    takers = [a.name for a in agents if agent_takes(a, param, v)]
                except ValueError as e:
                    raise ValueError(f"axes.{name}[{i}]: {e}") from None
                if not takers:
                    raise ValueError(f"axes.{name}: no agent's scheduler takes a parameter "
                                     f"{param!r} (agent axes set heuristics' params)")

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
