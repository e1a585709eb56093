"""The training recipe and its honest evaluation: BC warm start, grouped advantages, held-out
seeds, shipped models (loaded without Ray) and determinism of a short vectorised training run.

Ray-free tests first; tests marked `ray` share the session's small Ray (`ray_session`).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dssoc
from dssoc.errors import ConfigError
from soclab.rl import bc
from soclab.rl.env import env_config_for, make_env
from soclab.rl.evaluate import check_seeds, evaluate_model, parse_seeds
from soclab.rl.grouped import grouped_advantages, returns_to_go
from soclab.rl.nets import ObsDims, build_net
from soclab.spec import spec_from_dict
from tests.conftest import REPO


# ------------------------------------------------------------------ behaviour cloning (no Ray)
def test_bc_warm_start_reproduces_the_teacher_on_held_in_states() -> None:
    """After supervised pre-training the greedy network picks ETF's task in (nearly) every state
    with a real choice; before it, it does not (so the test can fail)."""
    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, noise="gaussian:0.3"),
                         duration_us=2000, reserved_seeds_below=1000)
    data = bc.collect(cfg, "ETF", [1000, 1001, 1002])
    assert bc.choice_states(data).size >= 40
    env = make_env(cfg)
    torch.manual_seed(0)
    net = build_net(ObsDims.from_spaces(env.observation_space, env.action_space), "graph",
                    hidden=32, gnn_steps=2)
    before = bc.agreement(net, data)
    losses = bc.fit(net, data, epochs=40, lr=3e-3, seed=0)
    after = bc.agreement(net, data)
    assert losses[-1] < losses[0]
    assert before < 0.8 and after >= 0.95, (before, after)


def test_etf_teacher_replays_etf_exactly() -> None:
    """The env with the ETF teacher's choices gives DS3-ETF's own simulation result."""
    sim = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6, duration_us=3000, noise="gaussian:0.3")
    cfg = env_config_for(sim, duration_us=3000)
    env = make_env(cfg)
    obs, _ = env.reset(seed=5)
    done, info = False, {}
    while not done:
        obs, _, term, trunc, info = env.step(int(bc.etf_teacher(obs, env)[0]))
        done = term or trunc
    ref = dssoc.simulate(sim, "ETF", env.unwrapped.sim.seed)
    assert info["completed_jobs"] == ref.completed_jobs
    assert info["avg_latency_us"] == pytest.approx(ref.avg_latency_us, rel=0.02)


# ------------------------------------------------------------------ grouped advantages (no Ray)
def test_grouped_advantages_on_a_hand_computed_case() -> None:
    """Two rollouts of one seed. A decides at t = 0, 10, 20 with rewards -1, -2, -3 (returns-to-go
    -6, -5, -3); B at t = 0, 15 with -4, -1 (-5, -1). The group's mean return-to-go at A's times:
    t=0: (-6-5)/2 = -5.5; t=10: (-5 + B's at t<=10, -5)/2 = -5; t=20: (-3-1)/2 = -2; at B's:
    t=0: -5.5; t=15: (A's at 10, -5, + -1)/2 = -3."""
    assert returns_to_go([-1, -2, -3]).tolist() == [-6, -5, -3]
    adv_a, adv_b = grouped_advantages([[0, 10, 20], [0, 15]], [[-1, -2, -3], [-4, -1]])
    np.testing.assert_allclose(adv_a, [-6 + 5.5, -5 + 5, -3 + 2])
    np.testing.assert_allclose(adv_b, [-5 + 5.5, -1 + 3])
    # discounting applies within each episode's return-to-go
    np.testing.assert_allclose(returns_to_go([1, 1, 1], gamma=0.5), [1.75, 1.5, 1.0])
    # identical rollouts have zero advantage everywhere
    same = grouped_advantages([[0, 5], [0, 5]], [[-1, -2], [-1, -2]])
    assert all(np.all(a == 0) for a in same)
    with pytest.raises(ValueError, match="times decrease"):
        grouped_advantages([[5, 0]], [[1, 1]])


def test_grouped_advantage_connector_replaces_gae_on_a_fake_batch() -> None:
    """The learner connector piece on a fake batch (no Ray started): episodes A and B share
    seed 7 (the hand case above), C is alone with seed 8 and falls back to R(t) − V(s_t) with
    V = 0.5 everywhere. Each episode carries AddOneTs's artificial last step (advantage 0);
    the real steps' advantages are standardised."""
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode
    from ray.rllib.evaluation.postprocessing import Postprocessing

    from soclab.rl.grouped_ppo import GroupedAdvantage

    def episode(seed: int, times: list[float], rewards: list[float]) -> SingleAgentEpisode:
        n = len(rewards) + 1  # + the artificial step
        infos = [{"sim_seed": seed, "time_us": t} for t in times] + [{"sim_seed": seed}] * 2
        return SingleAgentEpisode(observations=[0] * (n + 1), actions=[0] * n,
                                  rewards=[*rewards, 0.0], infos=infos[:n + 1], terminated=True,
                                  len_lookback_buffer=0)

    class Critic(ValueFunctionAPI):
        def compute_values(self, batch: dict, embeddings: Any = None) -> torch.Tensor:
            return torch.full((len(batch[Columns.REWARDS]),), 0.5)

    eps = [episode(7, [0, 10, 20], [-1, -2, -3]), episode(7, [0, 15], [-4, -1]),
           episode(8, [0, 5], [-2, -1])]
    rewards = torch.tensor([-1, -2, -3, 0, -4, -1, 0, -2, -1, 0], dtype=torch.float32)
    batch = {"default_policy": {Columns.REWARDS: rewards,
                                Postprocessing.ADVANTAGES: torch.zeros(10)}}
    out = GroupedAdvantage(gamma=1.0)(rl_module={"default_policy": Critic()}, episodes=eps,
                                      batch=batch)
    raw = np.array([-0.5, 0, -1, 0.5, 2, -3 - 0.5, -1 - 0.5])  # A, B (grouped), C (critic)
    want = (raw - raw.mean()) / raw.std()
    got = out["default_policy"][Postprocessing.ADVANTAGES].numpy()
    np.testing.assert_allclose(got[[0, 1, 2, 4, 5, 7, 8]], want, rtol=1e-5, atol=1e-6)
    assert got[3] == got[6] == got[9] == 0.0  # the artificial steps


def test_group_seeds_give_every_env_of_a_runner_the_same_episodes() -> None:
    """Envs built from one config with `group_seeds` reset to the same simulation seeds, episode
    after episode, whatever seed RLlib passes; other env runners get other seeds."""
    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6),
                         duration_us=500, group_seeds=100)

    def seeds(env: Any, first: int) -> list[int]:
        return [env.reset(seed=first if i == 0 else None)[1]["sim_seed"] for i in range(3)]

    a, b = seeds(make_env(cfg), 1), seeds(make_env(cfg), 2)
    assert a == b and len(set(a)) == 3

    class Ctx(dict):
        worker_index = 1

    assert not set(seeds(make_env(Ctx(cfg)), 1)) & set(a)


