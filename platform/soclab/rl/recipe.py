"""The default training recipe of the learned scheduler: which env, which settings.

One place for the settings that `soclab train`, the sweeps and `benchmarks/bench_training.py`
share when a spec does not override them. `Recipe.hyperparameters` are spec-level
hyperparameters (RLlib `.training()` arguments or soclab's, see `soclab.rl.algos`);
`env_options` are extra constructor keys of the env (`soclab.rl.env.env_config_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
