"""RLlib (new API stack) modules around the scheduler networks of `soclab.rl.nets`.

- `SchedulerRLModule`: policy + value function for PPO, APPO and IMPALA
  (`ValueFunctionAPI`, and `TargetNetworkAPI` for APPO). The forward pass returns masked logits
  in `Columns.ACTION_DIST_INPUTS`: an invalid action has logit `MASK_VALUE`, so its probability is
  exactly 0 and it is never sampled.
- `SchedulerQModule`: a masked Q-network for DQN (`QNetAPI`, `TargetNetworkAPI`). Invalid actions
  get Q = -inf, which RLlib's DQN learner and epsilon-greedy exploration are written to skip.

The network follows the observation: v0's graph or MLP network (`soclab.rl.nets`), or for
`dssoc/SoCSched-v1` the pair network (`soclab.rl.late_nets`).
`model_config` keys: `model` ("graph" | "mlp"), `hidden`, `gnn_steps` (graph only); DQN also
`epsilon` (a schedule `[[t, value], ...]` or a number).
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import (
    TARGET_NETWORK_ACTION_DIST_INPUTS,
    QNetAPI,
    TargetNetworkAPI,
    ValueFunctionAPI,
)
from ray.rllib.core.rl_module.torch import TorchRLModule

from soclab.rl.late_nets import build_any, dims_from_spaces
from soclab.rl.nets import OBS_ACTION_MASK, masked_logits

# model_config keys
MODEL_KIND = "model"
HIDDEN = "hidden"
GNN_STEPS = "gnn_steps"
EPSILON = "epsilon"
NET_OPTIONS = (HIDDEN, GNN_STEPS)

# DQN output keys (the same strings as ray.rllib.algorithms.dqn.default_dqn_rl_module)
QF_PREDS = "qf_preds"
QF_NEXT_PREDS = "qf_next_preds"
QF_TARGET_NEXT_PREDS = "qf_target_next_preds"


def _model_config(module: TorchRLModule) -> dict[str, Any]:
    cfg = module.model_config or {}
    return dict(cfg) if isinstance(cfg, dict) else {}


def _build(module: TorchRLModule) -> torch.nn.Module:
    cfg = _model_config(module)
    module.dims = dims_from_spaces(module.observation_space, module.action_space)  # v0 or v1
    return build_any(module.dims, cfg.get(MODEL_KIND, "graph"),
                     **{k: cfg[k] for k in NET_OPTIONS if k in cfg})


class SchedulerRLModule(TorchRLModule, ValueFunctionAPI, TargetNetworkAPI):
    """Masked policy and value function over the scheduling observation (PPO, APPO, IMPALA)."""

    def setup(self) -> None:
        self.net = _build(self)

    def _logits(self, net: torch.nn.Module, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        scores, emb = net(obs)
        return masked_logits(scores, obs[OBS_ACTION_MASK]), emb

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits, _ = self._logits(self.net, batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: logits}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits, emb = self._logits(self.net, batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: logits, Columns.EMBEDDINGS: emb}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        if embeddings is None:
            embeddings = self.net.embed(batch[Columns.OBS])
        return self.net.value(embeddings)

    # TargetNetworkAPI (APPO): a frozen copy of the whole network
    def make_target_networks(self) -> None:
        self._target_net = make_target_network(self.net)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.net, self._target_net)]

    def forward_target(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits, _ = self._logits(self._target_net, batch[Columns.OBS])
        return {TARGET_NETWORK_ACTION_DIST_INPUTS: logits}


class SchedulerQModule(TorchRLModule, QNetAPI, TargetNetworkAPI):
    """Masked Q-network for DQN: one Q-value per action from the same networks (the action
    scores are read as Q-values); invalid actions get -inf. Exploration is epsilon-greedy over the
    *valid* actions only. No dueling head, no distributional Q (num_atoms must be 1)."""

    def setup(self) -> None:
        from ray.rllib.utils.schedules.scheduler import Scheduler

        self.net = _build(self)
        cfg = _model_config(self)
        self.uses_double_q = bool(cfg.get("double_q", True))
        self.epsilon_schedule = Scheduler(fixed_value_or_schedule=cfg.get(EPSILON, [[0, 1.0],
                                                                                    [10000, 0.05]]),
                                          framework="torch")

    def _q(self, net: torch.nn.Module, obs: dict[str, Any]) -> torch.Tensor:
        scores, _ = net(obs)
        return masked_logits(scores, obs[OBS_ACTION_MASK], fill=float("-inf"))

    def compute_q_values(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {QF_PREDS: self._q(self.net, batch[Columns.OBS])}

    def compute_advantage_distribution(self, batch: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("distributional Q-learning is not supported (num_atoms=1)")

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with torch.no_grad():
            q = self._q(self.net, batch[Columns.OBS])
        return {Columns.ACTIONS: torch.argmax(q, dim=-1)}

    def _forward_exploration(self, batch: dict[str, Any], t: int = 0, **kwargs: Any) -> dict[str, Any]:
        with torch.no_grad():
            obs = batch[Columns.OBS]
            q = self._q(self.net, obs)
            greedy = torch.argmax(q, dim=-1)
            self.epsilon_schedule.update(t)
            eps = float(self.epsilon_schedule.get_current_value())
            valid = (obs[OBS_ACTION_MASK] > 0.5).float()
            random = torch.multinomial(valid, 1).squeeze(-1)  # uniform over valid actions
            explore = torch.rand(greedy.shape[0], device=greedy.device) < eps
            return {Columns.ACTIONS: torch.where(explore, random, greedy)}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        out: dict[str, Any] = {}
        if self.uses_double_q:
            q_both = self._q(self.net, _cat(obs, next_obs))
            out[QF_PREDS], out[QF_NEXT_PREDS] = torch.chunk(q_both, 2, dim=0)
        else:
            out[QF_PREDS] = self._q(self.net, obs)
        out[QF_TARGET_NEXT_PREDS] = self.forward_target({Columns.OBS: next_obs})[QF_PREDS]
        return out

    def make_target_networks(self) -> None:
        self._target_net = make_target_network(self.net)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.net, self._target_net)]

    def forward_target(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {QF_PREDS: self._q(self._target_net, batch[Columns.OBS])}


def _cat(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {k: _cat(a[k], b[k]) for k in a}
    return torch.cat([a, b], dim=0)