# ------------------------------------------------------------------ curricula, warm starts (no Ray)
def test_curriculum_schedule_gives_the_documented_values() -> None:
    from soclab.rl.curriculum import Curriculum

    c = Curriculum.from_hyperparameters({"load_curriculum": [0.3, 0.9], "saturation_jobs_per_ms": 20,
                                         "episode_curriculum": [1000, 4000]}, iterations=10)
    assert c.values(0) == pytest.approx({"rate_jobs_per_ms": 6.0, "episode_mean_us": 1000.0})
    assert c.values(5) == pytest.approx({"rate_jobs_per_ms": 12.0, "episode_mean_us": 2500.0})
    assert c.values(10) == c.values(50) == pytest.approx({"rate_jobs_per_ms": 18.0,
                                                          "episode_mean_us": 4000.0})
    ramp4 = Curriculum.from_hyperparameters({"episode_curriculum": [1000, 4000],
                                             "curriculum_iterations": 4}, iterations=10)
    assert ramp4.values(2) == {"episode_mean_us": 2500.0}
    assert not Curriculum.from_hyperparameters({}, 10).active
    with pytest.raises(ConfigError, match="saturation_jobs_per_ms"):
        Curriculum.from_hyperparameters({"load_curriculum": [0.3, 0.9]}, 10)
    with pytest.raises(ConfigError, match="pair"):
        Curriculum.from_hyperparameters({"episode_curriculum": 5}, 10)


def _wifi_env(**options: Any):
    sim = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=10, noise="gaussian:0.3")
    return make_env(env_config_for(sim, duration_us=1000, **options))


