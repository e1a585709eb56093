"""PPO with Decima's grouped (input-dependent) baseline on RLlib's new API stack.

`GroupedAdvantage` is a learner connector piece that runs right after RLlib's
`GeneralAdvantageEstimation` and replaces its advantages: the batch's episodes (complete, see
`soclab.rl.algos`: `batch_mode="complete_episodes"`) are grouped by the simulation seed their
infos carry (`sim_seed`, set by the env wrapper's `group_seeds`), and each step's advantage is its
return-to-go minus the group's mean return-to-go at the same simulated time
(`soclab.rl.grouped.batch_advantages`). GAE's value targets stay, so the critic keeps learning
(it is the baseline of an episode whose group was split across two batches). Advantages are then
standardised over the real steps, as RLlib does with GAE's; the artificial bootstrap step that
`AddOneTsToEpisodesAndTruncate` appends to every episode gets 0 (it is masked out of the loss).

`GroupedPPOTorchLearner` is `PPOTorchLearner` with that piece appended to its learner pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.postprocessing.zero_padding import unpad_data_if_necessary

from soclab.rl.grouped import batch_advantages

GROUP_KEY = "sim_seed"  # info key naming an episode's group
TIME_KEY = "time_us"  # info key: simulated time of the decision


def _episode_series(episode: Any) -> tuple[Any, list[float]]:
    """(group key, decision time of every real step) of an episode from its infos."""
    n = len(episode) - 1  # the last step is AddOneTsToEpisodesAndTruncate's artificial one
    infos = episode.get_infos()
    key = infos[0].get(GROUP_KEY, id(episode)) if infos else id(episode)
    times = [float(infos[min(t, len(infos) - 1)].get(TIME_KEY, 0.0)) for t in range(n)]
    return key, times


class GroupedAdvantage(ConnectorV2):
    """Learner connector piece: grouped-baseline advantages in place of GAE's (module doc)."""

    def __init__(self, input_observation_space: Any = None, input_action_space: Any = None, *,
                 gamma: float) -> None:
        super().__init__(input_observation_space, input_action_space)
        self.gamma = float(gamma)

    def __call__(self, *, rl_module: Any, episodes: list[Any], batch: dict[str, Any],
                 **kwargs: Any) -> Any:
        sa_episodes = list(self.single_agent_episode_iterator(episodes,
                                                              agents_that_stepped_only=False))
        for mid, module_batch in batch.items():
            module = rl_module[mid]
            if Postprocessing.ADVANTAGES not in module_batch or not isinstance(module,
                                                                                ValueFunctionAPI):
                continue
            eps = [e for e in sa_episodes if e.module_id in (None, mid)]
            lens = [len(e) for e in eps]
            with torch.no_grad():
                values = convert_to_numpy(module.compute_values(module_batch))
            values = unpad_data_if_necessary(lens, values)
            rewards = unpad_data_if_necessary(lens, convert_to_numpy(module_batch[Columns.REWARDS]))
            keys, times, rews, vals = [], [], [], []
            start = 0
            for e, n in zip(eps, lens, strict=True):
                k, t = _episode_series(e)
                keys.append(k)
                times.append(t)
                rews.append(rewards[start:start + n - 1])
                vals.append(values[start:start + n - 1])
                start += n
            advs = batch_advantages(keys, times, rews, vals, self.gamma)
            real = np.concatenate(advs) if advs else np.zeros(0)
            scale = max(1e-4, float(real.std())) if real.size else 1.0
            mean = float(real.mean()) if real.size else 0.0
            flat = np.concatenate([np.append((a - mean) / scale, 0.0) for a in advs]) \
                if advs else np.zeros(0)
            old = module_batch[Postprocessing.ADVANTAGES]
            module_batch[Postprocessing.ADVANTAGES] = torch.as_tensor(
                flat.astype(np.float32), device=getattr(old, "device", None))
        return batch


class GroupedPPOTorchLearner(PPOTorchLearner):
    """PPO's torch learner whose advantages are Decima's grouped ones (`GroupedAdvantage`)."""

    def build(self) -> None:
        super().build()
        if self._learner_connector is not None:
            self._learner_connector.append(GroupedAdvantage(gamma=self.config.gamma))
