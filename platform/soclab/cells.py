"""Planning a sweep: the grid of cells (agent × the axes' product, over the seed set), their
content hashes, and their grouping into Tune trials.

A cell's hash covers its full configuration (agent, hyperparameters, axes values, seeds, the
simulation settings and the SoC/DAG contents), so resuming can tell finished cells apart and a
changed spec never reuses stale results.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dssoc import SimConfig
from dssoc.errors import ConfigError
from soclab.spec_schema import (
    POINT_AXES,
    AgentSpec,
    ExperimentSpec,
    agent_at,
    axis_kind,
    point_inputs,
    training_copy_names,
)

#: `simulation:` keys left out of a cell's key while they hold their default, so cells of specs
#: written before the key existed keep their hashes (resuming an old store finds them).
OPTIONAL_SIMULATION_KEYS: dict[str, Any] = {"arrivals": None, "mapping": None, "deadline_factor": None,
                                             "throttling": False, "binding": "early"}


def _without_defaults(sim: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sim.items()
            if not (k in OPTIONAL_SIMULATION_KEYS and v == OPTIONAL_SIMULATION_KEYS[k])}


@dataclass(frozen=True)
class Cell:
    """One agent at one point of the spec's axes, evaluated on the seed set.

    `point` holds the axis values in axis order (extra axes, then `noise` and
    `rate_jobs_per_ms`, which every point has); its key, label, MLflow params, results columns
    and report grouping all derive from it. `simulation` is the spec's `simulation:` block (the
    SimConfig input the point's values override); `agent` is the spec's agent with the point's
    `agent.PARAM` values it takes in its params.
    """

    spec_name: str
    agent: AgentSpec
    point: tuple[tuple[str, Any], ...]
    seeds: tuple[int, ...]
    simulation: dict[str, Any]
    budget: dict[str, Any]
    #: hyperparameters chosen by a search (soclab.rl.tuning) for an agent with a search_space;
    #: not part of the key: the cell stays the same experiment whatever the search found.
    tuned: dict[str, Any] | None = None
    #: which of the agent's `budget.training_seeds` copies this is (its name is `BASE-tK`);
    #: None: the agent is not expanded (training_seeds 1). The training seed derives from it
    #: (`soclab.rl.train.train_seed`).
    training_seed_index: int | None = None
    #: the cell's SimConfig per workload seed, built once (key, params, runs all read it); not
    #: an init field, so `dataclasses.replace(cell, point=...)` starts with an empty cache
    _configs: dict[int, SimConfig] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def governor(self) -> str | None:
        """The DVFS governor axis value (None: the SoC's own governors)."""
        value = self.coordinates.get("governor")
        return None if value is None else str(value)

    @property
    def coordinates(self) -> dict[str, Any]:
        """The point as a mapping: axis name -> value."""
        return dict(self.point)

    @property
    def noise(self) -> str:
        return str(self.coordinates["noise"])

    @property
    def rate_jobs_per_ms(self) -> float:
        return float(self.coordinates["rate_jobs_per_ms"])

    @property
    def extra_axes(self) -> dict[str, Any]:
        """The point's axes beyond noise and rate (e.g. soc, max_jobs_in_flight, agent.PARAM)."""
        return {k: v for k, v in self.point if k not in POINT_AXES}

    @property
    def agent_axes(self) -> dict[str, Any]:
        """The point's agent-parameter axes (`agent.PARAM`)."""
        return {k: v for k, v in self.extra_axes.items() if axis_kind(k) == "agent"}

    @property
    def settings(self) -> dict[str, Any]:
        """The `simulation:` block at this point (simulation-field axes applied), unset optional
        keys left out."""
        sim = dict(self.simulation)
        sim.update({k: v for k, v in self.extra_axes.items() if axis_kind(k) == "simulation"})
        return _without_defaults(sim)

    @property
    def config_axes(self) -> dict[str, Any]:
        """The point's values of SimConfig fields that are not `simulation:` keys (e.g. energy)."""
        return {k: v for k, v in self.extra_axes.items() if axis_kind(k) == "config"}

    def sim_config(self, seed: int | None = None) -> SimConfig:
        """The simulated system (built once per workload seed, then cached); a generated workload
        (`wfcommons:RECIPE:TASKS`) is generated with `seed` (default: the cell's first seed), so
        each evaluation seed gets its own instance."""
        seed = self.seeds[0] if seed is None else int(seed)
        config = self._configs.get(seed)
        if config is None:
            config = SimConfig.model_validate(point_inputs(self.simulation, self.coordinates, seed))
            self._configs[seed] = config
        return config

    @cached_property
    def key(self) -> dict[str, Any]:
        """Everything that determines the cell's results (for today's noise x rate specs the
        same dict as before axes were data, so their hashes are unchanged)."""
        return {
            "agent": self.agent.key_dump(),
            "noise": self.noise,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "seeds": list(self.seeds),
            "simulation": self.settings,
            "system_fingerprint": self.sim_config().fingerprint(),
            "budget": self.budget if self.agent.kind == "rl" else None,
            **self.config_axes,
            # only with agent axes, so the cells of specs without them keep their hashes
            **({"agent_axes": self.agent_axes} if self.agent_axes else {}),
            # only for copies, so unexpanded agents keep their hashes
            **({"training_seed_index": self.training_seed_index}
               if self.training_seed_index is not None else {}),
        }

    @property
    def base_agent(self) -> str:
        """The spec's name of the agent: `rl` for the copy `rl-t2`, else the agent's name."""
        k = self.training_seed_index
        return self.agent.name if k is None else self.agent.name.removesuffix(f"-t{k}")

    @cached_property
    def hash(self) -> str:
        blob = json.dumps(self.key, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        parts = [f"rate={float(v):g}/ms" if k == "rate_jobs_per_ms" else f"{k}={v}" for k, v in self.point]
        return " | ".join([self.agent.name, *parts])

    def params(self) -> dict[str, Any]:
        """Flat MLflow params of the cell: the agent (only the fields that apply to it: no
        algorithm for a heuristic), every axis of the point, the system; numbers as the user wrote
        them (rate `8`, not `8.0`)."""
        from soclab.metrics import plain_number

        p: dict[str, Any] = {
            "agent": self.agent.name,
            "agent_kind": self.agent.kind,
            "noise": self.noise,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "seeds": ",".join(map(str, self.seeds)),
            "n_seeds": len(self.seeds),
            "workload": self.settings["workload"],
            "soc": self.sim_config().soc.name,
            "duration_us": self.settings["duration_us"],
            "warmup_us": self.settings["warmup_us"],
            "cell_hash": self.hash,
            "governor": self.governor or "soc",  # always there: runs tables read it
        }
        if self.agent.kind == "heuristic":
            p["scheduler"] = self.agent.scheduler_spec
        else:
            p.update(algorithm=self.agent.algorithm, model=self.agent.model,
                     action_mode=self.agent.action_mode, reward=self.agent.reward,
                     rl_iterations=self.budget.get("rl_iterations"))
            if self.training_seed_index is not None:
                p["training_seed_index"] = self.training_seed_index
        for k, v in self.extra_axes.items():
            p.setdefault(k, v)  # the soc keeps its resolved name; other axes their value
        for k, v in self.agent.params.items():
            p[f"param.{k}"] = v
        for k, v in {**self.agent.hyperparameters, **(self.tuned or {})}.items():
            p[f"hp.{k}"] = v
        return {k: plain_number(v) for k, v in p.items() if v is not None}

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able form that crosses process boundaries (Tune trial configs)."""
        return {
            "spec_name": self.spec_name, "agent": self.agent.model_dump(mode="json"),
            "point": [list(kv) for kv in self.point],
            "seeds": list(self.seeds), "simulation": self.simulation, "budget": self.budget,
            "tuned": self.tuned, "training_seed_index": self.training_seed_index,
            "hash": self.hash,  # the planner's hash: workers must not recompute it with other code
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> Cell:
        cell = cls(d["spec_name"], AgentSpec.model_validate(d["agent"]),
                   tuple((str(k), v) for k, v in d["point"]), tuple(d["seeds"]), d["simulation"],
                   d["budget"], d.get("tuned"), d.get("training_seed_index"))
        if "hash" in d:
            cell.__dict__["hash"] = d["hash"]  # fills the cached_property
        return cell


def plan_cells(spec: ExperimentSpec, at: Mapping[str, Any] | None = None,
               agents: list[AgentSpec] | None = None) -> list[Cell]:
    """The cells of the spec's grid (every agent, baselines included, at every point of the
    axes' product), in a stable order: agents, then the axes as written, the last fastest.

    With `at`, only one point: the given axis values (e.g. `{"noise": "none"}`), and the first
    value of every other axis (what `soclab train` evaluates). `agents` defaults to all of them
    (`ExperimentSpec.all_agents`)."""
    axes = spec.axes.values()
    if at is not None:
        unknown = sorted(set(at) - set(axes))
        if unknown:
            raise ConfigError(f"no axis {unknown} in the spec; axes: {', '.join(axes)}", spec.name)
        axes = {k: [at[k]] if k in at and at[k] is not None else v[:1] for k, v in axes.items()}
    names = list(axes)
    sim = spec.settings
    # the number of copies is not part of any one cell (each copy has its own index), so
    # changing it keeps the copies already trained, and the default keeps every hash
    budget = spec.budget.model_dump(mode="json", exclude={"training_seeds"})
    seeds = tuple(spec.axes.seed_list)
    points = [tuple(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]
    return [
        Cell(spec.name, agent_at(copy, dict(point)), point, seeds, sim, budget,
             training_seed_index=k)
        for agent in (spec.all_agents() if agents is None else agents)
        for copy, k in training_copies(agent, spec.budget.training_seeds)
        for point in points
    ]


def training_copies(agent: AgentSpec, n: int) -> list[tuple[AgentSpec, int | None]]:
    """(agent, training seed index) per copy: an RL agent with n > 1 gives n copies named
    `NAME-tK`; a heuristic, or n = 1, the agent itself with index None."""
    if agent.kind != "rl" or n == 1:
        return [(agent, None)]
    return [(agent.model_copy(update={"name": name}), k)
            for k, name in enumerate(training_copy_names(agent.name, n))]


def agent_labels(spec: ExperimentSpec, name: str) -> list[str]:
    """The results' agent names of the spec's agent `name`: its copies with
    budget.training_seeds > 1 (an RL agent), else the name itself."""
    agent = next((a for a in spec.all_agents() if a.name == name), None)
    if agent is None:
        return [name]
    return [a.name for a, _ in training_copies(agent, spec.budget.training_seeds)]


def training_copy_groups(spec: ExperimentSpec) -> dict[str, list[str]]:
    """Per spec agent trained several times (budget.training_seeds > 1), its copies' names."""
    if spec.budget.training_seeds < 2:
        return {}
    return {a.name: agent_labels(spec, a.name) for a in spec.agents if a.kind == "rl"}


def group_columns(spec: ExperimentSpec) -> list[str]:
    """The results columns one group of seeds is identified by: the agent and every axis."""
    return ["agent", *spec.axes.values()]


def estimated_cost(cell: Cell) -> float:
    """Relative cost of a heuristic cell: simulated jobs × seeds (for balancing groups)."""
    return cell.rate_jobs_per_ms * cell.settings["duration_us"] / 1000 * len(cell.seeds)


def group_cells(cells: list[Cell], groups: int) -> list[list[Cell]]:
    """Split heuristic cells into `groups` groups of similar estimated cost (longest first),
    so Tune's fixed per-trial overhead is paid a few times rather than once per cell."""
    groups = max(1, min(groups, len(cells)))
    bins: list[list[Cell]] = [[] for _ in range(groups)]
    load = [0.0] * groups
    for cell in sorted(cells, key=estimated_cost, reverse=True):
        i = load.index(min(load))
        bins[i].append(cell)
        load[i] += estimated_cost(cell)
    return [b for b in bins if b]


def trial_bundles(unit: Mapping[str, Any]) -> list[dict[str, float]]:
    """The CPU bundles of a unit's trial: its own (`cpus`), then one per RLlib env runner actor
    (`env_runners`; RLlib places runner i in bundle i of the trial's placement group, so they
    must be reserved). Sweep and search trials both ask Tune for these."""
    return [{"CPU": float(unit.get("cpus", 1))}] + [{"CPU": 1.0}] * int(unit.get("env_runners", 0))


def plan_units(spec: ExperimentSpec, cells: list[Cell]) -> list[dict[str, Any]]:
    """Trial units: groups of heuristic cells, and one unit per RL cell."""
    from soclab.rl.algos import env_runner_count

    heuristic = [c for c in cells if c.agent.kind == "heuristic"]
    rl = [c for c in cells if c.agent.kind == "rl"]
    per_trial = spec.tune.cells_per_trial
    auto = per_trial == "auto"
    # auto: one balanced group per parallel slot; each trial pays a fixed start-up (a fresh worker
    # importing soclab, 4-6 s), while resuming stays per cell through the MLflow ledger.
    n_groups = spec.tune.max_concurrent_trials if auto else -(-len(heuristic) // per_trial)
    units: list[dict[str, Any]] = [
        {"kind": "heuristic", "cells": [c.to_payload() for c in g]}
        for g in group_cells(heuristic, n_groups)
    ]
    units += [{"kind": "rl", "cells": [c.to_payload()],
               "env_runners": env_runner_count(c.agent.hyperparameters)} for c in rl]
    return units