def test_warm_start_begins_the_episode_with_jobs_in_flight() -> None:
    """With `warm_start_us` the first observation after reset is taken after 1500 µs of ETF:
    jobs are in flight (the global feature too), the episode lasts 1500 µs more, and the warm-up
    jobs are the statistics' warm-up. Without it the episode starts at the first arrival."""
    from dssoc.env.observation import GLOBAL_FEATURES

    cold, warm = _wifi_env(), _wifi_env(warm_start_us=1500)
    _, info_cold = cold.reset(seed=3)
    obs, info = warm.reset(seed=3)
    sim = warm.unwrapped.sim
    assert info_cold["time_us"] < 500 and cold.unwrapped.sim.jobs_injected <= 1
    assert info["time_us"] >= 1500 and sim.jobs_in_flight >= 2 and sim.jobs_injected > 5
    in_flight = obs["observations"]["global"][GLOBAL_FEATURES.index("jobs_in_system")]
    assert in_flight == pytest.approx(sim.jobs_in_flight / sim.config.max_jobs_in_flight)
    assert sim.config.duration_us == 2500 and sim.config.warmup_us == 1500
    assert obs["action_mask"].sum() >= 1  # the agent has a decision to make
    with pytest.raises(ConfigError, match="warm-start teacher"):
        _wifi_env(warm_start_us=100, warm_start_teacher="nope")


def test_set_curriculum_changes_load_and_draws_episode_lengths() -> None:
    """`set_curriculum` acts at the next reset: the load changes, and episode lengths are drawn
    (exponential, at least MIN_EPISODE_US) deterministically from the reset seed."""
    from soclab.rl.curriculum import MIN_EPISODE_US

    def lengths(env: Any) -> list[float]:
        out = []
        for i in range(6):
            env.reset(seed=11 if i == 0 else None)
            out.append(env.unwrapped.sim.config.duration_us)
        return out

    env = _wifi_env()
    env.set_curriculum(rate_jobs_per_ms=4.0, episode_mean_us=2000.0)
    a = lengths(env)
    assert env.unwrapped.sim.config.rate_jobs_per_ms == pytest.approx(4.0)
    other = _wifi_env()
    other.set_curriculum(rate_jobs_per_ms=4.0, episode_mean_us=2000.0)
    assert lengths(other) == a and len(set(a)) == 6 and min(a) >= MIN_EPISODE_US


def test_training_on_an_unsupported_env_version_is_refused_at_spec_check() -> None:
    from soclab.rl.algos import check_agent

    spec = recipe_spec(env_id="dssoc/SoCSched-v9")
    with pytest.raises(ConfigError, match="not supported for training yet") as e:
        check_agent(spec.agents[0])
    assert e.value.where == "agents.rl.hyperparameters.env_id"


def test_grouped_advantage_settings_are_checked() -> None:
    from soclab.rl.algos import build_config

    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6))
    for hp, match in [({"group_size": 4}, "group_size is for advantage: grouped"),
                      ({"advantage": "grouped", "group_size": 1}, "group_size must be >= 2"),
                      ({"advantage": "decima"}, "unknown advantage")]:
        with pytest.raises(ConfigError, match=match):
            build_config("PPO", cfg, hyperparameters=hp)
    ppo = build_config("PPO", cfg, hyperparameters={"advantage": "grouped", "group_size": 3}, seed=2)
    assert ppo.num_envs_per_env_runner == 3 and ppo.batch_mode == "complete_episodes"
    assert ppo.env_config["group_seeds"] == 2 * 10**8


# ------------------------------------------------------------------ held-out seeds (no Ray)
CARD = {"training": {"validation_seeds": [900, 901], "train_seeds": [5000, 5001],
                     "env_config": {"reserved_seeds_below": 1000, "exclude_seeds": [2000]}}}


def test_evaluation_seeds_must_be_disjoint_from_training_and_selection() -> None:
    check_seeds(list(range(20)), CARD)  # held out: below the floor, not validation
    check_seeds([*range(19), 2000], CARD)  # excluded from training draws explicitly
    with pytest.raises(ConfigError, match=r"\[900\] were used for training or model selection"):
        check_seeds([*range(19), 900], CARD)
    with pytest.raises(ConfigError, match=r"\[1500\] may have been drawn for training"):
        check_seeds([*range(19), 1500], CARD)
    with pytest.raises(ConfigError, match="at least 20"):
        check_seeds(list(range(5)), CARD)
    assert parse_seeds("1-3,7") == [1, 2, 3, 7]


