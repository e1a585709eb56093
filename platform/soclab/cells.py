"""Planning a sweep: the grid of cells (agent × noise × rate, over the seed set), their content
hashes, and their grouping into Tune trials.

A cell's hash covers its full configuration (agent, hyperparameters, axes values, seeds, the
simulation settings and the SoC/DAG contents), so resuming can tell finished cells apart and a
changed spec never reuses stale results.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dssoc import SimConfig
from soclab.spec import AgentSpec, ExperimentSpec


@dataclass(frozen=True)
class Cell:
    """One agent at one (noise, rate), evaluated on the seed set."""

    spec_name: str
    agent: AgentSpec
    noise: str
    rate_jobs_per_ms: float
    seeds: tuple[int, ...]
    simulation: dict[str, Any]
    budget: dict[str, Any]
    #: hyperparameters chosen by a search (soclab.rl.tuning) for an agent with a search_space;
    #: not part of the key: the cell stays the same experiment whatever the search found.
    tuned: dict[str, Any] | None = None
    governor: str | None = None  # DVFS axis value (None: the SoC's own governors)

    def sim_config(self, seed: int | None = None) -> SimConfig:
        """The simulated system; a generated workload (`wfcommons:RECIPE:TASKS`) is generated with
        `seed` (default: the cell's first seed), so each evaluation seed gets its own instance."""
        s = self.simulation
        return SimConfig.build(
            s["workload"], s["soc"], rate_jobs_per_ms=self.rate_jobs_per_ms,
            probabilities=s["probabilities"], noise=self.noise, duration_us=s["duration_us"],
            warmup_us=s["warmup_us"], max_jobs_in_flight=s["max_jobs_in_flight"],
            governor=self.governor, deadline_factor=s.get("deadline_factor"),
            throttling=bool(s.get("throttling", False)),
            arrivals=s.get("arrivals"), mapping=s.get("mapping"),
            workload_seed=self.seeds[0] if seed is None else seed,
        )

    @cached_property
    def key(self) -> dict[str, Any]:
        """Everything that determines the cell's results."""
        return {
            "agent": self.agent.model_dump(mode="json"),
            "noise": self.noise,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "seeds": list(self.seeds),
            "simulation": self.simulation,
            "system_fingerprint": self.sim_config().fingerprint(),
            "budget": self.budget if self.agent.kind == "rl" else None,
            **({"governor": self.governor} if self.governor is not None else {}),
        }

    @cached_property
    def hash(self) -> str:
        blob = json.dumps(self.key, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        gov = f" | governor={self.governor}" if self.governor is not None else ""
        return f"{self.agent.name} | noise={self.noise} | rate={self.rate_jobs_per_ms:g}/ms{gov}"

    def params(self) -> dict[str, Any]:
        """Flat MLflow params of the cell, numbers as the user wrote them (rate `8`, not `8.0`)
        and only the fields that apply to the agent (no algorithm for a heuristic)."""
        from soclab.metrics import plain_number

        p: dict[str, Any] = {
            "agent": self.agent.name,
            "agent_kind": self.agent.kind,
            "noise": self.noise,
            "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "seeds": ",".join(map(str, self.seeds)),
            "n_seeds": len(self.seeds),
            "workload": self.simulation["workload"],
            "soc": self.sim_config().soc.name,
            "duration_us": self.simulation["duration_us"],
            "warmup_us": self.simulation["warmup_us"],
            "cell_hash": self.hash,
            "governor": self.governor or "soc",
        }
        if self.agent.kind == "heuristic":
            p["scheduler"] = self.agent.scheduler_spec
        else:
            p.update(algorithm=self.agent.algorithm, model=self.agent.model,
                     action_mode=self.agent.action_mode, reward=self.agent.reward,
                     rl_iterations=self.budget.get("rl_iterations"))
        for k, v in {**self.agent.hyperparameters, **(self.tuned or {})}.items():
            p[f"hp.{k}"] = v
        return {k: plain_number(v) for k, v in p.items() if v is not None}

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able form that crosses process boundaries (Tune trial configs)."""
        return {
            "spec_name": self.spec_name, "agent": self.agent.model_dump(mode="json"),
            "noise": self.noise, "rate_jobs_per_ms": self.rate_jobs_per_ms,
            "seeds": list(self.seeds), "simulation": self.simulation, "budget": self.budget,
            "tuned": self.tuned,
            "governor": self.governor,
            "hash": self.hash,  # the planner's hash: workers must not recompute it with other code
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> Cell:
        cell = cls(d["spec_name"], AgentSpec.model_validate(d["agent"]), d["noise"],
                   float(d["rate_jobs_per_ms"]), tuple(d["seeds"]), d["simulation"], d["budget"],
                   d.get("tuned"), d.get("governor"))
        if "hash" in d:
            cell.__dict__["hash"] = d["hash"]  # fills the cached_property
        return cell


def plan_cells(spec: ExperimentSpec) -> list[Cell]:
    """All cells of the spec's grid, baselines included, in a stable order."""
    sim = spec.simulation.model_dump(mode="json")
    defaults = {"arrivals": None, "mapping": None, "deadline_factor": None, "throttling": False}
    for key, default in defaults.items():  # newer keys: absent when unset, so old cell hashes hold
        if sim.get(key) == default:
            sim.pop(key, None)
    budget = spec.budget.model_dump(mode="json")
    seeds = tuple(spec.axes.seed_list)
    return [
        Cell(spec.name, agent, noise, float(rate), seeds, sim, budget, governor=governor)
        for agent in spec.all_agents()
        for noise in spec.axes.noise
        for rate in spec.axes.rates_jobs_per_ms
        for governor in (spec.axes.governors or [None])
    ]


def estimated_cost(cell: Cell) -> float:
    """Relative cost of a heuristic cell: simulated jobs × seeds (for balancing groups)."""
    return cell.rate_jobs_per_ms * cell.simulation["duration_us"] / 1000 * len(cell.seeds)


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


def plan_units(spec: ExperimentSpec, cells: list[Cell]) -> list[dict[str, Any]]:
    """Trial units: groups of heuristic cells, and one unit per RL cell."""
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
    units += [{"kind": "rl", "cells": [c.to_payload()]} for c in rl]
    return units
