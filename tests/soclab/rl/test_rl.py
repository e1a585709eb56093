"""RLlib integration: the graph scheduler module, PPO/APPO/IMPALA/DQN on the new API stack,
masking, checkpoints as schedulers, determinism, `soclab simulate --scheduler checkpoint:`, and an
RL cell through the sweep.

Ray-free tests first (networks, env config, hyperparameter checks); tests marked `ray` share the
session's small Ray (`ray_session`, 2 CPUs). Every training run is tiny (WiFi-TX at 4 jobs/ms,
500 µs episodes, batches of 100-200 steps).
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dssoc
from dssoc.env import PolicyScheduler
from dssoc.errors import ConfigError
from dssoc.validate import check_schedule
from soclab.cells import plan_cells
from soclab.rl.env import env_config_for, json_env_config, make_env
from soclab.rl.nets import (
    MASK_VALUE,
    GraphSchedulerNet,
    ObsDims,
    build_net,
    masked_logits,
    obs_to_torch,
)
from soclab.spec import spec_from_dict

TINY_HP: dict[str, dict[str, Any]] = {
    "PPO": {"episode_us": 500, "train_batch_size_per_learner": 200, "minibatch_size": 100,
            "num_epochs": 1, "hidden": 16},
    "APPO": {"episode_us": 500, "train_batch_size_per_learner": 100, "hidden": 16},
    "IMPALA": {"episode_us": 500, "train_batch_size_per_learner": 100, "hidden": 16},
    "DQN": {"episode_us": 500, "num_steps_sampled_before_learning_starts": 50,
            "steps_per_iteration": 100, "hidden": 16},
}


def tiny_spec(algorithm: str = "PPO", name: str = "tiny_rl", **agent: Any):
    return spec_from_dict({
        "name": name,
        "simulation": {"workload": "wifi-tx", "duration_us": 1500, "warmup_us": 200},
        "agents": [{"name": "rl", "algorithm": algorithm,
                    "hyperparameters": dict(TINY_HP[algorithm]), **agent}],
        "axes": {"noise": ["none"], "rates_jobs_per_ms": [4], "seeds": [0, 1]},
        "baselines": ["ETF"],
        "budget": {"rl_iterations": 1},
        "report": {"gantt": False},
    })


def tiny_cell(algorithm: str = "PPO", **agent: Any):
    return next(c for c in plan_cells(tiny_spec(algorithm, **agent)) if c.agent.kind == "rl")


def rollout_obs(env_config: dict[str, Any], n: int = 60, seed: int = 3) -> list[dict[str, Any]]:
    """Observations of a first-valid-action rollout (several episodes if needed)."""
    env = make_env(env_config)
    out = []
    obs, _ = env.reset(seed=seed)
    while len(out) < n:
        out.append(obs)
        obs, _, term, trunc, _ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
        if term or trunc:
            obs, _ = env.reset()
    return out


def stack(obs_list: list[dict[str, Any]]) -> dict[str, Any]:
    if isinstance(obs_list[0], dict):
        return {k: stack([o[k] for o in obs_list]) for k in obs_list[0]}
    return torch.as_tensor(np.stack(obs_list), dtype=torch.float32)


def chain_obs(n_chain: int = 5, m: int = 8) -> tuple[dict[str, Any], ObsDims]:
    """A synthetic observation: one job whose tasks form a chain 0 -> 1 -> ... -> n_chain-1."""
    dims = ObsDims(max_tasks=m, task_features=4, graph="children", max_children=2, n_pes=3,
                   pe_features=2, global_features=2, n_jobs=2, n_actions=m)
    rng = np.random.default_rng(0)
    children = -np.ones((m, 2), np.float32)
    for i in range(n_chain - 1):
        children[i, 0] = i + 1
    mask = np.zeros(m, np.float32)
    mask[0] = 1.0
    obs = {"action_mask": mask, "observations": {
        "tasks": rng.random((m, 4)).astype(np.float32) * (np.arange(m) < n_chain)[:, None],
        "children": children,
        "task_mask": (np.arange(m) < n_chain).astype(np.float32),
        "job_index": np.zeros(m, np.float32),
        "pes": rng.random((3, 2)).astype(np.float32),
        "global": rng.random(2).astype(np.float32)}}
    return obs, dims


# ------------------------------------------------------------------ networks (no Ray)
@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_every_message_passing_step_runs_children_to_parents(steps: int) -> None:
    """After S steps a task's embedding depends on its descendants up to S levels down, and on
    nothing deeper: the S steps all run, in the children -> parents direction."""
    torch.manual_seed(0)
    obs, dims = chain_obs()
    h = 32
    net = GraphSchedulerNet(dims, hidden=h, gnn_steps=steps)

    def root_embedding(o: dict[str, Any]) -> torch.Tensor:
        return net.encode(obs_to_torch(o)["observations"])[0][0, 0, :h]

    base = root_embedding(obs)
    for depth in range(1, 5):
        o = perturbed(obs, depth)
        changed = not torch.equal(root_embedding(o), base)
        assert changed == (depth <= steps), (depth, steps)
    # messages only flow upwards: changing the root leaves the leaf's embedding alone
    leaf = net.encode(obs_to_torch(perturbed(obs, 0))["observations"])[0][0, 4, :h]
    assert torch.equal(leaf, net.encode(obs_to_torch(obs)["observations"])[0][0, 4, :h])


def perturbed(obs: dict[str, Any], slot: int) -> dict[str, Any]:
    inner = dict(obs["observations"])
    inner["tasks"] = inner["tasks"].copy()
    inner["tasks"][slot] += 1.0
    return {"action_mask": obs["action_mask"], "observations": inner}


def test_all_graph_parameters_get_gradients() -> None:
    env_config = env_config_for(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=4),
                                duration_us=800)
    for mode in ("task", "task_pe"):
        cfg = {**env_config, "action_mode": mode}
        env = make_env(cfg)
        batch = stack(rollout_obs(cfg, 16))
        net = build_net(ObsDims.from_spaces(env.observation_space, env.action_space), "graph",
                        hidden=16, gnn_steps=3)
        scores, emb = net(batch)
        loss = masked_logits(scores, batch["action_mask"]).log_softmax(-1).max(-1).values.sum()
        (loss + net.value(emb).sum()).backward()
        dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not dead, f"{mode}: parameters without gradient: {dead}"


@pytest.mark.parametrize("mode", ["task", "task_pe"])
def test_packed_batch_equals_one_sample_at_a_time_and_padding_is_ignored(mode: str) -> None:
    """The network packs the occupied slots of a whole batch into one node list: a batch gives
    the same scores and embeddings as each sample alone, and garbage in empty slots is unseen."""
    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8),
                         duration_us=1000, action_mode=mode)
    env = make_env(cfg)
    obs = rollout_obs(cfg, 12)
    batch = stack(obs)
    torch.manual_seed(1)
    net = build_net(ObsDims.from_spaces(env.observation_space, env.action_space), "graph", hidden=16)
    scores, emb = net(batch)
    valid = batch["action_mask"] > 0.5
    for i, o in enumerate(obs):
        s1, e1 = net(stack([o]))
        assert torch.allclose(s1[0][valid[i]], scores[i][valid[i]], atol=1e-5)
        assert torch.allclose(e1[0], emb[i], atol=1e-5)
    inner = batch["observations"]
    k = int(inner["task_mask"].sum(-1).max())
    assert k < net.dims.max_tasks
    noisy = {**batch, "observations": {**inner, "tasks": inner["tasks"].clone(),
                                       "children": inner["children"].clone()}}
    noisy["observations"]["tasks"][:, k:] = 1e3
    noisy["observations"]["children"][:, k:] = 0.0  # empty slots pointing at a real slot
    assert torch.allclose(net(noisy)[0][valid], scores[valid])
    assert torch.allclose(net(noisy)[1], emb)


def test_masked_sampling_never_picks_an_invalid_action() -> None:
    from ray.rllib.core.distribution.torch.torch_distribution import TorchCategorical

    for mode in ("task", "task_pe"):
        cfg = env_config_for(dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8),
                             duration_us=1000, action_mode=mode)
        env = make_env(cfg)
        batch = stack(rollout_obs(cfg, 40))
        net = build_net(ObsDims.from_spaces(env.observation_space, env.action_space), "graph")
        with torch.no_grad():
            logits = masked_logits(net(batch)[0] * 50.0, batch["action_mask"])  # peaky scores
        actions = TorchCategorical.from_logits(logits).sample(sample_shape=(500,))  # (500, B)
        ok = batch["action_mask"].gather(1, actions.T.long())
        assert bool((ok > 0.5).all()), mode
        probs = torch.softmax(logits, -1)
        assert float(probs[batch["action_mask"] < 0.5].max()) == 0.0
        assert MASK_VALUE < -1e8


def test_mlp_variant_and_unknown_model() -> None:
    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=4))
    env = make_env(cfg)
    dims = ObsDims.from_spaces(env.observation_space, env.action_space)
    scores, emb = build_net(dims, "mlp", hidden=32)(stack(rollout_obs(cfg, 4)))
    assert scores.shape == (4, dims.n_actions) and emb.shape == (4, 32)
    with pytest.raises(ValueError, match="unknown model"):
        build_net(dims, "transformer")


def test_ordering_reaches_the_placement() -> None:
    """DeepSoCS defect not to repeat: which ready task the policy picks first must change the
    schedule (each pick is placed by EFT before the next one is chosen)."""
    cfg = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, duration_us=2000)

    def run(pick):
        sched = PolicyScheduler(lambda o: int(pick(np.flatnonzero(o["action_mask"]))))
        res = dssoc.simulate(cfg, sched, seed=0, trace=True)
        assert check_schedule(res, cfg) == [] and sched.invalid_actions == 0
        return res.trace()

    first, last = run(lambda v: v[0]), run(lambda v: v[-1])
    key = ["job", "task"]
    placed = first.sort_values(key)[[*key, "pe", "start"]].reset_index(drop=True)
    other = last.sort_values(key)[[*key, "pe", "start"]].reset_index(drop=True)
    assert not placed.equals(other)


def test_env_config_carries_the_cell_sim_config_and_holds_out_evaluation_seeds() -> None:
    spec = tiny_spec()
    cell = next(c for c in plan_cells(spec) if c.agent.kind == "rl")
    cfg = env_config_for(cell)
    sim = cfg["sim_config"]
    assert pickle.loads(pickle.dumps(cfg))["sim_config"].fingerprint() == sim.fingerprint()
    assert sim.warmup_us == 0.0 and sim.duration_us < cell.simulation["duration_us"] + 1
    assert sim.replace(duration_us=cell.sim_config().duration_us, warmup_us=cell.sim_config().warmup_us
                       ).fingerprint() == cell.sim_config().fingerprint()
    record = json_env_config(cfg)  # the JSON form rebuilds the same simulation
    assert json.loads(json.dumps(record)) == record and record["exclude_seeds"] == [0, 1]
    assert make_env(record).unwrapped.config.fingerprint() == sim.fingerprint()
    env = make_env(cfg)
    env.reset(seed=5)
    drawn = env.unwrapped.sim.seed
    held = make_env({**cfg, "exclude_seeds": [drawn]})
    held.reset(seed=5)
    assert held.unwrapped.sim.seed != drawn
    scaled = make_env({**cfg, "reward_scale": 0.5})
    plain = make_env({**cfg, "reward_scale": 1.0})
    r = []
    for e in (scaled, plain):
        obs, total = e.reset(seed=2)[0], 0.0
        for _ in range(30):
            obs, rew, term, trunc, _ = e.step(int(np.flatnonzero(obs["action_mask"])[0]))
            total += rew
            if term or trunc:
                break
        r.append(total)
    assert r[0] == pytest.approx(0.5 * r[1])


@pytest.mark.parametrize("reward", ["time_in_system", "latency"])
def test_episode_reward_totals_match_the_engine(reward: str) -> None:
    """The training signal is exact: with every job finished (max_jobs, no warm-up), minus the
    return x time scale is the engine's total job latency (a job only counts once all its tasks
    are done)."""
    env = make_env({"workload": "wifi-tx-rx", "rate_jobs_per_ms": 6, "max_jobs": 20,
                    "reward": reward, "reward_scale": 1.0})
    obs, _ = env.reset(seed=1)
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, info = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
        total += r
        done = term or trunc
    assert info["completed_jobs"] == 20
    engine_total = info["avg_latency_us"] * info["completed_jobs"]
    assert info["episode_latency_us"] == pytest.approx(engine_total)
    assert -total * env.unwrapped.time_scale == pytest.approx(engine_total)


def test_task_pe_rollouts_with_slow_placements_keep_every_job_tracked() -> None:
    """Random (task, PE) choices fill the job lanes; lanes are only recycled for finished jobs."""
    env = make_env({"workload": "wifi-tx-rx", "rate_jobs_per_ms": 8, "duration_us": 1700,
                    "action_mode": "task_pe", "noise": "gaussian:0.2"})
    rng = np.random.default_rng(0)
    for ep in range(12):
        obs, _ = env.reset(seed=ep)
        done = False
        while not done:
            obs, _, term, trunc, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
            done = term or trunc


def test_hyperparameter_names_are_checked() -> None:
    from soclab.rl.algos import build_config, split_hyperparameters

    rl, own = split_hyperparameters("PPO", {"lr": 1e-3, "entropy_coeff": 0.0, "gnn_steps": 2})
    assert rl == {"lr": 1e-3, "entropy_coeff": 0.0} and own == {"gnn_steps": 2}
    with pytest.raises(ConfigError, match=r"hyperparameter 'learning_rate' for PPO; did you mean lr\?"):
        split_hyperparameters("PPO", {"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="'clip_param' for IMPALA"):
        split_hyperparameters("IMPALA", {"clip_param": 0.2})
    with pytest.raises(ConfigError, match="num_atoms=1"):
        build_config("DQN", {}, hyperparameters={"num_atoms": 51})
    with pytest.raises(ConfigError, match="unknown RL algorithm 'A2C'"):
        build_config("A2C", {})


# ------------------------------------------------------------------ RLlib (shared Ray)
@pytest.fixture(scope="module")
def ppo_trained(ray_session, tmp_path_factory):
    """One PPO graph agent trained one iteration, checkpointed."""
    from soclab.rl.train import train_agent

    cell = tiny_cell("PPO")
    reports: list[dict[str, Any]] = []
    trained = train_agent(cell, tmp_path_factory.mktemp("ppo") / "checkpoint",
                          on_progress=reports.append)
    return cell, trained, reports


@pytest.mark.ray
def test_ppo_graph_trains_reports_and_checkpoints(ppo_trained) -> None:
    from soclab.rl.policy import ENV_FILE, MODULE_SUBDIR

    _, trained, reports = ppo_trained
    assert trained.iterations == 1 and len(reports) == 1
    rep = reports[0]
    assert rep["training_iteration"] == 1
    for key in ("episode_return_mean", "avg_latency_us", "throughput_jobs_per_ms",
                "mean_slowdown", "energy_j", "policy_loss", "vf_loss"):
        assert math.isfinite(rep[key]), key
    assert rep["invalid_actions"] == 0.0
    assert trained.curves["train/avg_latency_us"] == [rep["avg_latency_us"]]
    assert (trained.checkpoint_dir / MODULE_SUBDIR).is_dir()
    settings = json.loads((trained.checkpoint_dir / ENV_FILE).read_text())
    assert settings["action_mode"] == "task" and settings["train_seed"] == 10_000
    assert settings["env_config"]["exclude_seeds"] == [0, 1]


@pytest.mark.ray
@pytest.mark.parametrize("algorithm", ["APPO", "IMPALA"])
def test_appo_and_impala_train_one_iteration(ray_session, algorithm: str) -> None:
    from soclab.rl.train import build_algorithm, progress_metrics

    algo, _ = build_algorithm(tiny_cell(algorithm))
    try:
        m = progress_metrics(1, algo.train(), {})
    finally:
        algo.stop()
    assert m["env_steps"] >= 100
    assert math.isfinite(m["avg_latency_us"]) and math.isfinite(m["vf_loss"])


@pytest.mark.ray
def test_dqn_works_masked(ray_session) -> None:
    """RLlib 2.60's DQN supports masking through -inf Q-values: our module gives invalid
    actions Q = -inf and explores epsilon-greedily among valid actions only."""
    from ray.rllib.core.columns import Columns

    from soclab.rl.train import build_algorithm, progress_metrics

    algo, env_config = build_algorithm(tiny_cell("DQN"))
    try:
        m = progress_metrics(1, algo.train(), {})
        module = algo.get_module()
        batch = stack(rollout_obs(env_config, 40))
        for _ in range(20):  # epsilon is ~1 early on: mostly random, and still valid
            acts = module.forward_exploration({Columns.OBS: batch}, t=0)[Columns.ACTIONS]
            assert bool((batch["action_mask"].gather(1, acts.view(-1, 1)) > 0.5).all())
    finally:
        algo.stop()
    assert m["invalid_actions"] == 0.0 and math.isfinite(m["avg_latency_us"])


@pytest.mark.ray
def test_checkpoint_round_trip_gives_identical_actions(ppo_trained) -> None:
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModule

    from soclab.rl.policy import MODULE_SUBDIR, load_policy_scheduler

    _, trained, _ = ppo_trained
    settings = json.loads((trained.checkpoint_dir / "soclab_env.json").read_text())
    obs_list = rollout_obs(settings["env_config"], 50, seed=11)
    original = RLModule.from_checkpoint((trained.checkpoint_dir / MODULE_SUBDIR).as_posix())
    with torch.no_grad():
        logits = original.forward_inference({Columns.OBS: stack(obs_list)})[Columns.ACTION_DIST_INPUTS]
    expected = [int(np.argmax(np.where(o["action_mask"] > 0.5, lg, -np.inf)))
                for o, lg in zip(obs_list, logits.numpy(), strict=True)]
    for path in (trained.checkpoint_dir, trained.checkpoint_dir / MODULE_SUBDIR):
        sched = load_policy_scheduler(path)
        assert [sched.policy(o) for o in obs_list] == expected
        np.testing.assert_allclose(sched.policy.logits(obs_list[0]), logits[0].numpy(),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.ray
def test_policy_scheduler_schedules_are_valid_and_deterministic(ppo_trained) -> None:
    cell, trained, _ = ppo_trained
    cfg = cell.sim_config()
    a = dssoc.simulate(cfg, trained.scheduler, seed=0, trace=True)
    assert check_schedule(a, cfg) == []
    assert trained.scheduler.invalid_actions == 0
    b = dssoc.simulate(cfg, trained.scheduler, seed=0)
    assert a.avg_latency_us == b.avg_latency_us and a.completed_jobs > 0


@pytest.mark.ray
def test_same_spec_and_seed_give_the_same_first_iteration(ray_session) -> None:
    from soclab.rl.train import build_algorithm

    def first_iteration() -> dict[str, float]:
        algo, _ = build_algorithm(tiny_cell("PPO"))
        try:
            r = algo.train()
        finally:
            algo.stop()
        lp = r["learners"]["default_policy"]
        return {"return": r["env_runners"]["episode_return_mean"],
                "policy_loss": float(lp["policy_loss"]), "vf_loss": float(lp["vf_loss"]),
                "entropy": float(lp["entropy"])}

    assert first_iteration() == first_iteration()


@pytest.mark.ray
def test_cli_simulate_with_a_checkpoint(ppo_trained) -> None:
    from typer.testing import CliRunner

    from soclab.cli import app

    _, trained, _ = ppo_trained
    res = CliRunner().invoke(app, ["simulate", "--workload", "wifi-tx", "--rate", "4", "--duration",
                                   "1500", "--scheduler", f"checkpoint:{trained.checkpoint_dir}",
                                   "--validate", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["valid"] is True and out["completed_jobs"] > 0
    assert out["scheduler"].startswith("policy")
    bad = CliRunner().invoke(app, ["simulate", "--scheduler", f"checkpoint:{trained.checkpoint_dir}",
                                   "--workload", "synthetic-top", "--duration", "500"])
    assert bad.exit_code == 2 and "trained on observations" in bad.output


@pytest.mark.ray
def test_a_checkpoint_outside_its_training_rate_warns_once(ppo_trained) -> None:
    from typer.testing import CliRunner

    from soclab.cellrun import evaluate_cell
    from soclab.cli import app

    cell, trained, _ = ppo_trained  # trained at 4 jobs/ms without noise
    args = ["simulate", "--workload", "wifi-tx", "--duration", "1500", "--scheduler",
            f"checkpoint:{trained.checkpoint_dir}", "--json"]
    same = CliRunner().invoke(app, [*args, "--rate", "4"])
    assert same.exit_code == 0 and "warning" not in same.stderr
    other = CliRunner().invoke(app, [*args, "--rate", "10", "--noise", "gaussian:0.2"])
    assert other.exit_code == 0, other.output
    assert other.stderr.count("warning:") == 1, other.stderr
    assert "trained at 4 jobs/ms, evaluated at 10 jobs/ms" in other.stderr
    assert "trained with none, evaluated with gaussian:0.2" in other.stderr
    # evaluating on several seeds (as the sweep does) still warns only once
    from dataclasses import replace

    from soclab import ui

    ui._warned.clear()
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        at_6 = tuple((k, 6.0 if k == "rate_jobs_per_ms" else v) for k, v in cell.point)
        evaluate_cell(replace(cell, point=at_6), f"checkpoint:{trained.checkpoint_dir}")
    assert buf.getvalue().count("warning:") == 1 and "evaluated at 6 jobs/ms" in buf.getvalue()


@pytest.mark.ray
def test_rl_cell_through_the_sweep(ray_session, tmp_path: Path) -> None:
    import mlflow

    from soclab.sweep import run_sweep
    from soclab.tracking import Tracker

    spec = tiny_spec(name="tiny_rl_sweep")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                        make_report=False)
    assert (summary.finished, summary.failed, summary.missing) == (2, 0, 0), summary.failures
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=[spec.experiment_name])
    rl = runs[(runs["tags.soclab.kind"] == "cell") & (runs["params.agent"] == "rl")]
    assert len(rl) == 1 and rl.iloc[0].status == "FINISHED"
    run_id = rl.iloc[0].run_id
    tracker = Tracker(uri, spec.experiment_name)
    history = tracker.client.get_metric_history(run_id, "train/episode_return_mean")
    assert [m.step for m in history] == [0]
    assert tracker.client.get_metric_history(run_id, "train/avg_latency_us")
    arts = {a.path for a in tracker.client.list_artifacts(run_id, "checkpoint")}
    assert "checkpoint/soclab_env.json" in arts and "checkpoint/learner_group" in arts
    assert math.isfinite(rl.iloc[0]["metrics.latency.avg_us"])


@pytest.mark.ray
def test_search_space_is_tuned_then_reused(ray_session, tmp_path: Path) -> None:
    """An agent with a search_space: Optuna + ASHA pick hyperparameters on training episodes, the
    cell trains with them, the search is recorded, and a re-run reuses it."""
    import mlflow

    from soclab.sweep import run_sweep

    doc = tiny_spec(name="tiny_rl_search").model_dump(mode="json")
    doc["agents"][0]["search_space"] = {"lr": {"loguniform": [1e-4, 1e-3]},
                                        "entropy_coeff": {"choice": [0.0, 0.01]}}
    doc["budget"]["rl_iterations"] = 2
    doc["tune"] = {"search_alg": "optuna", "scheduler": "asha", "num_samples": 2,
                   "max_concurrent_trials": 2}
    doc["baselines"] = []
    doc["agents"].append({"name": "ETF"})
    spec = spec_from_dict(doc)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                        make_report=False)
    assert (summary.finished, summary.failed) == (2, 0), summary.failures
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=[spec.experiment_name])
    tuning = runs[runs["tags.soclab.kind"] == "tuning"]
    assert list(tuning.status) == ["FINISHED"]
    best = json.loads(tuning.iloc[0]["tags.soclab.best_config"])
    assert set(best) == {"lr", "entropy_coeff"} and 1e-4 <= best["lr"] <= 1e-3, best
    assert tuning.iloc[0]["metrics.trials"] == 2
    rl = runs[(runs["tags.soclab.kind"] == "cell") & (runs["params.agent"] == "rl")]
    assert float(rl.iloc[0]["params.hp.lr"]) == pytest.approx(best["lr"]), (rl.iloc[0], best)
    # lose the RL cell's run: the re-run trains it again with the recorded search's values
    mlflow.MlflowClient(uri).delete_run(rl.iloc[0].run_id)
    again = run_sweep(spec, tracking_uri=uri, output_dir=tmp_path / "out", show_progress=False,
                      make_report=False)
    assert (again.skipped, again.finished) == (1, 1), again
    runs = mlflow.search_runs(experiment_names=[spec.experiment_name])
    assert (runs["tags.soclab.kind"] == "tuning").sum() == 1
    rl = runs[(runs["tags.soclab.kind"] == "cell") & (runs["params.agent"] == "rl")]
    assert float(rl.iloc[0]["params.hp.lr"]) == pytest.approx(best["lr"])


def test_sweep_refuses_unknown_hyperparameters_before_running(tmp_path: Path) -> None:
    from soclab.sweep import run_sweep

    doc = tiny_spec(name="tiny_rl_bad").model_dump(mode="json")
    doc["agents"][0]["search_space"] = {"learning_rate": {"loguniform": [1e-4, 1e-3]}}
    with pytest.raises(ConfigError, match=r"agents\.rl.*'learning_rate' for PPO; did you mean lr"):
        run_sweep(spec_from_dict(doc), tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                  output_dir=tmp_path, show_progress=False, make_report=False)


@pytest.mark.parametrize("command", ["sweep", "train"])
def test_more_env_runners_than_cpus_is_refused_before_ray_starts(command: str, tmp_path: Path,
                                                                 monkeypatch) -> None:
    """A local Ray of --num-cpus CPUs cannot hold a trial's env runners (a sweep's trial takes
    one CPU more): one line naming the hyperparameter, exit 2, nothing written."""
    import yaml
    from typer.testing import CliRunner

    from soclab.cli import app

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    doc = tiny_spec(name="tiny_runners").model_dump(mode="json")
    doc["agents"][0]["hyperparameters"]["num_env_runners"] = 2
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(app, [command, str(path), "--output-dir", str(tmp_path / "out"),
                                   "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
                                   "--num-cpus", "2" if command == "sweep" else "1"],
                             env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "agents.rl.hyperparameters.num_env_runners" in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.ray
def test_train_command_compares_with_heuristics_on_the_same_seeds(ray_session, tmp_path) -> None:
    from typer.testing import CliRunner

    from soclab.cli import app

    doc = tiny_spec(name="tiny_train").model_dump(mode="json")
    doc["agents"].append({"name": "MET"})
    path = tmp_path / "tiny_train.yaml"
    import yaml

    path.write_text(yaml.safe_dump(doc))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = CliRunner().invoke(app, ["train", str(path), "--output-dir", str(tmp_path / "out"),
                                   "--rate", "5", "--tracking-uri", uri], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    # tracked like sweep cells: a parent, one child per agent, curves as history, the checkpoint
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["soclab/tiny_train"])
    parent = runs[runs["tags.soclab.kind"] == "train"]
    children = runs[runs["tags.soclab.kind"] == "train_agent"]
    assert len(parent) == 1 and set(children["tags.mlflow.parentRunId"]) == {parent.iloc[0].run_id}
    assert set(children["params.agent"]) == {"rl", "MET", "ETF"}
    assert set(children["params.rate_jobs_per_ms"]) == {"5"} and set(children.status) == {"FINISHED"}
    rl = children[children["params.agent"] == "rl"].iloc[0]
    assert rl["params.algorithm"] == "PPO" and math.isfinite(rl["metrics.latency.avg_us"])
    assert "params.algorithm" not in children or children[children["params.agent"] == "MET"][
        "params.algorithm"].isna().all(), "no RL params on a heuristic"
    client = mlflow.MlflowClient(uri)
    assert [m.step for m in client.get_metric_history(rl.run_id, "train/episode_return_mean")] == [0]
    arts = {a.path for a in client.list_artifacts(rl.run_id, "checkpoint")}
    assert "checkpoint/soclab_env.json" in arts
    assert (rl.end_time - rl.start_time).total_seconds() > 0.5, "the run spans the training"
    assert "rate=5/ms" in res.stdout and "× ETF" in res.stdout
    per_seed = __import__("pandas").read_csv(tmp_path / "out" / "tiny_train" / "train_comparison.csv")
    assert set(per_seed.agent) == {"rl", "MET", "ETF"}
    assert per_seed.groupby("agent").seed.apply(sorted).map(tuple).nunique() == 1  # same seeds
    assert (tmp_path / "out" / "tiny_train" / "rl" / "checkpoint" / "soclab_env.json").is_file()


@pytest.mark.ray
def test_train_command_with_two_training_seeds(ray_session, tmp_path) -> None:
    """budget.training_seeds: 2 trains two copies with their own seeds and checkpoints, evaluates
    both on the spec's seeds, and prints the pooled row."""
    import json

    import pandas as pd
    import yaml
    from typer.testing import CliRunner

    from soclab.cli import app

    doc = tiny_spec(name="tiny_copies").model_dump(mode="json")
    doc["budget"]["training_seeds"] = 2
    path = tmp_path / "tiny_copies.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(app, ["train", str(path), "--output-dir", str(tmp_path / "out"),
                                   "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "tiny_copies"
    cards = {k: json.loads((out / f"rl-t{k}" / "checkpoint" / "soclab_env.json").read_text())
             for k in (0, 1)}
    assert [c["training_seed_index"] for c in cards.values()] == [0, 1]
    assert cards[1]["train_seed"] - cards[0]["train_seed"] == 1000
    per_seed = pd.read_csv(out / "train_comparison.csv")
    assert set(per_seed.agent) == {"rl-t0", "rl-t1", "ETF"}
    assert per_seed.groupby("agent").seed.apply(sorted).map(tuple).nunique() == 1  # same seeds
    assert "rl (2 training seeds)" in res.stdout


@pytest.mark.ray
def test_a_checkpoint_is_used_without_starting_ray(ppo_trained) -> None:
    """A fresh process loads the checkpoint and simulates with it; Ray is never initialised."""
    import subprocess
    import sys

    _, trained, _ = ppo_trained
    code = ("import sys, ray, dssoc\n"
            "from soclab.runner import resolve_scheduler\n"
            "s = resolve_scheduler('checkpoint:' + sys.argv[1])\n"
            "cfg = dssoc.SimConfig.build('wifi-tx', rate_jobs_per_ms=4, duration_us=1500)\n"
            "r = dssoc.simulate(cfg, s, 1, validate=True)\n"
            "print(r.completed_jobs > 0, ray.is_initialized())\n")
    out = subprocess.run([sys.executable, "-c", code, str(trained.checkpoint_dir)],
                         capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["True", "False"], out.stderr[-2000:]
