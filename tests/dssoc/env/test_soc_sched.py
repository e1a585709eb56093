"""Tests of the Gymnasium environment `dssoc.env` (never starts Ray)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import dssoc
from dssoc import Application, Cluster, SimConfig, SoC, Task, Workload
from dssoc.engine import Simulation
from dssoc.env import ENV_ID, ObservationBuilder, PolicyScheduler, SoCSchedEnv
from dssoc.errors import ConfigError, InvalidActionError
from dssoc.noise import parse_noise
from dssoc.schedulers.base import earliest_finish
from dssoc.validate import check_schedule

MODES = ("task", "task_pe")


# ------------------------------------------------------------------ fixtures
def chain_config(**kw: Any) -> SimConfig:
    """One PE; jobs a(10 µs) -> b(5 µs) arriving exactly every 5 µs."""
    cpu = Cluster("CPU", "CPU", 1, {"a": 10.0, "b": 5.0})
    app = Application("chain", (Task("a"), Task("b", (0,))))
    wl = Workload("chain", (app,), (1.0,))
    return SimConfig(soc=SoC("one-pe", (cpu,)), workload=wl, scale_us=5.0, fixed_rate=True, **kw)


def fork_config(**kw: Any) -> SimConfig:
    """Two clusters (CPU x2, ACC x1); a fork-join DAG; the ACC runs only `f`."""
    cpu = Cluster("CPU", "CPU", 2, {"src": 4.0, "f": 20.0, "g": 6.0, "sink": 3.0})
    acc = Cluster("ACC", "ACC", 1, {"f": 2.0})
    soc = SoC("fork", (cpu, acc), bandwidth={("CPU", "ACC"): 10.0}, self_bandwidth=1000.0,
              default_bandwidth=100.0)
    app = Application(
        "fork",
        (Task("src"), Task("f", (0,)), Task("g", (0,)), Task("g", (0,)), Task("sink", (1, 2, 3))),
        volumes={(0, 1): 40.0, (0, 2): 10.0, (1, 4): 20.0},
    )
    wl = Workload("fork", (app,), (1.0,))
    base: dict[str, Any] = {"scale_us": 15.0, "max_jobs": 12, "duration_us": None}
    base.update(kw)
    return SimConfig(soc=soc, workload=wl, **base)


WIFI = {"workload": "wifi-tx-rx", "rate_jobs_per_ms": 8, "duration_us": 3000}


def first_valid(obs: dict[str, Any]) -> int:
    return int(np.flatnonzero(obs["action_mask"])[0])


def rollout(env: gym.Env, policy, seed: int, max_steps: int = 100_000):
    obs, info = env.reset(seed=seed)
    trajectory = [(obs, 0.0, info)]
    for _ in range(max_steps):
        obs, r, term, trunc, info = env.step(policy(obs))
        trajectory.append((obs, r, info))
        if term or trunc:
            return trajectory, term, trunc
    raise AssertionError("episode did not end")


def same_obs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return gym.utils.env_checker.data_equivalence(a, b, exact=True)


# -------------------------------------------------------------- API checks
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("graph", ["children", "adjacency"])
def test_check_env_passes(mode: str, graph: str) -> None:
    # gymnasium's check_env steps with unmasked action_space.sample(): needs the replace mode
    env = SoCSchedEnv({**WIFI, "duration_us": 1500}, action_mode=mode, graph=graph,
                      invalid_action="replace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no spec: cannot test render modes"
        check_env(env.unwrapped)


def test_gym_make_and_spaces() -> None:
    env = gym.make(ENV_ID, config={**WIFI, "action_mode": "task_pe", "max_tasks": 64})
    obs, _ = env.reset(seed=3)
    inner = env.unwrapped
    assert isinstance(inner, SoCSchedEnv)
    n_pes = inner.config.soc.n_pes
    assert env.action_space == gym.spaces.Discrete(64 * n_pes)
    assert set(obs) == {"action_mask", "observations"}
    o = obs["observations"]
    assert set(o) == {"tasks", "children", "task_mask", "job_index", "pes", "global"}
    assert o["tasks"].shape == (64, len(inner.builder.task_features))
    assert o["pes"].shape == (n_pes, len(inner.builder.pe_features))
    assert obs in env.observation_space
    assert all(a.dtype == np.float32 for a in [obs["action_mask"], *o.values()])
    env.close()
    flat = gym.make(ENV_ID, **WIFI, action_mode="task_pe", max_tasks=64)  # RLlib's call
    assert flat.unwrapped.config.duration_us == 3000 and flat.action_space == env.action_space
    with pytest.raises(ConfigError, match="SimConfig"):
        SoCSchedEnv(inner.config, max_jobs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(gym.make(ENV_ID, config=chain_config(max_jobs=3, duration_us=None),
                           invalid_action="replace").unwrapped)


def test_dict_config_and_errors() -> None:
    cfg = {"workload": "wifi-tx-rx", "max_jobs": 4, "noise": "gaussian:0.2", "reward": "latency"}
    env = SoCSchedEnv({**cfg, "seed": 7})
    assert env.config.duration_us is None and env.config.max_jobs == 4
    assert env.rewards.kind == "latency" and env.config.noise
    obs1, _ = env.reset()  # the config's seed serves the first unseeded reset
    env.step(first_valid(obs1))
    obs2, _ = SoCSchedEnv(cfg).reset(seed=7)
    assert same_obs(obs1, obs2) and env.sim is not None
    with pytest.raises(ConfigError, match=r"unknown key 'rate'\. Did you mean 'rate_jobs_per_ms'"):
        SoCSchedEnv({"workload": "wifi-tx-rx", "rate": 3})
    with pytest.raises(ConfigError, match="action mode"):
        SoCSchedEnv(chain_config(max_jobs=1, duration_us=None), action_mode="pe")
    with pytest.raises(ConfigError, match="reward"):
        SoCSchedEnv(chain_config(max_jobs=1, duration_us=None), reward="makespan")


def test_default_sizes_come_from_config() -> None:
    cfg = SimConfig.build("wifi-tx-rx")
    b = ObservationBuilder(cfg)
    assert b.max_tasks == 256  # 12 jobs x 34 tasks, capped
    assert b.time_scale == pytest.approx(0.8 * 44 + 0.2 * 176)  # mean critical path on best PEs
    small = ObservationBuilder(chain_config(max_jobs=1, duration_us=None, max_jobs_in_flight=3))
    assert small.max_tasks == 6 and small.max_children == 1


# ------------------------------------------------------------- determinism
@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_trajectory(mode: str) -> None:
    def policy_factory():
        rng = np.random.default_rng(99)  # a fixed action sequence, masked to valid actions
        return lambda obs: int(rng.choice(np.flatnonzero(obs["action_mask"])))

    env = SoCSchedEnv(WIFI, action_mode=mode)
    t1, *_ = rollout(env, policy_factory(), seed=5)
    t2, *_ = rollout(SoCSchedEnv(WIFI, action_mode=mode), policy_factory(), seed=5)
    assert len(t1) == len(t2)
    for (o1, r1, _), (o2, r2, _) in zip(t1, t2, strict=True):
        assert r1 == r2 and same_obs(o1, o2)
    t3, *_ = rollout(env, policy_factory(), seed=6)
    assert len(t3) != len(t1) or not all(
        same_obs(a[0], b[0]) for a, b in zip(t1, t3, strict=False))


# -------------------------------------------------------- random policies
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", [0, 1])
def test_random_masked_policy_is_always_valid(mode: str, seed: int) -> None:
    env = SoCSchedEnv({**WIFI, "rate_jobs_per_ms": 12, "noise": "lognormal:0.3"},
                      action_mode=mode, max_tasks=96)
    rng = np.random.default_rng(seed)
    space = env.observation_space
    obs, _ = env.reset(seed=seed)
    steps, term = 0, False
    while not term:
        assert obs["action_mask"].sum() >= 1
        if steps % 50 == 0:
            assert obs in space
        obs, r, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        assert not trunc and not info["invalid_action"] and np.isfinite(r)
        steps += 1
    assert obs["action_mask"].sum() >= 1 and obs in space  # dummy action at the end
    assert info["invalid_actions"] == 0 and info["completed_jobs"] > 0
    assert info["episode_steps"] == steps
    # every decision binds exactly one task: steps = tasks of all injected jobs that got ready
    assert steps >= info["episode_completed_jobs"] * 27
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_masked_action_is_replaced_and_counted_when_asked() -> None:
    env = SoCSchedEnv(fork_config(), action_mode="task_pe", invalid_action="replace")
    obs, _ = env.reset(seed=0)
    bad = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    obs, _, _, _, info = env.step(bad)
    assert info["invalid_action"] and info["invalid_actions"] == 1


def test_masked_action_raises_by_default_and_leaves_the_episode_usable() -> None:
    env = SoCSchedEnv(fork_config(), action_mode="task_pe")
    obs, _ = env.reset(seed=0)
    bad = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    with pytest.raises(InvalidActionError, match=f"action {bad} is masked out"):
        env.step(bad)
    good = int(np.flatnonzero(obs["action_mask"])[0])
    _, _, _, _, info = env.step(good)  # the refused action changed nothing
    assert not info["invalid_action"] and info["invalid_actions"] == 0


def test_max_steps_truncates() -> None:
    env = SoCSchedEnv(WIFI, max_steps=10)
    traj, term, trunc = rollout(env, first_valid, seed=0)
    assert trunc and not term and len(traj) == 11
    assert "avg_latency_us" in traj[-1][2]


# ----------------------------------------------------------------- rewards
# chain_config, one PE, FIFO by job id: job0 a 0-10, b 10-15; job1 arrives at 5, a 15-25, b 25-30.
# Decisions at t = 0 (a0), 5 (a1), 10 (b0), 25 (b1); the run ends at 30.
HAND = {
    "time_in_system": [-5.0, -10.0, -5.0 - 15.0, -5.0],  # sum -40 = -(15 + 25)
    "latency": [0.0, 0.0, -15.0, -25.0],
    "throughput": [0.0, 0.0, 1.0, 1.0],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reward", sorted(HAND))
def test_rewards_hand_computed(mode: str, reward: str) -> None:
    env = SoCSchedEnv(chain_config(max_jobs=2, duration_us=None), action_mode=mode,
                      reward=reward, time_scale_us=1.0)
    traj, term, _ = rollout(env, first_valid, seed=0)
    assert term
    assert [r for _, r, _ in traj[1:]] == HAND[reward]
    assert [i["time_us"] for _, _, i in traj] == [0.0, 5.0, 10.0, 25.0, 30.0]
    info = traj[-1][2]
    assert info["episode_time_in_system_us"] == 40.0
    assert info["episode_latency_us"] == 40.0 and info["episode_completed_jobs"] == 2
    assert info["completed_jobs"] == 2 and info["avg_latency_us"] == 20.0


def test_time_in_system_counts_unfinished_jobs_until_the_end() -> None:
    # duration 20: arrivals at 0, 5, 10, 15, 20; job0 done at 15; jobs in system at the end:
    # job1 (5..20), job2 (10..20), job3 (15..20), job4 (20..20) -> 15 + 15 + 10 + 5 + 0 = 45
    env = SoCSchedEnv(chain_config(duration_us=20.0), reward="time_in_system", time_scale_us=2.0)
    traj, term, _ = rollout(env, first_valid, seed=0)
    assert term and traj[-1][2]["time_us"] == 20.0
    assert sum(r for _, r, _ in traj) == -45.0 / 2.0
    env = SoCSchedEnv(chain_config(duration_us=20.0), reward="throughput")
    traj, _, _ = rollout(env, first_valid, seed=0)
    assert sum(r for _, r, _ in traj) == 1.0


@pytest.mark.parametrize("reward", sorted(HAND))
def test_reward_sums_equal_engine_totals(reward: str) -> None:
    env = SoCSchedEnv({**WIFI, "noise": "gaussian:0.2"}, reward=reward)
    traj, _, _ = rollout(env, first_valid, seed=2)
    total = sum(r for _, r, _ in traj)
    sim = env.sim
    assert sim is not None and sim.finished
    latencies = np.frombuffer(sim.latencies, dtype=float)
    in_flight = sum(sim.now - j.arrival for j in sim.active_jobs.values())
    expected = {"time_in_system": -(latencies.sum() + in_flight) / env.time_scale,
                "latency": -latencies.sum() / env.time_scale,
                "throughput": float(latencies.size)}[reward]
    assert total == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------- observation
def test_observation_contents_on_a_fork() -> None:
    cfg = fork_config(max_jobs=1)
    env = SoCSchedEnv(cfg, action_mode="task_pe", time_scale_us=1.0)
    obs, _ = env.reset(seed=0)
    b = env.builder
    o = obs["observations"]
    col = {n: i for i, n in enumerate(b.task_features)}
    t = o["tasks"]
    assert o["task_mask"][:5].tolist() == [1] * 5 and o["task_mask"][5:].sum() == 0
    assert t[:5, col["ready"]].tolist() == [1, 0, 0, 0, 0]
    assert t[:5, col["parents_left"]].tolist() == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3, 1])
    assert t[1, col["exec_ACC"]] == 2.0 and t[1, col["supported_ACC"]] == 1.0
    assert t[2, col["exec_ACC"]] == 0.0 and t[2, col["supported_ACC"]] == 0.0
    assert t[0, col["critical_path"]] == 4 + 6 + 3  # src, then g (6) beats f on ACC (2), sink
    assert o["children"][0].tolist() == [1, 2, 3] and o["children"][4].tolist() == [-1, -1, -1]
    assert o["children"][1].tolist() == [4, -1, -1]
    # task_pe mask: slot 0 on the two CPUs, not the ACC
    assert np.flatnonzero(obs["action_mask"]).tolist() == [0, 1]
    obs, r, *_ = env.step(1)  # src on CPU.1
    o = obs["observations"]
    t = o["tasks"]
    assert r == -4.0 and o["global"][2] == pytest.approx(1 / 12)  # 1 job for 4 µs
    assert t[:4, col["ready"]].tolist() == [1, 1, 1, 0]
    assert o["task_mask"][:4].sum() == 4  # src finished: slots shift
    # the EFT feature equals earliest_finish with the builder's availability vector
    sim = env.sim
    assert sim is not None
    job = next(iter(sim.active_jobs.values()))
    fin = earliest_finish(job.tasks[1], sim, b._eft.available)
    assert t[0, col["eft"]] == pytest.approx(fin.min() - sim.now)
    assert obs["action_mask"].reshape(-1, 3)[0].tolist() == [1, 1, 1]  # f runs anywhere
    assert obs["action_mask"].reshape(-1, 3)[1].tolist() == [1, 1, 0]  # g only on CPUs


def test_adjacency_matches_children() -> None:
    kw = {"action_mode": "task", "max_tasks": 40}
    e1 = SoCSchedEnv({**WIFI, "duration_us": 600}, graph="children", **kw)
    e2 = SoCSchedEnv({**WIFI, "duration_us": 600}, graph="adjacency", **kw)
    o1, _ = e1.reset(seed=4)
    o2, _ = e2.reset(seed=4)
    for _ in range(60):
        ch = o1["observations"]["children"]
        adj = np.zeros((40, 40), dtype=np.float32)
        p, c = np.nonzero(ch >= 0)
        adj[p, ch[p, c].astype(int)] = 1
        assert np.array_equal(adj, o2["observations"]["adjacency"])
        a = first_valid(o1)
        o1, _, term, _, _ = e1.step(a)
        o2, _, _, _, _ = e2.step(a)
        if term:
            break


@pytest.mark.parametrize("mode", MODES)
def test_overflow_with_tiny_max_tasks(mode: str) -> None:
    env = SoCSchedEnv({**WIFI, "rate_jobs_per_ms": 15}, action_mode=mode, max_tasks=3)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=1)
    term, overflowed = False, 0
    while not term:
        m = obs["observations"]["task_mask"]
        assert obs["action_mask"].sum() >= 1 and m.sum() <= 3
        obs, _, term, _, info = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        overflowed = max(overflowed, info["overflow_tasks"])
        assert not info["invalid_action"]
    assert info["overflow_steps"] > 0 and overflowed > 0 and info["completed_jobs"] > 0


def test_overflow_keeps_ready_then_oldest() -> None:
    cfg = fork_config(max_jobs=2, scale_us=1.0, fixed_rate=True)
    env = SoCSchedEnv(cfg, max_tasks=4)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(0)  # src of job 0 (job 1 arrives at t=1)
    o = obs["observations"]
    col = {n: i for i, n in enumerate(env.builder.task_features)}
    # 10 unfinished tasks (5 per job) for 4 slots: job 1's ready src, then job 0's first three
    assert env.builder.overflow_tasks == 6
    assert o["job_index"].tolist() == [0, 0, 0, 1]
    assert o["tasks"][:, col["ready"]].tolist() == [0, 0, 0, 1]
    assert np.flatnonzero(obs["action_mask"]).tolist() == [3]


# ------------------------------------------------------------ policy adapter
@pytest.mark.parametrize("mode", MODES)
def test_policy_scheduler_gives_a_valid_schedule(mode: str) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, duration_us=3000, noise="gaussian:0.1")
    sched = PolicyScheduler(first_valid, action_mode=mode)
    result = dssoc.simulate(cfg, scheduler=sched, seed=3, trace=True)
    assert check_schedule(result, cfg) == []
    assert result.completed_jobs > 0 and sched.invalid_actions == 0


@pytest.mark.parametrize("mode", MODES)
def test_policy_scheduler_matches_env_rollout(mode: str) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=10, duration_us=3000)

    def policy(obs: dict[str, Any]) -> int:  # prefers the last valid action: not list order
        return int(np.flatnonzero(obs["action_mask"])[-1])

    env = SoCSchedEnv(cfg, action_mode=mode)
    traj, _, _ = rollout(env, policy, seed=11)
    assert env.sim is not None
    via_sim = dssoc.simulate(cfg, scheduler=PolicyScheduler(policy, action_mode=mode),
                             seed=env.sim.seed).metrics()
    via_env = traj[-1][2]
    for key in ("avg_latency_us", "completed_jobs", "energy_j", "mean_slowdown"):
        assert via_env[key] == via_sim[key], key


def test_policy_scheduler_sees_the_env_observations() -> None:
    cfg = fork_config(max_jobs=4)
    seen: list[dict[str, Any]] = []

    def recording(obs: dict[str, Any]) -> int:
        seen.append(obs)
        return first_valid(obs)

    env = SoCSchedEnv(cfg)
    traj, _, _ = rollout(env, first_valid, seed=0)
    assert env.sim is not None
    sim = Simulation(cfg, env.sim.seed)
    sim.run(PolicyScheduler(recording))
    assert len(seen) == len(traj) - 1
    for got, (want, _, _) in zip(seen, traj, strict=False):
        assert same_obs(got, want)


@settings(max_examples=15, deadline=None)
@given(mode=st.sampled_from(MODES), max_tasks=st.integers(1, 8), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 4.0, 30.0]))
def test_random_policy_scheduler_is_valid_even_with_overflow(
    mode: str, max_tasks: int, seed: int, scale: float
) -> None:
    cfg = fork_config(max_jobs=8, scale_us=scale, max_jobs_in_flight=3,
                      noise=parse_noise("gaussian:0.3"))
    rng = np.random.default_rng(seed)

    def policy(obs: dict[str, Any]) -> int:
        assert obs["action_mask"].sum() >= 1
        return int(rng.choice(np.flatnonzero(obs["action_mask"])))

    sched = PolicyScheduler(policy, action_mode=mode, max_tasks=max_tasks)
    result = dssoc.simulate(cfg, scheduler=sched, seed=seed, trace=True)
    assert check_schedule(result, cfg) == []
    assert result.completed_jobs == 8 and sched.invalid_actions == 0


@pytest.mark.parametrize("env_id", [ENV_ID, "dssoc/SoCSched-v1"])
def test_env_config_carries_a_sim_config_that_keys_override_by_name(env_id: str) -> None:
    """Both env versions take `{"sim_config": SimConfig, FIELD: value, ...}` (what soclab's RL
    configs are): every field of the SimConfig reaches the env (here the governor, the deadline
    factor and the energy switch, which a flat dict of a few keys used to drop), named keys
    override it, and a flat dict of SimConfig inputs still builds one."""
    base = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, governor="powersave", deadline_factor=2,
                           energy=False, duration_us=2000)
    env = gym.make(env_id, config={"sim_config": base, "rate_jobs_per_ms": 8, "seed": 1}).unwrapped
    cfg = env.config
    assert cfg.scale_us == 125.0 and cfg.deadline_factor == 2 and cfg.energy is False
    assert {c.governor for c in cfg.soc.clusters} == {"powersave"}
    assert cfg.binding == ("late" if env_id.endswith("v1") else "early")
    flat = gym.make(env_id, config={**base.json_inputs(), "rate_jobs_per_ms": 8}).unwrapped.config
    assert flat.replace(binding="early").fingerprint() == cfg.replace(binding="early").fingerprint()
    with pytest.raises(ConfigError, match="expected a SimConfig"):
        gym.make(env_id, config={"sim_config": {"workload": "wifi-tx"}})
