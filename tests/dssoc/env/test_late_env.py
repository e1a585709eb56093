"""`dssoc/SoCSched-v1` (late binding): gymnasium's checker, determinism per seed, the action mask,
observation features on known states, the duration-ratio feature and the rewards."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dssoc
import dssoc.env
from dssoc import ConfigError, SimConfig
from dssoc.env import ENV_ID_V1, LateSoCSchedEnv, RewardTracker, valid_actions
from dssoc.env.late_observation import CLUSTER_FEATURES, PE_FEATURES, READY_FEATURES

SMALL = {"workload": "wifi-tx-rx", "rate_jobs_per_ms": 8, "duration_us": 4000}


def rollout(env: LateSoCSchedEnv, seed: int, policy_seed: int = 0, steps: int | None = None):
    """Random valid actions; returns (observations, rewards, final info)."""
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed)
    observations, rewards = [obs], []
    done = False
    while not done and (steps is None or len(rewards) < steps):
        v = valid_actions(obs)
        obs, r, term, trunc, info = env.step(int(v[rng.integers(v.size)]))
        observations.append(obs)
        rewards.append(r)
        done = term or trunc
    return observations, rewards, info


def test_registered_and_passes_check_env() -> None:
    # gymnasium's check_env steps with unmasked action_space.sample(): needs the replace mode
    env = gym.make(ENV_ID_V1, config={**SMALL, "noise": "persistent:pe:3:500:1500",
                                      "invalid_action": "replace"})
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.config.binding == "late"


def test_deterministic_per_seed() -> None:
    a = rollout(LateSoCSchedEnv(SMALL), seed=3)
    b = rollout(LateSoCSchedEnv(SMALL), seed=3)
    assert a[1] == b[1] and len(a[0]) > 50
    for x, y in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(x["action_mask"], y["action_mask"])
        for k in x["observations"]:
            np.testing.assert_array_equal(x["observations"][k], y["observations"][k])
    c = rollout(LateSoCSchedEnv(SMALL), seed=4)
    assert c[1] != a[1]


def test_mask_allows_supported_free_pairs_and_wait_only_when_something_runs() -> None:
    env = LateSoCSchedEnv(SMALL)
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=0)
    p = env.config.soc.n_pes
    saw_wait_masked = saw_wait_valid = False
    for _ in range(300):
        sim, mask = env.sim, obs["action_mask"] > 0.5
        free = sim.pe_free()
        slots = env.builder.slots
        for a in np.flatnonzero(mask[:-1]):
            r, pe = divmod(int(a), p)
            task = slots[r]
            assert free[pe] and np.isfinite(sim.exec_times(task)[pe])
        for r, task in enumerate(slots):  # every supported free pair of an occupied slot is valid
            expect = free & np.isfinite(sim.exec_times(task))
            np.testing.assert_array_equal(mask[r * p:(r + 1) * p], expect)
        assert mask[:-1].any()  # a decision point always has a pair
        assert mask[-1] == (not free.all())
        saw_wait_masked |= not mask[-1]
        saw_wait_valid |= bool(mask[-1])
        v = valid_actions(obs)
        obs, _, term, trunc, _ = env.step(int(v[rng.integers(v.size)]))
        if term or trunc:
            break
    assert saw_wait_masked and saw_wait_valid


def test_pair_features_and_pe_live_state_match_the_simulation() -> None:
    env = LateSoCSchedEnv(SMALL)
    obs, _ = rollout(env, seed=2, steps=40)[0][-1], None
    sim, scale = env.sim, env.time_scale
    o = obs["observations"]
    p = sim.n_pes
    assert o["pairs"].shape == (env.builder.max_ready, p, 4)
    for r, task in enumerate(env.builder.slots):
        ex = sim.exec_times(task)
        ok = np.isfinite(ex)
        np.testing.assert_allclose(o["pairs"][r, :, 0], ok)
        np.testing.assert_allclose(o["pairs"][r, ok, 1], ex[ok] / scale, rtol=1e-6)
        dr = np.maximum(sim.data_ready_times(task) - sim.now, 0)
        np.testing.assert_allclose(o["pairs"][r, ok, 2], dr[ok] / scale, rtol=1e-6)
        fin = ex + np.maximum(np.maximum(sim.data_ready_times(task), sim.now),
                              sim.pe_live_available()) - sim.now
        np.testing.assert_allclose(o["pairs"][r, ok, 3], fin[ok] / scale, rtol=1e-5)
        assert (o["pairs"][r, ~ok] == 0).all()
        assert o["ready"][r, 0] == 1.0
        cp = sim.jobs_remaining_critical_path()[task.job.id]
        np.testing.assert_allclose(o["ready"][r, READY_FEATURES.index("job_remaining_cp")], cp / scale,
                                   rtol=1e-5)
    n = len(env.builder.slots)
    assert (o["ready"][n:] == 0).all() and (o["pairs"][n:] == 0).all()
    pes = o["pes"]
    np.testing.assert_array_equal(pes[:, PE_FEATURES.index("free")], sim.pe_free())
    np.testing.assert_allclose(pes[:, PE_FEATURES.index("elapsed")], sim.pe_elapsed() / scale, rtol=1e-5)
    np.testing.assert_allclose(pes[:, PE_FEATURES.index("expected_remaining")],
                               sim.pe_expected_remaining() / scale, rtol=1e-5)
    np.testing.assert_allclose(pes[:, PE_FEATURES.index("available")],
                               (sim.pe_live_available() - sim.now) / scale, rtol=1e-5)


def test_duration_ratio_reveals_a_slowed_cluster() -> None:
    """A15 runs 3x slower; every other cluster as expected: the ratio feature shows it."""
    env = LateSoCSchedEnv({**SMALL, "noise": "slowdown:A15:3"})
    obs = rollout(env, seed=1)[0][-1]
    ratio = obs["observations"]["clusters"][:, CLUSTER_FEATURES.index("duration_ratio")]
    names = env.builder.cluster_names
    a15 = names.index("A15")
    assert abs(ratio[a15] - 3.0) < 0.05
    assert np.allclose(np.delete(ratio, a15), 1.0)


def test_episode_rewards_sum_to_the_totals_and_metrics_match_the_engine() -> None:
    env = LateSoCSchedEnv(SMALL)
    _, rewards, info = rollout(env, seed=5)
    assert np.isclose(sum(rewards), -info["episode_time_in_system_us"] / env.time_scale)
    assert info["completed_jobs"] > 0 and info["invalid_actions"] == 0


def test_differential_reward_by_hand() -> None:
    """rho = time in system so far / time elapsed so far; r = -(in_system - rho * dt) / scale."""
    tracker = RewardTracker("differential", 2.0, valid=dssoc.env.V1_REWARDS)
    job = SimpleNamespace(arrival=0.0, remaining=1, done_at=-1.0)
    tracker.on_arrival(job)
    assert tracker.update(4.0) == -4.0 / 2  # rho = 0 before any time passed
    job2 = SimpleNamespace(arrival=4.0, remaining=1, done_at=-1.0)
    tracker.on_arrival(job2)
    # [4, 6]: 2 jobs x 2 = 4 in system; rho = 4 / 4 = 1 job; r = -(4 - 1 * 2) / 2
    assert tracker.update(6.0) == -1.0
    with pytest.raises(ConfigError, match="differential"):
        RewardTracker("differential", 1.0)  # not a v0 reward


def _at_a_wait_point(env: LateSoCSchedEnv) -> dict:
    """Step with the first valid pair until `wait` is allowed; return that observation."""
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(int(valid_actions(obs)[0]))
    while not obs["action_mask"][-1]:
        obs, *_ = env.step(int(valid_actions(obs)[0]))
    return obs


def test_wait_advances_time() -> None:
    env = LateSoCSchedEnv(SMALL)
    _at_a_wait_point(env)
    t = env.sim.now
    _, _, _, _, info = env.step(env.wait_action)
    assert env.sim.now > t and not info["invalid_action"]


def test_invalid_actions_raise_unless_replacement_is_asked_for() -> None:
    """Strict by default (out-of-space and masked-out actions raise, the episode is unchanged);
    `invalid_action="replace"` takes the first valid action and counts the replacement."""
    env = LateSoCSchedEnv(SMALL)
    obs = _at_a_wait_point(env)
    masked = int(np.flatnonzero(obs["action_mask"] < 0.5)[0])
    t, steps = env.sim.now, env._steps
    for bad in (masked, -1, env.action_space.n, 1.5, "0", None):
        with pytest.raises(dssoc.InvalidActionError):
            env.step(bad)
    assert env.sim.now == t and env._steps == steps and env.builder.invalid_actions == 0
    env.step(env.wait_action)  # the episode goes on after refused actions

    lenient = LateSoCSchedEnv(SMALL, invalid_action="replace")
    obs = _at_a_wait_point(lenient)
    masked = int(np.flatnonzero(obs["action_mask"] < 0.5)[0])
    _, _, _, _, info = lenient.step(masked)
    assert info["invalid_action"] and info["invalid_actions"] == 1
    with pytest.raises(dssoc.InvalidActionError, match="outside the action space"):
        lenient.step(lenient.action_space.n)  # out of space raises in either mode
    with pytest.raises(ConfigError, match="invalid_action"):
        LateSoCSchedEnv(SMALL, invalid_action="ignore")


def test_options_and_errors() -> None:
    env = LateSoCSchedEnv(SMALL, max_ready=4, ratio_window=2, reward="differential")
    assert env.action_space.n == 4 * env.config.soc.n_pes + 1
    with pytest.raises(ConfigError, match="unknown key"):
        LateSoCSchedEnv({**SMALL, "action_mode": "task"})
    with pytest.raises(ConfigError, match="max_ready"):
        LateSoCSchedEnv(SMALL, max_ready=0)
    cfg = SimConfig.build("wifi-tx-rx", duration_us=2000)
    assert LateSoCSchedEnv(cfg).config.binding == "late"


@pytest.mark.parametrize("noise", ["none", "persistent:pe:3:500:1500"])
def test_a_policy_gives_the_same_run_in_the_env_and_as_a_scheduler(noise: str) -> None:
    """Env rollouts and `LatePolicyScheduler` simulations coincide for the same policy and seed."""
    def policy(obs):  # the last valid pair, else wait: exercises both kinds of action
        v = valid_actions(obs)
        return int(v[-2]) if v.size > 1 and v[-1] == obs["action_mask"].size - 1 else int(v[-1])

    cfg = SimConfig.build("wifi-rx-tx", rate_jobs_per_ms=6, duration_us=3000, noise=noise,
                          binding="late")
    env = LateSoCSchedEnv(cfg)
    obs, _ = env.reset(seed=0)
    seed = env.sim.seed
    done = False
    while not done:
        obs, _, term, trunc, info = env.step(policy(obs))
        done = term or trunc
    sched = dssoc.env.LatePolicyScheduler(policy)
    r = dssoc.simulate(cfg, sched, seed=seed, validate=True)
    assert r.completed_jobs == info["completed_jobs"] > 5
    assert r.avg_latency_us == info["avg_latency_us"] and sched.invalid_actions == 0


@pytest.mark.parametrize("binding", ["late", "early"])
def test_lockstep_runs_are_the_runs_simulate_gives_seed_by_seed(binding: str) -> None:
    """`simulate_lockstep` asks one batched policy for every running seed's observation at each
    step; each seed's run is still the one `dssoc.simulate` gives alone, also for the seeds that
    outlive the others (the batch shrinks as runs end)."""
    def policy(obs):  # the last valid action (a pair rather than wait in v1)
        v = valid_actions(obs)
        return int(v[-2]) if v.size > 1 and v[-1] == obs["action_mask"].size - 1 else int(v[-1])

    sizes: list[int] = []

    def act(batch):
        sizes.append(len(batch))
        return [policy(o) for o in batch]

    def scheduler():
        klass = dssoc.env.LatePolicyScheduler if binding == "late" else dssoc.env.PolicyScheduler
        return klass(policy)

    cfg = SimConfig.build("wifi-rx-tx", rate_jobs_per_ms=6, duration_us=3000,
                          noise="gaussian:0.3", binding=binding)
    seeds = [3, 4, 5]
    together = dssoc.env.simulate_lockstep(cfg, [scheduler() for _ in seeds], seeds, act)
    alone = [dssoc.simulate(cfg, scheduler(), s, validate=True) for s in seeds]
    assert [r.completed_jobs for r in together] == [r.completed_jobs for r in alone]
    assert min(r.completed_jobs for r in alone) > 5
    assert [r.avg_latency_us for r in together] == [r.avg_latency_us for r in alone]
    assert [r.seed for r in together] == seeds
    assert sizes[0] == 3 and min(sizes) < 3  # batched, and some runs ended before the others
    one = scheduler()
    with pytest.raises(ValueError, match="its own scheduler"):
        dssoc.env.simulate_lockstep(cfg, [one, one], [3, 4], act)
