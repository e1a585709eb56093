"""Shipped models: a trained policy as a small, Ray-free directory `models/<name>/`.

A model directory holds

- `soclab-model.json`: what the policy was trained for and how to rebuild its observation:
  `workload`, `soc`, `rate_jobs_per_ms`, `noise`, `binding`, `max_jobs_in_flight`,
  `duration_us`, `warmup_us`, the env id and its observation settings (v0, early binding:
  `action_mode`, `max_tasks`, `graph`; v1, late binding: `max_ready`, `ratio_window`; both
  `time_scale_us`, `obs_dims`), the network (`model`, `hidden`, `gnn_steps`), and `training`
  (the spec that produced it, the seeds it used: `train_seeds` and `validation_seeds`,
  iterations, env steps);
- `weights.pt`: the network's `state_dict` (a few tens of kB).

`export_model(checkpoint, out_dir, ...)` writes one from an RLlib checkpoint (it reads the
RLModule with RLlib's classes but starts no Ray); `load_model_scheduler(dir)` rebuilds the
network with plain torch (`soclab.rl.nets`) and returns a `dssoc` scheduler: `--scheduler
checkpoint:models/<name>` in `soclab simulate` and in specs, without Ray installed or running.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dssoc.errors import ConfigError

MODEL_FILE = "soclab-model.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = 1
#: keys every soclab-model.json must have
REQUIRED = ("name", "env_id", "workload", "rate_jobs_per_ms", "noise", "binding",
            "max_jobs_in_flight", "duration_us", "warmup_us", "time_scale_us", "obs_dims", "model",
            "training")
#: the observation settings of each binding's env (v0: early, v1: late), also required
OBSERVATION_KEYS = {"early": ("action_mode", "max_tasks", "graph"),
                    "late": ("max_ready", "ratio_window")}


def is_model_dir(path: str | Path) -> bool:
    return (Path(path) / MODEL_FILE).is_file()


def read_model_card(path: str | Path) -> dict[str, Any]:
    """`soclab-model.json` of a model directory, checked for the required keys."""
    f = Path(path) / MODEL_FILE
    if not f.is_file():
        raise ConfigError(f"no {MODEL_FILE} in the model directory", str(path))
    try:
        card = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"not valid JSON: {e.msg} (line {e.lineno})", str(f)) from None
    binding = card.get("binding", "early")
    missing = [k for k in (*REQUIRED, *OBSERVATION_KEYS.get(binding, ())) if k not in card]
    if missing:
        raise ConfigError(f"missing key(s) {missing}", str(f))
    if int(card.get("format", 0)) != FORMAT:
        raise ConfigError(f"format {card.get('format')} is not supported (expected {FORMAT})", str(f))
    return card


def binding_of(env_id: str) -> str:
    """The task-binding semantics an env version trains for: v0 binds early (DS3)."""
    return "early" if env_id.endswith("-v0") else "late"


def export_model(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    training: dict[str, Any] | None = None,
    description: str = "",
) -> Path:
    """Write `out_dir` (soclab-model.json + weights.pt) from an RLlib algorithm checkpoint
    written by `soclab.rl.train.train_agent` (its `soclab_env.json` supplies the settings)."""
    import torch

    from soclab.rl.env import DEFAULT_ENV_ID
    from soclab.rl.policy import load_module, module_dir, read_env_settings

    settings = read_env_settings(module_dir(checkpoint))
    if settings.get("algorithm") == "DQN":
        raise ConfigError("only policy-gradient modules (PPO, APPO, IMPALA) can be shipped", "checkpoint")
    module = load_module(checkpoint)
    env_cfg = dict(settings.get("env_config") or {})
    hp = dict(settings.get("hyperparameters") or {})
    env_id = str(env_cfg.get("env_id", DEFAULT_ENV_ID))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    card = {
        "format": FORMAT,
        "name": name or out.name,
        "description": description,
        "env_id": env_id,
        "workload": settings["workload"],
        "soc": settings.get("soc"),
        "rate_jobs_per_ms": settings.get("rate_jobs_per_ms", env_cfg.get("rate_jobs_per_ms")),
        "noise": settings.get("noise", env_cfg.get("noise")),
        "binding": binding_of(env_id),
        "max_jobs_in_flight": env_cfg.get("max_jobs_in_flight"),
        "duration_us": (training or {}).get("eval_duration_us", env_cfg.get("duration_us")),
        "warmup_us": (training or {}).get("eval_warmup_us", env_cfg.get("warmup_us")),
        "probabilities": env_cfg.get("probabilities"),
        **{k: settings.get(k) for k in OBSERVATION_KEYS[binding_of(env_id)]},
        "time_scale_us": settings["time_scale_us"],
        "obs_dims": settings["obs_dims"],
        "model": settings.get("model", "graph"),
        "hidden": hp.get("hidden"),
        "gnn_steps": hp.get("gnn_steps"),
        "training": {"algorithm": settings.get("algorithm"), "iterations": settings.get("iterations"),
                     "env_steps": settings.get("env_steps"),
                     "train_seed": settings.get("train_seed"),
                     "training_seed_index": settings.get("training_seed_index", 0),
                     "env_config": env_cfg,
                     "hyperparameters": {k: v for k, v in hp.items() if k != "recipe"},
                     **(hp.get("recipe") or {}), **(training or {})},
    }
    torch.save({k: v.detach().clone() for k, v in module.net.state_dict().items()}, out / WEIGHTS_FILE)
    (out / MODEL_FILE).write_text(json.dumps(card, indent=1, default=str) + "\n", encoding="utf-8")
    return out


def load_net(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(plain-torch network in eval mode, model card) of a model directory; no Ray import."""
    import torch

    from soclab.rl.late_nets import build_any, dims_from_dict

    card = read_model_card(path)
    dims = dims_from_dict(card["obs_dims"])
    options = {k: card[k] for k in ("hidden", "gnn_steps") if card.get(k) is not None}
    net = build_any(dims, card["model"], **options)
    w = Path(path) / WEIGHTS_FILE
    if not w.is_file():
        raise ConfigError(f"no {WEIGHTS_FILE} in the model directory", str(path))
    try:
        net.load_state_dict(torch.load(w, map_location="cpu", weights_only=True))
    except RuntimeError as e:
        raise ConfigError(f"weights do not match the network of {MODEL_FILE}: "
                          f"{str(e).splitlines()[0]}", str(w)) from None
    net.eval()
    return net, card