def test_cli_evaluate_refuses_overlapping_seeds_in_one_line(tmp_path: Path) -> None:
    model = next((REPO / "models").glob("*/soclab-model.json")).parent
    out = subprocess.run([sys.executable, "-m", "soclab.cli", "evaluate", str(model),
                          "--seeds", "2000000-2000019"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "may have been drawn for training" in out.stderr


# ------------------------------------------------------------------ shipped models
SHIPPED = sorted(p.parent for p in (REPO / "models").glob("*/soclab-model.json"))


def test_models_are_shipped_for_the_two_workloads() -> None:
    import json

    workloads = {json.loads((p / "soclab-model.json").read_text())["workload"] for p in SHIPPED}
    assert {"wifi-tx-rx", "synthetic-top"} <= workloads, workloads


@pytest.mark.parametrize("model", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_model_runs_in_simulate_without_ray(model: Path) -> None:
    """`soclab simulate --scheduler checkpoint:models/<name>` in a process where importing Ray
    fails: the model needs torch only. Its schedule is valid and deterministic."""
    import json

    card = json.loads((model / "soclab-model.json").read_text())
    code = ("import sys, json\n"
            "sys.modules['ray'] = None  # any Ray import raises ImportError\n"
            "from soclab.cli import app\n"
            "app(sys.argv[1:])\n")
    args = ["simulate", "--workload", card["workload"], "--rate", str(card["rate_jobs_per_ms"]),
            "--duration", "3000", "--warmup", "500", "--noise", card["noise"],
            "--binding", card.get("binding", "early"),
            "--scheduler", f"checkpoint:{model}", "--json", "--validate"]
    runs = [subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    a, b = (json.loads(r.stdout[r.stdout.index("{"):]) for r in runs)
    assert a["completed_jobs"] > 0 and a["avg_latency_us"] == b["avg_latency_us"]


def test_evaluate_a_shipped_model_with_paired_statistics() -> None:
    model = SHIPPED[0]
    ev = evaluate_model(model, [0, 1, 2], noises=["none"], baselines=["ETF", "MET"],
                        duration_us=2000, warmup_us=200, min_seeds=3)
    assert set(ev.per_seed.scheduler) == {"model", "ETF", "MET"}
    assert ev.per_seed.groupby("scheduler").seed.apply(tuple).nunique() == 1  # same seeds
    s = ev.summary.set_index("comparison")
    assert {"best", "ETF", "MET"} <= set(s.index)
    best = s.loc["best", "baseline"]
    assert s.loc["best", "baseline_latency_us"] == min(s.loc["ETF", "baseline_latency_us"],
                                                       s.loc["MET", "baseline_latency_us"])
    assert s.loc["best", "ratio"] == pytest.approx(s.loc[best, "ratio"])
    for _, row in ev.summary.iterrows():
        assert row.ratio_low <= row.ratio <= row.ratio_high
        assert 0.0 <= row.prob_improvement <= 1.0
    assert not ev.summary.trained_noise.all() or ev.card["noise"] == "none"


# ------------------------------------------------------------------ training (shared Ray)
def recipe_spec(**hp: Any):
    return spec_from_dict({
        "name": "tiny_recipe",
        "simulation": {"workload": "wifi-tx", "duration_us": 1500, "warmup_us": 200},
        "agents": [{"name": "rl", "algorithm": "PPO", "hyperparameters": {
            "episode_us": 500, "train_batch_size_per_learner": 128, "minibatch_size": 64,
            "num_epochs": 1, "hidden": 16, "gnn_steps": 2, "num_envs_per_env_runner": 4,
            "reserved_seeds_below": 100_000, **hp}}],
        "axes": {"noise": ["gaussian:0.3"], "rates_jobs_per_ms": [6], "seeds": [0, 1]},
        "baselines": ["ETF"],
        "budget": {"rl_iterations": 2},
        "report": {"gantt": False},
    })


def recipe_cell(**hp: Any):
    from soclab.cells import plan_cells

    return next(c for c in plan_cells(recipe_spec(**hp)) if c.agent.kind == "rl")


@pytest.mark.ray
def test_short_vectorised_training_is_deterministic(ray_session, tmp_path: Path) -> None:
    """Same spec and seed, two runs of two iterations with 4 vectorised envs and a BC warm start:
    identical network weights."""
    from soclab.rl.package import load_net
    from soclab.rl.train import train_agent

    weights = []
    for i in range(2):
        trained = train_agent(recipe_cell(bc_teacher="ETF", bc_episodes=2, bc_epochs=2),
                              tmp_path / f"run{i}" / "checkpoint")
        from soclab.rl.package import export_model

        net, _ = load_net(export_model(trained.checkpoint_dir, tmp_path / f"model{i}"))
        weights.append(net.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.ray
def test_recipe_validates_selects_and_records_seeds(ray_session, tmp_path: Path) -> None:
    import json

    from soclab.rl.package import export_model, read_model_card
    from soclab.rl.train import train_agent

    cell = recipe_cell(bc_teacher="ETF", bc_episodes=2, bc_epochs=2, validation_seeds=[50, 51],
                       validate_every=1, validation_us=1000)
    trained = train_agent(cell, tmp_path / "checkpoint")
    curve = trained.curves["train/validation_ratio"]
    assert len(curve) == trained.iterations and all(r > 0 for r in curve)
    card = read_model_card(export_model(trained.checkpoint_dir, tmp_path / "model",
                                        training={"eval_duration_us": 1500, "eval_warmup_us": 200}))
    tr = card["training"]
    assert tr["validation_seeds"] == [50, 51] and len(tr["train_seeds"]) == 2
    assert tr["selected_iteration"] in range(0, trained.iterations + 1)
    assert card["binding"] == "early" and card["duration_us"] == 1500
    with pytest.raises(ConfigError, match="used for training or model selection"):
        check_seeds([*range(19), 50], card)
    settings = json.loads((trained.checkpoint_dir / "soclab_env.json").read_text())
    assert settings["hyperparameters"]["recipe"]["bc_agreement"] > 0
    bad = recipe_cell(validation_seeds=[0])
    with pytest.raises(ConfigError, match="also evaluation seeds"):
        train_agent(bad, tmp_path / "bad")


@pytest.mark.ray
def test_short_training_with_the_grouped_advantage(ray_session, tmp_path: Path) -> None:
    """`advantage: grouped` trains end to end: the learner is the grouped PPO learner, its
    pipeline ends with the grouped piece, and the checkpoint runs as a scheduler."""
    from soclab.rl.algos import build_config
    from soclab.rl.grouped_ppo import GroupedAdvantage, GroupedPPOTorchLearner
    from soclab.rl.train import build_algorithm, train_agent

    cell = recipe_cell(advantage="grouped", group_size=2)
    algo, env_config = build_algorithm(cell)
    try:
        learner = algo.learner_group._learner
        assert isinstance(learner, GroupedPPOTorchLearner)
        assert isinstance(learner._learner_connector.connectors[-1], GroupedAdvantage)
        assert algo.config.batch_mode == "complete_episodes"
        assert algo.config.num_envs_per_env_runner == 2
    finally:
        algo.stop()
    trained = train_agent(cell, tmp_path / "checkpoint")
    assert trained.iterations == 2
    assert math.isfinite(trained.curves["train/policy_loss"][-1])
    res = dssoc.simulate(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6, duration_us=1500,
                                               warmup_us=200), trained.scheduler, 0)
    assert res.completed_jobs > 0
    with pytest.raises(ConfigError, match="needs PPO"):
        build_config("APPO", env_config, hyperparameters={"advantage": "grouped"})


@pytest.mark.ray
def test_short_training_with_curricula_and_warm_starts(ray_session, tmp_path: Path) -> None:
    """The curricula reach every env of the runner between iterations; a short run with them
    and warmed-up starts trains, records the schedule it followed and runs as a scheduler."""
    import json

    from soclab.rl.curriculum import Curriculum
    from soclab.rl.env import soclab_envs
    from soclab.rl.train import build_algorithm, train_agent

    hp = {"load_curriculum": [0.3, 0.9], "saturation_jobs_per_ms": 10,
          "episode_curriculum": [300, 600], "warm_start_us": 300}
    cell = recipe_cell(**hp)
    algo, _ = build_algorithm(cell)
    try:
        Curriculum.from_hyperparameters(hp, 2).apply(algo, 1)
        envs = soclab_envs(algo.env_runner.env)
        assert len(envs) == 4 and all(e._rate == pytest.approx(6.0) for e in envs)
        assert all(e.episode_mean_us == pytest.approx(450.0) for e in envs)
    finally:
        algo.stop()
    trained = train_agent(cell, tmp_path / "checkpoint")
    settings = json.loads((trained.checkpoint_dir / "soclab_env.json").read_text())
    sched = settings["hyperparameters"]["recipe"]["curriculum"]
    assert [i for i, _ in sched] == [0, 1]
    assert sched[0][1] == pytest.approx({"rate_jobs_per_ms": 3.0, "episode_mean_us": 300.0})
    assert sched[1][1] == pytest.approx({"rate_jobs_per_ms": 6.0, "episode_mean_us": 450.0})
    assert settings["env_config"]["warm_start_us"] == 300
    res = dssoc.simulate(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6, duration_us=1500,
                                               warmup_us=200), trained.scheduler, 0)
    assert res.completed_jobs > 0
