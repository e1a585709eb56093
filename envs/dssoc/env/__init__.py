"""Gymnasium environment for learning to schedule on a heterogeneous SoC.

`import dssoc` registers `dssoc/SoCSched-v0`::

    >>> import gymnasium as gym, dssoc
    >>> env = gym.make("dssoc/SoCSched-v0", config={"workload": "wifi-tx-rx", "max_jobs": 20})

`PolicyScheduler` runs a policy trained on the env as an ordinary scheduler in `dssoc.simulate`.
"""

from dssoc import ENV_ID
from dssoc.env.observation import ObservationBuilder
from dssoc.env.policy import PolicyScheduler
from dssoc.env.rewards import REWARDS, VECTOR_OBJECTIVES, RewardTracker
from dssoc.env.soc_sched import MultiObjectiveReward, SoCSchedEnv, split_env_config

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
