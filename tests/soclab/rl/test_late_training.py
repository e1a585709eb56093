"""The learned late-binding scheduler (`dssoc/SoCSched-v1`): the pair network, the late-heuristic
teachers and behaviour cloning, v1 model cards, evaluation against late baselines, and (shared
Ray) a short deterministic v1 training run with the grouped advantage.

Ray-free tests first; tests marked `ray` share the session's small Ray (`ray_session`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dssoc
from dssoc.errors import ConfigError
from soclab.rl import bc
from soclab.rl.env import env_config_for, json_env_config, make_env
from soclab.rl.late_nets import LateObsDims, build_any, dims_from_spaces
from soclab.rl.nets import masked_logits, obs_to_torch
from soclab.spec import spec_from_dict

V1 = "dssoc/SoCSched-v1"


def v1_config(workload: str = "wifi-tx-rx", rate: float = 6.9, duration: float = 1500,
              noise: str = "gaussian:0.3", **options: Any) -> dict[str, Any]:
    sim = dssoc.SimConfig.build(workload, rate_jobs_per_ms=rate, noise=noise)
    return env_config_for(sim, duration_us=duration, env_id=V1,
                          reserved_seeds_below=1000, **options)


def stack(items: list[Any]) -> Any:
    if isinstance(items[0], dict):
        return {k: stack([x[k] for x in items]) for k in items[0]}
    return torch.as_tensor(np.stack(items), dtype=torch.float32)


def rollout_obs(cfg: dict[str, Any], n: int, seed: int = 1000) -> list[dict[str, Any]]:
    env = make_env(cfg)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(int(np.flatnonzero(obs["action_mask"] > 0.5)[-1]))
        if term or trunc:
            obs, _ = env.reset()
    return out


# ------------------------------------------------------------------ the pair network (no Ray)
def test_pair_network_scores_valid_pairs_and_wait_batched_as_one_by_one() -> None:
    cfg = v1_config()
    env = make_env(cfg)
    dims = dims_from_spaces(env.observation_space, env.action_space)
    assert isinstance(dims, LateObsDims) and dims.n_actions == dims.max_ready * dims.n_pes + 1
    torch.manual_seed(0)
    net = build_any(dims, hidden=16)
    obs = rollout_obs(cfg, 60)
    batch = stack(obs)
    with torch.no_grad():
        scores, emb = net(batch)
    assert scores.shape == (60, dims.n_actions) and emb.shape == (60, 32)
    probs = masked_logits(scores, batch["action_mask"]).softmax(-1)
    assert float(probs[batch["action_mask"] < 0.5].max()) == 0.0  # masked actions: exactly 0
    waits = batch["action_mask"][:, -1] > 0.5
    assert waits.any() and bool((probs[waits, -1] > 0).all())  # wait is scored when allowed
    for i in (0, 17, 59):  # the packed batch computes each sample as alone
        one, _ = net(obs_to_torch(obs[i]))
        assert torch.allclose(one[0], scores[i], atol=1e-5)
    values = net.value(emb)
    assert values.shape == (60,) and torch.isfinite(values).all()


def test_pair_network_ignores_what_the_mask_rules_out() -> None:
    """Garbage in the pair features of invalid pairs (busy or unsupported PEs, empty slots) does not
    change the valid pairs' scores beyond the documented per-slot minimum over supported PEs."""
    cfg = v1_config()
    env = make_env(cfg)
    net = build_any(dims_from_spaces(env.observation_space, env.action_space), hidden=16)
    obs = rollout_obs(cfg, 20)
    batch = stack(obs)
    ref, _ = net(batch)
    noisy = {**batch, "observations": dict(batch["observations"])}
    pairs = noisy["observations"]["pairs"].clone()
    _, _, p, f = pairs.shape
    empty = batch["observations"]["ready"][..., 0] < 0.5  # (B, R) empty slots
    pairs[empty] = torch.rand((int(empty.sum()), p, f)) * 100
    noisy["observations"]["pairs"] = pairs
    out, _ = net(noisy)
    valid = batch["action_mask"] > 0.5
    assert torch.allclose(out[valid], ref[valid], atol=1e-5)


