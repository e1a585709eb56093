"""Gymnasium environment for learning to schedule on a heterogeneous SoC.

Importing this package registers `dssoc/SoCSched-v0`::

    >>> import gymnasium as gym, dssoc.env
    >>> env = gym.make("dssoc/SoCSched-v0", config={"workload": "wifi-tx-rx", "max_jobs": 20})

`PolicyScheduler` runs a policy trained on the env as an ordinary scheduler in `dssoc.simulate`.
"""

from gymnasium.envs.registration import register, registry

from dssoc.env.observation import ObservationBuilder
from dssoc.env.policy import PolicyScheduler
from dssoc.env.rewards import REWARDS, VECTOR_OBJECTIVES, RewardTracker
from dssoc.env.soc_sched import MultiObjectiveReward, SoCSchedEnv, split_env_config

ENV_ID = "dssoc/SoCSched-v0"

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="dssoc.env.soc_sched:SoCSchedEnv")

__all__ = [
    "ENV_ID",
    "REWARDS",
    "VECTOR_OBJECTIVES",
    "MultiObjectiveReward",
    "ObservationBuilder",
    "PolicyScheduler",
    "RewardTracker",
    "SoCSchedEnv",
    "split_env_config",
]