#: relative distance to the best score within which actions count as tied (see `greedy_actions`)
TIE_RTOL = 1e-4


def greedy_actions(scores: np.ndarray, valid: np.ndarray) -> list[int]:
    """Masked argmax of each row of `scores` (B, A), ties to the lowest index; scores within
    `TIE_RTOL` (relative, at least absolute) of the best are ties. Equal-valued actions (identical
    PEs, identical tasks) are common and float rounding, which depends on the batch shape and the
    BLAS kernel, would otherwise pick among them: with the tolerance the choice is the same one
    observation at a time or batched."""
    s = np.where(valid, scores, -np.inf).astype(np.float64)
    best = s.max(axis=1, keepdims=True)
    near = s >= best - TIE_RTOL * np.maximum(1.0, np.abs(best))
    return [int(a) for a in near.argmax(axis=1)]


class NetPolicy:
    """`policy(obs) -> action`: the network's scores, masked argmax (`greedy_actions`: ties,
    up to float rounding, to the lowest index); `batch(observations)` does the same for several
    in one forward pass."""

    def __init__(self, net: Any, card: dict[str, Any]) -> None:
        import torch

        self.net, self.card, self._torch = net, card, torch
        self._checked = False

    def _check(self, obs: dict[str, Any]) -> None:
        want, got = observation_shapes(self.card["obs_dims"], obs)
        if want != got:
            raise ConfigError(
                f"model {self.card['name']!r} was trained on observations (slots, features, "
                f"PEs, PE features, actions) = {want} (workload {self.card['workload']!r}) but this "
                f"simulation gives {got}: use the same SoC, max_jobs_in_flight and applications",
                "checkpoint")
        self._checked = True

    def __call__(self, obs: dict[str, Any]) -> int:
        return self.batch([obs])[0]

    def batch(self, observations: list[dict[str, Any]]) -> list[int]:
        """The action for each observation, from one forward pass over those with a real choice
        (a forced move needs none)."""
        from soclab.rl.nets import obs_to_torch, stack_obs

        if not self._checked:
            self._check(observations[0])
        valid = [o["action_mask"] > 0.5 for o in observations]
        actions = [int(np.flatnonzero(v)[0]) if np.count_nonzero(v) == 1 else -1 for v in valid]
        choose = [i for i, a in enumerate(actions) if a < 0]
        if choose:
            batch = obs_to_torch(stack_obs([observations[i] for i in choose]), batch=False)
            with self._torch.inference_mode():  # no autograd bookkeeping: ~10% of a pass
                scores = self.net(batch)[0].numpy()
            for i, a in zip(choose, greedy_actions(scores, np.stack([valid[i] for i in choose])),
                            strict=True):
                actions[i] = a
        return actions


