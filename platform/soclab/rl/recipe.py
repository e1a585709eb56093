"""The default training recipe of the learned scheduler: which env, which settings.

One place for the settings that `soclab train`, the sweeps and `benchmarks/bench_training.py`
share when a spec does not override them. `Recipe.hyperparameters` are spec-level
hyperparameters (RLlib `.training()` arguments or soclab's, see `soclab.rl.algos`);
`env_options` are extra constructor keys of the env (`soclab.rl.env.env_config_for`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dssoc.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    """Env id plus default hyperparameters and env options of a training recipe."""

    env_id: str = "dssoc/SoCSched-v0"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    env_options: dict[str, Any] = field(default_factory=dict)


#: throughput settings measured in docs/benchmarks.md ("Training throughput")
DEFAULT_RECIPE = Recipe(
    env_id="dssoc/SoCSched-v0",
    hyperparameters={
        # 8 vectorised envs, one batched forward pass per step of all of them
        "num_env_runners": 0, "num_envs_per_env_runner": 8,
        # a smaller graph network and one pass over each batch: the learner dominated
        "hidden": 32, "gnn_steps": 2,
        "train_batch_size_per_learner": 2048, "minibatch_size": 512, "num_epochs": 1,
    },
)


#: simulation seeds below this are never drawn for training episodes or demonstrations: they
#: are the validation and evaluation seeds (`soclab evaluate` checks it)
TRAIN_SEED_FLOOR = 1_000_000
#: demonstration episodes of training seed s are seeds floor + s * stride + i, i < stride
DEMONSTRATION_SEED_STRIDE = 1000


def demonstration_seeds(hyperparameters: dict[str, Any], train_seed: int) -> list[int]:
    """Seeds of the teacher's episodes: `bc_episodes` seeds from the training range."""
    return [s for r in demonstration_rounds(hyperparameters, train_seed) for s in r]


def demonstration_rounds(hyperparameters: dict[str, Any], train_seed: int) -> list[list[int]]:
    """The warm start's episode seeds per round: `bc_episodes` for cloning, then
    `bc_dagger_episodes` (default `bc_episodes`) for each of `bc_dagger_rounds` DAgger rounds,
    consecutive training seeds, all distinct and within the training copy's own seed range."""
    def count(key: str, default: int, least: int) -> int:
        v = hyperparameters.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise ConfigError(f"must be an integer >= {least}, got {v!r}", f"hyperparameters.{key}")
        return v

    n = count("bc_episodes", 8, 1)
    rounds = count("bc_dagger_rounds", 0, 0)
    per_round = count("bc_dagger_episodes", n, 1)
    if sum([n] + [per_round] * rounds) > DEMONSTRATION_SEED_STRIDE:
        raise ConfigError(f"{n + per_round * rounds} demonstration episodes: at most "
                          f"{DEMONSTRATION_SEED_STRIDE} (bc_episodes + bc_dagger_rounds x "
                          "bc_dagger_episodes)", "hyperparameters.bc_episodes")
    floor = int(hyperparameters.get("reserved_seeds_below", TRAIN_SEED_FLOOR))
    first = floor + int(train_seed) * DEMONSTRATION_SEED_STRIDE
    seeds = [[first + i for i in range(n)]]
    for _ in range(rounds):
        start = seeds[-1][-1] + 1
        seeds.append([start + i for i in range(per_round)])
    return seeds


def warm_start(algo: Any, env_config: dict[str, Any], hyperparameters: dict[str, Any],
               train_seed: int, on_status: Callable[[str], None] | None = None) -> dict[str, float]:
    """Behaviour cloning of `bc_teacher` (and DAgger rounds, `bc_dagger_rounds`) into the
    algorithm's network before RL (see `soclab.rl.bc.clone`); returns what it measured."""
    import copy

    from ray.rllib.core import DEFAULT_MODULE_ID

    from soclab.rl import bc

    first, *dagger = demonstration_rounds(hyperparameters, train_seed)
    net = copy.deepcopy(algo.get_module(DEFAULT_MODULE_ID).net)
    _, info = bc.clone(net, env_config, str(hyperparameters["bc_teacher"]), first,
                       dagger_seeds=dagger, teacher_params=hyperparameters.get("bc_teacher_params"),
                       epochs=int(hyperparameters.get("bc_epochs", 10)),
                       lr=float(hyperparameters.get("bc_lr", 1e-3)), seed=int(train_seed),
                       on_status=on_status)
    bc.warm_start_algorithm(algo, net.state_dict())
    return info


