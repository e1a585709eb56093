"""Gymnasium environment for learning to schedule on a heterogeneous SoC.

`import dssoc` registers `dssoc/SoCSched-v0` (DS3 early binding: order the ready tasks)
and `dssoc/SoCSched-v1` (late binding: bind a (ready task, free PE) pair or wait)::

    >>> import gymnasium as gym, dssoc
    >>> env = gym.make("dssoc/SoCSched-v0", config={"workload": "wifi-tx-rx", "max_jobs": 20})

`PolicyScheduler` (v0) and `LatePolicyScheduler` (v1) run a policy trained on the env as an
ordinary scheduler in `dssoc.simulate`; `simulate_lockstep` runs several seeds of them together,
with one batched policy call per step.
"""

from dssoc import ENV_ID, ENV_ID_V1
from dssoc.env.late_env import V1_ENV_KEYS, LateSoCSchedEnv
from dssoc.env.late_observation import LateObservation, valid_actions
from dssoc.env.observation import ObservationBuilder
from dssoc.env.policy import LatePolicyScheduler, PolicyScheduler, simulate_lockstep
from dssoc.env.rewards import REWARDS, V1_REWARDS, VECTOR_OBJECTIVES, RewardTracker
from dssoc.env.soc_sched import MultiObjectiveReward, SoCSchedEnv, split_env_config

__all__ = [
    "ENV_ID",
    "ENV_ID_V1",
    "REWARDS",
    "V1_ENV_KEYS",
    "V1_REWARDS",
    "VECTOR_OBJECTIVES",
    "LateObservation",
    "LatePolicyScheduler",
    "LateSoCSchedEnv",
    "MultiObjectiveReward",
    "ObservationBuilder",
    "PolicyScheduler",
    "RewardTracker",
    "SoCSchedEnv",
    "simulate_lockstep",
    "split_env_config",
    "valid_actions",
]