def observation_shapes(dims: dict[str, Any], obs: dict[str, Any]) -> tuple[tuple, tuple]:
    """(shapes the network was built for, shapes of `obs`): (slots, slot features, PEs, PE
    features, actions), for v0's task observation or v1's pair observation."""
    o, n_actions = obs["observations"], obs["action_mask"].shape[0]
    if dims.get("kind") == "late":
        want = (dims["max_ready"], dims["ready_features"], dims["n_pes"], dims["pe_features"],
                dims["n_actions"])
        ready, pes = o.get("ready"), o.get("pes")
        got = ((ready.shape[0], ready.shape[1], pes.shape[0], pes.shape[1], n_actions)
               if ready is not None else ("v0 observation",))
        return want, got
    want = (dims["max_tasks"], dims["task_features"], dims["n_pes"], dims["pe_features"],
            dims["n_actions"])
    tasks, pes = o.get("tasks"), o["pes"]
    got = ((tasks.shape[0], tasks.shape[1], pes.shape[0], pes.shape[1], n_actions)
           if tasks is not None else ("v1 observation",))
    return want, got


def policy_scheduler(policy: Any, settings: dict[str, Any], env_id: str | None = None) -> Any:
    """The dssoc scheduler replaying `policy` with the observation settings of a model card or
    checkpoint settings (v0: action mode, slots, graph, time scale; v1: ready slots, ratio window,
    time scale)."""
    env_id = env_id or str(settings.get("env_id") or (settings.get("env_config") or {}).get(
        "env_id") or "dssoc/SoCSched-v0")
    klass = policy_scheduler_class(env_id)
    if binding_of(env_id) == "late":
        return klass(policy, max_ready=settings.get("max_ready"),
                     time_scale_us=settings.get("time_scale_us"),
                     ratio_window=settings.get("ratio_window"))
    return klass(policy, action_mode=settings.get("action_mode", "task"),
                 max_tasks=settings.get("max_tasks"), graph=settings.get("graph") or "children",
                 time_scale_us=settings.get("time_scale_us"))


def policy_scheduler_class(env_id: str) -> type:
    """The dssoc scheduler that replays an env version's decisions in `dssoc.simulate`."""
    from dssoc.env import PolicyScheduler

    classes: dict[str, type] = {"dssoc/SoCSched-v0": PolicyScheduler}
    try:  # the late-binding env ships its own (when installed)
        from dssoc.env import LatePolicyScheduler  # type: ignore[attr-defined]

        classes["dssoc/SoCSched-v1"] = LatePolicyScheduler
    except ImportError:
        pass
    if env_id not in classes:
        raise ConfigError(f"no policy scheduler for env {env_id!r}; known: {', '.join(classes)}",
                          "env_id")
    return classes[env_id]


def simulate_greedy(config: Any, policy: NetPolicy, settings: dict[str, Any], env_id: str,
                    seeds: Sequence[int]) -> list[Any]:
    """One simulation of `config` per seed with `policy` as its scheduler (`policy_scheduler`),
    all seeds in lockstep with one batched forward pass per step (`dssoc.env.simulate_lockstep`):
    the runs `dssoc.simulate` gives seed by seed, at a fraction of the forward passes' cost."""
    from dssoc.env import simulate_lockstep

    schedulers = [policy_scheduler(policy, settings, env_id) for _ in seeds]
    return simulate_lockstep(config, schedulers, seeds, policy.batch)


def load_model_scheduler(path: str | Path, *, torch_threads: int | None = 1) -> Any:
    """A dssoc scheduler running a shipped model greedily (deterministic, always valid)."""
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    net, card = load_net(path)
    sched = policy_scheduler(NetPolicy(net, card), card, card["env_id"])
    sched.name = f"model:{card['name']}"
    return sched
