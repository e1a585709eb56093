"""Energy-aware RL: latency + lambda * energy and EDP rewards, the vector reward, the frequency
action (dssoc.env)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dssoc.env import MultiObjectiveReward, RewardTracker, SoCSchedEnv

CFG = {"workload": "wifi-tx-rx", "max_jobs": 8, "rate_jobs_per_ms": 5}


def rollout(env, seed: int = 0):
    """Random valid actions to the end: (sum of rewards, sum of vector rewards, last info)."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    total, vector = 0.0, np.zeros(2)
    while True:
        obs, r, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        total = total + r
        vector += info["vector_reward"]
        if terminated or truncated:
            return total, vector, info


def test_latency_energy_return_is_latency_plus_weighted_energy() -> None:
    env = SoCSchedEnv(CFG, reward="latency_energy", energy_weight=250.0)
    total, _, info = rollout(env)
    energy_mj = info["energy_j"] * 1e3
    assert info["episode_energy_mj"] == pytest.approx(energy_mj)
    assert total == pytest.approx(-(info["episode_latency_us"] + 250.0 * energy_mj) / env.time_scale)


def test_edp_return_is_the_runs_energy_delay_product() -> None:
    env = SoCSchedEnv(CFG, reward="edp")
    total, _, info = rollout(env)
    assert total == pytest.approx(-info["energy_j"] * 1e3 * info["sim_time_us"] / env.time_scale)


def test_energy_weight_zero_is_the_latency_reward() -> None:
    a, _, _ = rollout(SoCSchedEnv(CFG, reward="latency_energy", energy_weight=0.0), seed=4)
    b, _, _ = rollout(SoCSchedEnv(CFG, reward="latency"), seed=4)
    assert a == pytest.approx(b)


def test_reward_tracker_by_hand() -> None:
    """One interval: nothing completed, 2 mJ charged over [0, 10], then 1 more mJ by 20."""
    t = RewardTracker("latency_energy", time_scale=10.0, energy_weight=5.0)
    assert t.update(10.0, 0.002) == pytest.approx(-(5.0 * 2.0) / 10.0)
    assert t.last_vector == pytest.approx((0.0, -2.0))
    e = RewardTracker("edp", time_scale=10.0)
    e.update(10.0, 0.002)
    assert e.update(20.0, 0.003) == pytest.approx(-(3.0 * 20 - 2.0 * 10) / 10.0)


def test_vector_reward_sums_to_both_objectives() -> None:
    env = SoCSchedEnv(CFG, reward="time_in_system")
    _, vector, info = rollout(env)
    assert vector[0] == pytest.approx(-info["episode_latency_us"] / env.time_scale, rel=1e-5)
    assert vector[1] == pytest.approx(-info["energy_j"] * 1e3, rel=1e-5)


def test_multi_objective_wrapper_follows_mo_gymnasium() -> None:
    env = MultiObjectiveReward(SoCSchedEnv(CFG))
    assert env.reward_dim == 2 and env.reward_space.shape == (2,)
    obs, _ = env.reset(seed=1)
    _, r, _, _, info = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
    assert isinstance(r, np.ndarray) and r.shape == (2,) and r.dtype == np.float32
    assert "scalar_reward" in info


def test_frequency_action_sets_a_clusters_operating_point() -> None:
    env = SoCSchedEnv(CFG, frequency_action=True, invalid_action="replace")  # check_env samples
    check_env(env, skip_render_check=True)
    freq = env.frequency
    n_base = freq.n_base
    obs, _ = env.reset(seed=0)
    assert obs["observations"]["frequency"].tolist() == [1.0] * 5
    k = freq.options.index((1, 0)) + 1  # A15 (cluster 1) to its lowest OPP, 600 of 2000 MHz
    base = int(np.flatnonzero(obs["action_mask"][:n_base])[0])
    obs, *_ = env.step(base + k * n_base)
    while env.sim.now < 10 and not env._over:  # the change takes effect at the next sampling instant
        obs, *_ = env.step(int(np.flatnonzero(obs["action_mask"][:n_base])[0]))
    assert obs["observations"]["frequency"][1] == pytest.approx(0.3)
    assert env.sim.dvfs.governor[1] == "userspace"