class Validator:
    """Greedy policy on the validation seeds vs the best of the given heuristics (on the same
    seeds): `ratio(net)` = mean latency of the policy / mean latency of the best heuristic.

    Used for early stopping and model selection; the validation seeds are then excluded from
    evaluation (they go into the model card)."""

    def __init__(self, env_config: dict[str, Any], seeds: list[int], heuristics: list[str],
                 duration_us: float, warmup_us: float) -> None:
        from dssoc import simulate
        from soclab.rl.env import env_sim_config

        late = str(env_config.get("env_id", "")).endswith("v1")
        self.config = env_sim_config(env_config).replace(
            duration_us=duration_us, warmup_us=warmup_us, max_jobs=None,
            **({"binding": "late"} if late else {}))
        self.env_config = env_config
        self.seeds = list(seeds)
        base = {h: float(sum(simulate(self.config, h, s).avg_latency_us for s in self.seeds))
                for h in heuristics}
        self.best_heuristic = min(base, key=base.__getitem__)
        self.best_latency = base[self.best_heuristic] / len(self.seeds)

    def latencies(self, net: Any) -> list[float]:
        """The greedy policy's average latency on each validation seed; all seeds run in lockstep,
        one batched forward pass per step (`soclab.rl.package.simulate_greedy`)."""
        from soclab.rl.package import NetPolicy, simulate_greedy

        e = self.env_config
        card = {"obs_dims": None, "name": "validation", "workload": self.config.workload.name}
        policy = NetPolicy(net, card)
        policy._checked = True  # the training env's own observation
        runs = simulate_greedy(self.config, policy, e, str(e.get("env_id", "dssoc/SoCSched-v0")),
                               self.seeds)
        return [float(r.avg_latency_us) for r in runs]

    def latency(self, net: Any) -> float:
        """Mean over the validation seeds of the greedy policy's average latency."""
        return float(sum(self.latencies(net)) / len(self.seeds))

    def ratio(self, net: Any) -> float:
        was_training = net.training
        net.eval()
        try:
            return self.latency(net) / self.best_latency
        finally:
            net.train(was_training)


VALIDATION_CURVE = "validation_ratio"  # learning curve: validation latency / best heuristic's


class RecipeStart:
    """The recipe's steps around RL training in `soclab.rl.train.train_agent`, driven by the
    agent's hyperparameters:

    - `bc_teacher` (with `bc_episodes`, `bc_epochs`, `bc_lr`): behaviour-cloning warm start;
    - `validation_seeds` (with `validate_every`, `patience`, `validation_us`,
      `validation_heuristics`): the greedy policy is scored on these seeds every
      `validate_every` iterations (and once before RL), as the ratio of its mean latency to the
      best heuristic's; the best-scoring weights are kept (model selection) and training stops
      after `patience` validations without improvement (early stopping);
    - `load_curriculum`, `episode_curriculum` (`soclab.rl.curriculum`): the training envs' load
      and mean episode length for each iteration, pushed into the env runners before it
      (validation stays at the cell's own load).
    """

    def __init__(self, algo: Any, env_config: dict[str, Any], hp: dict[str, Any], cell: Any,
                 train_seed: int, iterations: int = 1,
                 on_status: Callable[[str], None] | None = None) -> None:
        from ray.rllib.core import DEFAULT_MODULE_ID

        from soclab.rl.curriculum import Curriculum

        self.algo, self.hp = algo, hp
        self.info: dict[str, Any] = {}
        self._module_id = DEFAULT_MODULE_ID
        self.curriculum = Curriculum.from_hyperparameters(hp, iterations)
        if self.curriculum.active:
            self.info["curriculum"] = [[0, self.curriculum.apply(algo, 0)]]
        if hp.get("bc_teacher"):
            self.info.update(warm_start(algo, env_config, hp, train_seed, on_status))
            self.info["train_seeds"] = demonstration_seeds(hp, train_seed)
        self.validator: Validator | None = None
        self.best = (math.inf, None, 0)
        self.stale = 0
        seeds = [int(s) for s in hp.get("validation_seeds") or []]
        if seeds:
            overlap = sorted(set(seeds) & {int(s) for s in cell.seeds})
            if overlap:
                raise ConfigError(f"validation seeds {overlap} are also evaluation seeds",
                                  f"agents.{cell.agent.name}.hyperparameters.validation_seeds")
            heuristics = list(hp.get("validation_heuristics") or ["ETF", "HEFT"])
            dur = float(hp.get("validation_us", 5000.0))
            if on_status is not None:
                on_status(f"validation baselines: {', '.join(heuristics)} on {len(seeds)} seeds")
            self.validator = Validator(env_config, seeds, heuristics, dur, min(1000.0, dur / 5))
            self.info.update(validation_seeds=seeds,
                             validation_best_heuristic=self.validator.best_heuristic,
                             validation_heuristic_latency_us=self.validator.best_latency)
            self._validate(0)

    def _net(self) -> Any:
        return self.algo.get_module(self._module_id).net

    def _validate(self, iteration: int) -> float:
        import copy

        assert self.validator is not None
        r = self.validator.ratio(self._net())
        if r < self.best[0]:
            self.best = (r, copy.deepcopy(self._net().state_dict()), iteration)
            self.stale = 0
        else:
            self.stale += 1
        self.info.setdefault("validation_curve", []).append([iteration, r])
        return r

    def after_iteration(self, iteration: int, last: bool, metrics: dict[str, Any]) -> bool:
        """Advance the curricula (their values go into `metrics` as `curriculum_<key>`) and
        validate when due (the ratio goes into `metrics`); True to stop early."""
        if self.curriculum.active and not last:
            vals = self.curriculum.apply(self.algo, iteration)
            self.info["curriculum"].append([iteration, vals])
            metrics.update({f"curriculum_{k}": v for k, v in vals.items()})
        if self.validator is None:
            return False
        every = int(self.hp.get("validate_every", 5))
        if iteration % every == 0 or last:
            metrics[VALIDATION_CURVE] = self._validate(iteration)
        patience = self.hp.get("patience")
        return patience is not None and self.stale >= int(patience)

    def finish(self) -> None:
        """Put the best validated weights back (they are what gets checkpointed)."""
        from soclab.rl import bc

        if self.best[1] is not None:
            bc.warm_start_algorithm(self.algo, self.best[1])
            self.info.update(validation_ratio=self.best[0], selected_iteration=self.best[2])

    def record(self) -> dict[str, Any]:
        """What the checkpoint's settings record about warm start and selection."""
        return {"recipe": self.info} if self.info else {}