# ------------------------------------------------------------------ greedy policy, validation (no Ray)
def _untrained_policy(cfg: dict[str, Any], hidden: int = 16) -> tuple[Any, Any]:
    """(an untrained pair network, a `NetPolicy` of it with the card of cfg's observations)."""
    from soclab.rl.package import NetPolicy

    env = make_env(cfg)
    dims = dims_from_spaces(env.observation_space, env.action_space)
    torch.manual_seed(1)
    net = build_any(dims, hidden=hidden).eval()
    return net, NetPolicy(net, {"obs_dims": dims.to_dict(), "name": "t", "workload": "wifi-tx-rx"})


def test_greedy_policy_decides_batched_as_one_at_a_time() -> None:
    """`NetPolicy.batch` picks, from one forward pass, the action `NetPolicy(obs)` picks alone,
    although the batch shape changes the float rounding: equal-valued actions (identical PEs or
    tasks, common here) go to the lowest index either way."""
    from soclab.rl.package import greedy_actions

    cfg = v1_config()
    _, policy = _untrained_policy(cfg)
    obs = rollout_obs(cfg, 120)
    assert policy.batch(obs) == [policy(o) for o in obs]
    scores = np.array([[1.0, 1.0 + 1e-6, 0.5, 3.0], [2.0, 2.0 - 1e-6, 2.1, 0.0]], np.float32)
    valid = np.array([[True, True, True, False], [True, True, False, True]])
    assert greedy_actions(scores, valid) == [0, 0]  # rounding-level differences are ties


def test_validation_runs_the_seeds_together_as_each_alone() -> None:
    """`Validator.latencies` runs its seeds in lockstep with one forward pass per step for all of
    them; each seed's latency is that of `dssoc.simulate` with the greedy policy on that seed
    alone, and a single validation seed works too."""
    from soclab.rl.package import policy_scheduler
    from soclab.rl.recipe import Validator

    cfg = v1_config()
    net, policy = _untrained_policy(cfg)
    sizes: list[int] = []

    class Counting(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, obs: dict[str, Any]) -> Any:
            sizes.append(int(obs["action_mask"].shape[0]))
            return self.net(obs)

    seeds = [50, 51, 52]
    v = Validator(cfg, seeds, ["late-ETF"], 1200.0, 200.0)
    together = v.latencies(Counting())
    alone = [dssoc.simulate(v.config, policy_scheduler(policy, cfg, V1), s).avg_latency_us
             for s in seeds]
    assert together == alone and len(set(alone)) == 3
    assert max(sizes) == 3 and sizes.count(3) > len(sizes) / 2  # mostly one pass for all three
    assert v.latency(net) == pytest.approx(sum(alone) / 3)
    single = Validator(cfg, [51], ["late-ETF"], 1200.0, 200.0)
    assert single.latencies(net) == [alone[1]]
    assert single.ratio(net) == pytest.approx(alone[1] / single.best_latency)


# ------------------------------------------------------------------ teachers and BC (no Ray)
@pytest.mark.parametrize("name", ["late-ETF", "late-CP", "late-HEFT_RT"])
def test_late_teacher_replays_the_heuristic_exactly(name: str) -> None:
    """Rolling the teacher out in v1 gives the heuristic's own `dssoc.simulate` result."""
    cfg = v1_config(duration=2500)
    env = make_env(cfg)
    teacher = bc.teacher(name)
    obs, _ = env.reset(seed=1003)
    done, info, waits = False, {}, 0
    while not done:
        a = int(teacher(obs, env)[0])
        waits += a == env.unwrapped.wait_action
        obs, _, term, trunc, info = env.step(a)
        done = term or trunc
    sim = env.unwrapped.config
    ref = dssoc.simulate(sim, name, env.unwrapped.sim.seed)
    assert info["avg_latency_us"] == pytest.approx(ref.avg_latency_us, rel=1e-12)
    assert info["completed_jobs"] == ref.completed_jobs > 0
    assert (waits > 0) == (name != "late-CP")  # late-CP never waits while a free PE can run a task


def test_a_rollout_teacher_collects_its_own_decisions() -> None:
    """`bc_teacher: late-rollout` with `bc_teacher_params`: with no alternative to try (top_k 0,
    no waiting) it labels the states exactly as its base rule; with alternatives it departs from
    the base in some states. Bad parameters fail before any episode."""
    cfg = v1_config(duration=900)
    base = bc.collect(cfg, "late-ETF", [1000])
    same = bc.collect(cfg, "late-rollout", [1000], teacher_params={
        "base": "late-ETF", "top_k": 0, "wait": False, "horizon_us": 100.0})
    assert np.array_equal(same.action, base.action)
    looked = bc.collect(cfg, "late-rollout", [1000], teacher_params={
        "base": "late-ETF", "top_k": 2, "horizon_us": 150.0, "samples": 2})
    assert looked.action.size > 0 and not np.array_equal(looked.action[:len(base.action)],
                                                         base.action[:len(looked.action)])
    with pytest.raises(ConfigError, match="horizon_us"):
        bc.teacher("late-rollout", {"horizon_us": -1.0})
    with pytest.raises(ConfigError, match="takes no parameters"):
        bc.teacher("ETF", {"horizon_us": 1.0})


def leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, dict):
        return [x for k, v in tree.items() for x in leaves(v, (*path, k))]
    return [(path, tree)]


def leaf_at(tree: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def first_pair(obs: dict[str, Any]) -> int:
    """A student that never waits: the first valid (ready slot, PE) pair."""
    return int(np.flatnonzero(obs["action_mask"] > 0.5)[0])


def test_dagger_records_the_students_states_with_the_teachers_labels() -> None:
    """With a student driving (DAgger), the states recorded are the student's own trajectory and
    each label is what the teacher, asked afresh in that very state, would do; the student and
    the teacher disagree in many of them (else the check would be empty)."""
    cfg = v1_config(duration=900)
    data = bc.collect(cfg, "late-ETF", [1000], student=first_pair)
    env = make_env(cfg)
    obs, _ = env.reset(seed=1000)
    disagree = 0
    for i in range(len(data)):
        for path, leaf in leaves(obs):
            np.testing.assert_array_equal(leaf_at(data.obs, path)[i], np.asarray(leaf, np.float32),
                                          err_msg=f"state {i}, {path}")
        assert data.action[i] == int(bc.teacher("late-ETF")(obs, env)[0]), i
        disagree += data.action[i] != first_pair(obs)
        obs, _, term, trunc, _ = env.step(first_pair(obs))
        assert not (term or trunc) or i == len(data) - 1
    assert term or trunc
    assert disagree >= len(data) // 5, (disagree, len(data))


def test_clone_adds_dagger_rounds_and_measures_the_student_on_its_own_states() -> None:
    """`bc.clone` with one DAgger round: the data are the teacher's episode plus the student's,
    the round reports the student's agreement on its own states (before the refit), the refit
    student still reproduces the teacher on all of them, and progress is reported per episode."""
    cfg = v1_config(duration=1500)
    env = make_env(cfg)
    torch.manual_seed(0)
    net = build_any(dims_from_spaces(env.observation_space, env.action_space), hidden=32)
    lines: list[str] = []
    data, info = bc.clone(net, cfg, "late-ETF", [1000, 1001], dagger_seeds=[[1002]], epochs=30,
                          lr=3e-3, on_status=lines.append)
    taught = len(bc.collect(cfg, "late-ETF", [1000, 1001]))
    assert info["bc_states"] == len(data) == taught + info["bc_dagger1_states"]
    # the clone follows late-ETF in most of the states it reaches itself, not all (0.78-0.80 here)
    assert 0.6 <= info["bc_dagger1_student_agreement"] < 1.0, info
    assert info["bc_agreement"] >= 0.9, info
    # progress for the user: each episode of each stage, and each fit
    assert [ln.split(", ")[0] for ln in lines] == [
        "cloning late-ETF: episode 1/2", "cloning late-ETF: episode 2/2", f"fitting {taught:,} states",
        "DAgger round 1/1: episode 1/1", f"fitting {len(data):,} states"]


def test_demonstration_rounds_are_distinct_training_seeds_and_bad_counts_are_refused() -> None:
    from soclab.rl.algos import check_agent
    from soclab.rl.recipe import demonstration_rounds, demonstration_seeds

    hp = {"bc_episodes": 3, "bc_dagger_rounds": 2, "bc_dagger_episodes": 2,
          "reserved_seeds_below": 100}
    rounds = demonstration_rounds(hp, 7)
    assert rounds == [[7100, 7101, 7102], [7103, 7104], [7105, 7106]]
    assert demonstration_seeds(hp, 7) == [s for r in rounds for s in r]
    assert demonstration_rounds({"bc_episodes": 2}, 0) == [[1_000_000, 1_000_001]]
    for bad in ({"bc_dagger_rounds": -1}, {"bc_dagger_episodes": 0}, {"bc_dagger_rounds": "2"},
                {"bc_episodes": 600, "bc_dagger_rounds": 1}):
        with pytest.raises(ConfigError, match="bc_"):
            demonstration_rounds(bad, 0)
    with pytest.raises(ConfigError, match=r"agents\.rl\.hyperparameters\.bc_dagger_rounds: must be"):
        check_agent(v1_spec(bc_teacher="late-ETF", bc_dagger_rounds=1.5).agents[0])
    check_agent(v1_spec(bc_teacher="late-ETF", bc_dagger_rounds=1).agents[0])
    with pytest.raises(ConfigError, match=r"hyperparameters\.bc_dagger_rounds: DAgger rounds need a "
                                          r"teacher"):
        check_agent(v1_spec(bc_dagger_rounds=1).agents[0])


def test_late_teacher_needs_the_late_env() -> None:
    cfg = env_config_for(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6))
    env = make_env(cfg)
    obs, _ = env.reset(seed=1)
    with pytest.raises(ConfigError, match="needs the late-binding env"):
        bc.teacher("late-ETF")(obs, env)


def test_bc_reproduces_the_late_teacher_on_held_in_states() -> None:
    """After behaviour cloning from late-ETF the greedy pair network picks the teacher's action
    (a pair or wait) in >= 93% of the held-in states; before it, in few."""
    cfg = v1_config(duration=2000)
    data = bc.collect(cfg, "late-ETF", [1000, 1001, 1002])
    assert bc.choice_states(data).size >= 1500
    waits = data.action == data.obs["action_mask"].shape[1] - 1
    assert 0 < waits.mean() < 1  # the teacher both waits and binds
    env = make_env(cfg)
    torch.manual_seed(0)
    net = build_any(dims_from_spaces(env.observation_space, env.action_space), hidden=32)
    before = bc.agreement(net, data)
    losses = bc.fit(net, data, epochs=30, lr=3e-3, seed=0)
    after = bc.agreement(net, data)
    assert losses[-1] < losses[0]
    assert before < 0.5 and after >= 0.93, (before, after)


# ------------------------------------------------------------------ specs and cards (no Ray)
def test_a_v1_spec_is_accepted_and_unknown_env_versions_refused() -> None:
    from soclab.rl.algos import build_config, check_agent

    check_agent(v1_spec().agents[0])
    with pytest.raises(ConfigError, match="not supported for training"):
        check_agent(v1_spec(env_id="dssoc/SoCSched-v9").agents[0])
    cfg = v1_config()
    assert "action_mode" not in cfg and "max_tasks" not in cfg and cfg["env_id"] == V1
    ppo = build_config("PPO", cfg, hyperparameters={"advantage": "grouped", "group_size": 2})
    assert ppo.num_envs_per_env_runner == 2


def _fake_v1_model(tmp_path: Path, hidden: int = 16) -> Path:
    """A v1 model directory written as `export_model` writes one, from an untrained network."""
    from soclab.rl.package import FORMAT, MODEL_FILE, WEIGHTS_FILE

    cfg = v1_config()
    env = make_env(cfg)
    dims = dims_from_spaces(env.observation_space, env.action_space)
    torch.manual_seed(3)
    net = build_any(dims, hidden=hidden)
    card = {"format": FORMAT, "name": "v1-test", "env_id": V1, "workload": "wifi-tx-rx",
            "soc": None, "rate_jobs_per_ms": 6.9, "noise": "gaussian:0.3", "binding": "late",
            "max_jobs_in_flight": 12, "duration_us": 2000, "warmup_us": 200, "max_ready": 32,
            "ratio_window": 16, "time_scale_us": env.unwrapped.time_scale,
            "obs_dims": dims.to_dict(), "model": "graph", "hidden": hidden,
            "training": {"env_config": json_env_config(cfg), "train_seeds": [1000],
                         "validation_seeds": [900]}}
    out = tmp_path / "v1-test"
    out.mkdir()
    torch.save(net.state_dict(), out / WEIGHTS_FILE)
    (out / MODEL_FILE).write_text(json.dumps(card))
    return out


def test_a_v1_model_card_loads_and_runs_as_a_late_scheduler(tmp_path: Path) -> None:
    from soclab.rl.package import load_model_scheduler, read_model_card

    model = _fake_v1_model(tmp_path)
    sched = load_model_scheduler(model)
    assert sched.binding == "late"
    sim = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6.9, duration_us=1500,
                                warmup_us=200, noise="gaussian:0.3", binding="late")
    a, b = (dssoc.simulate(sim, load_model_scheduler(model), 5, validate=True) for _ in range(2))
    assert a.completed_jobs > 0 and a.avg_latency_us == b.avg_latency_us
    card = json.loads((model / "soclab-model.json").read_text())
    del card["max_ready"]
    (model / "soclab-model.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match="max_ready"):
        read_model_card(model)


def test_evaluate_a_v1_model_against_late_and_early_baselines(tmp_path: Path) -> None:
    from soclab.rl.evaluate import evaluate_model, same_semantics_baselines

    names = same_semantics_baselines("late")
    assert {"late-ETF", "late-CP", "late-HEFT_RT", "ETF-live", "ETF", "HEFT"} <= set(names)
    model = _fake_v1_model(tmp_path)
    ev = evaluate_model(model, [0, 1, 2], noises=["gaussian:0.3"],
                        baselines=["late-ETF", "late-CP", "ETF-live", "ETF"], duration_us=1500,
                        warmup_us=200, min_seeds=3)
    s = ev.summary.set_index("comparison")
    assert s.loc["best", "baseline"] in {"late-ETF", "late-CP"}  # same semantics only
    assert not s.loc["ETF", "same_semantics"] and not s.loc["ETF-live", "same_semantics"]
    lat = ev.per_seed.pivot(index="seed", columns="scheduler", values="avg_latency_us")
    etf = dssoc.simulate(dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=6.9, duration_us=1500,
                                               warmup_us=200, noise="gaussian:0.3"), "ETF", 1)
    assert lat.loc[1, "ETF"] == etf.avg_latency_us  # early baselines run early binding
    with pytest.raises(ConfigError, match="used for training or model selection"):
        evaluate_model(model, [900, 1, 2], min_seeds=3, duration_us=1500)


# ------------------------------------------------------------------ training (shared Ray)
def v1_spec(**hp: Any):
    return spec_from_dict({
        "name": "tiny_v1",
        "simulation": {"workload": "wifi-tx", "duration_us": 1500, "warmup_us": 200,
                       "binding": "late"},
        "agents": [{"name": "rl", "algorithm": "PPO", "hyperparameters": {
            "env_id": V1, "episode_us": 500, "train_batch_size_per_learner": 128,
            "minibatch_size": 64, "num_epochs": 1, "hidden": 16, "advantage": "grouped",
            "group_size": 2, "reserved_seeds_below": 100_000, **hp}}],
        "axes": {"noise": ["gaussian:0.3"], "rates_jobs_per_ms": [6], "seeds": [0, 1]},
        "baselines": ["late-ETF"],
        "budget": {"rl_iterations": 2},
        "report": {"gantt": False},
    })


@pytest.mark.ray
def test_short_v1_training_is_deterministic_and_ships(ray_session, tmp_path: Path) -> None:
    """Two short v1 runs (late-ETF warm start, grouped advantage, validation) with the same spec
    and seed give identical weights; the exported model is a late-binding model card."""
    from soclab.cells import plan_cells
    from soclab.rl.package import export_model, load_net, read_model_card
    from soclab.rl.train import train_agent

    weights, cards = [], []
    for i in range(2):
        cell = next(c for c in plan_cells(v1_spec(
            bc_teacher="late-ETF", bc_episodes=2, bc_epochs=2, validation_seeds=[50, 51],
            validate_every=1, validation_us=1000, validation_heuristics=["late-ETF", "late-CP"]))
            if c.agent.kind == "rl")
        trained = train_agent(cell, tmp_path / f"run{i}" / "checkpoint")
        out = export_model(trained.checkpoint_dir, tmp_path / f"model{i}",
                           training={"eval_duration_us": 1500, "eval_warmup_us": 200})
        net, _ = load_net(out)
        weights.append(net.state_dict())
        cards.append(read_model_card(out))
        res = dssoc.simulate(dssoc.SimConfig.build("wifi-tx", rate_jobs_per_ms=6, duration_us=1500,
                                                   warmup_us=200, binding="late"),
                             trained.scheduler, 0)
        assert res.completed_jobs > 0
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    card = cards[0]
    assert card["binding"] == "late" and card["env_id"] == V1 and card["max_ready"] == 32
    assert card["obs_dims"]["kind"] == "late"
    assert card["training"]["validation_best_heuristic"] in {"late-ETF", "late-CP"}
    assert card["training"]["bc_agreement"] > 0
