"""Trained checkpoints as ordinary dssoc schedulers (`--scheduler checkpoint:PATH`).

`load_policy_scheduler(path)` accepts an RLlib algorithm checkpoint (the directory written by
`Algorithm.save_to_path`, as `soclab train` and the sweep produce) or the RLModule directory inside
it (`learner_group/learner/rl_module/default_policy`). It restores the module with
`RLModule.from_checkpoint`, reads the env settings soclab saved beside it (`soclab_env.json`:
action mode, slots, graph encoding, time scale) and returns a `dssoc.env.PolicyScheduler` that
picks the highest-scoring valid action at every decision (deterministic). Using a checkpoint
imports RLlib's classes but never starts Ray. A shipped model directory (`soclab-model.json` +
`weights.pt`, see `soclab.rl.package`) is loaded with plain torch instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dssoc.errors import ConfigError
from dssoc.schemas import read_document

ENV_FILE = "soclab_env.json"
MODULE_SUBDIR = Path("learner_group") / "learner" / "rl_module" / "default_policy"
CTOR_FILE = "class_and_ctor_args.pkl"


def module_dir(path: str | Path) -> Path:
    """The RLModule directory of an algorithm checkpoint or of a module checkpoint."""
    p = Path(path)
    if (p / MODULE_SUBDIR / CTOR_FILE).is_file():
        return p / MODULE_SUBDIR
    if (p / CTOR_FILE).is_file():
        return p
    raise ConfigError(f"not an RLlib checkpoint: expected {MODULE_SUBDIR}/{CTOR_FILE} (algorithm "
                      f"checkpoint) or {CTOR_FILE} (RLModule checkpoint) inside", str(p))


def read_env_settings(path: str | Path) -> dict[str, Any]:
    """`soclab_env.json` of the checkpoint: in `path` or up to four directories above it."""
    p = Path(path).resolve()
    for d in [p, *list(p.parents)[:4]]:
        f = d / ENV_FILE
        if f.is_file():
            settings = read_document(f, "checkpoint settings file")
            obs_keys = (("max_ready",) if "max_ready" in settings  # v1 (late binding)
                        else ("action_mode", "max_tasks"))
            missing = [k for k in (*obs_keys, "time_scale_us") if k not in settings]
            if missing:
                raise ConfigError(f"missing key {missing[0]!r}: not written by soclab", str(f))
            return settings
    raise ConfigError(f"no {ENV_FILE} beside the checkpoint (written by soclab at training "
                      "time); it holds the observation settings the policy was trained with",
                      str(path))


def load_module(path: str | Path) -> Any:
    """The trained RLModule (torch), on CPU, in eval mode."""
    import logging

    from ray.rllib.core.rl_module.rl_module import RLModule

    where = module_dir(path)
    # RLlib's own notices (RLModuleConfig deprecation; "falling back to RLModule" for a foreign
    # class, which then fails with a clear error below)
    quiet = [logging.getLogger(n) for n in ("ray._common.deprecation", "ray.rllib.utils.checkpoints")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        module = RLModule.from_checkpoint(where.resolve().as_posix())
    except Exception as e:  # a garbage or foreign checkpoint fails in many ways inside RLlib/torch
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"cannot restore the policy from this checkpoint ({type(e).__name__}: "
                          f"{first})", str(where)) from None
    finally:
        for q, lv in zip(quiet, levels, strict=True):
            q.setLevel(lv)
    if not (isinstance(module, RLModule) and hasattr(module, "forward_inference")):
        raise ConfigError(f"the checkpoint holds a {type(module).__name__}, not an RLlib RLModule",
                          str(where))
    module.eval()
    return module


class ModulePolicy:
    """`policy(obs) -> action`: one `forward_inference` and a masked argmax (ties to the lowest
    index, as `soclab.rl.package.greedy_actions`). Checks once that the observation has the
    shapes the module was trained on."""

    def __init__(self, module: Any, settings: dict[str, Any]) -> None:
        import torch
        from ray.rllib.core.columns import Columns

        self.module = module
        self.settings = settings
        self._checked = False
        self._torch = torch
        self._obs_key, self._logits_key = Columns.OBS, Columns.ACTION_DIST_INPUTS
        self._q = hasattr(module, "compute_q_values")  # DQN: greedy on masked Q-values

    def _check(self, obs: dict[str, Any]) -> None:
        from soclab.rl.package import observation_shapes

        dims = self.settings.get("obs_dims") or {}
        if dims:
            want, got = observation_shapes(dims, obs)
            if want != got:
                raise ConfigError(
                    f"the checkpoint was trained on observations (slots, features, PEs, PE "
                    f"features, actions) = {want} (workload {self.settings.get('workload')!r}) "
                    f"but this simulation gives {got}: evaluate on the same SoC, "
                    "max_jobs_in_flight and application set", "checkpoint")
        self._checked = True

    def logits(self, obs: dict[str, Any]) -> np.ndarray:
        from soclab.rl.nets import obs_to_torch

        if not self._checked:
            self._check(obs)
        batch = {self._obs_key: obs_to_torch(obs)}
        with self._torch.no_grad():
            if self._q:
                return self.module.compute_q_values(batch)["qf_preds"][0].numpy()
            return self.module.forward_inference(batch)[self._logits_key][0].numpy()

    def __call__(self, obs: dict[str, Any]) -> int:
        valid = obs["action_mask"] > 0.5
        if self._checked and np.count_nonzero(valid) == 1:  # forced move: no forward pass
            return int(np.flatnonzero(valid)[0])
        from soclab.rl.package import greedy_actions

        return greedy_actions(self.logits(obs)[None], valid[None])[0]


def load_policy_scheduler(path: str | Path, *, torch_threads: int | None = 1) -> Any:
    """A `dssoc.env.PolicyScheduler` (v0) or `LatePolicyScheduler` (v1) running the checkpoint's
    policy greedily.

    `torch_threads` (default 1) sets torch's intra-op threads: batch-1 inference gains nothing
    from more, and on a shared machine extra threads only spin."""
    from soclab.rl.package import is_model_dir, load_model_scheduler, policy_scheduler

    if is_model_dir(path):  # a shipped model (models/<name>/): plain torch, no RLlib
        return load_model_scheduler(path, torch_threads=torch_threads)
    settings = read_env_settings(module_dir(path))
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    module = load_module(path)
    sched = policy_scheduler(ModulePolicy(module, settings), settings)
    sched.name = f"policy:{settings.get('agent') or settings.get('algorithm', 'rl')}"
    sched.trained_on = {k: settings.get(k) for k in TRAINING_CONDITIONS}  # type: ignore[attr-defined]
    sched.checkpoint_path = str(path)  # type: ignore[attr-defined]
    return sched


#: what a policy was trained on and is checked against when evaluated (`training_mismatch`)
TRAINING_CONDITIONS = ("workload", "rate_jobs_per_ms", "noise")


def _noise_text(v: Any) -> str:
    return "none" if v in (None, "", "none") else str(v)


def training_mismatch(trained_on: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Where an evaluation config (`SimConfig.summary()`) differs from the policy's training
    conditions, as `what: trained X, evaluated Y` phrases (empty when they agree)."""
    out = []
    rate_t, rate_e = trained_on.get("rate_jobs_per_ms"), config.get("rate_jobs_per_ms")
    if isinstance(rate_t, int | float) and isinstance(rate_e, int | float) and \
            abs(float(rate_t) - float(rate_e)) > 1e-9 * max(1.0, abs(float(rate_t))):
        out.append(f"rate: trained at {float(rate_t):g} jobs/ms, evaluated at {float(rate_e):g} jobs/ms")
    if "noise" in trained_on and _noise_text(trained_on["noise"]) != _noise_text(config.get("noise")):
        out.append(f"noise: trained with {_noise_text(trained_on['noise'])}, evaluated with "
                   f"{_noise_text(config.get('noise'))}")
    wl_t, wl_e = trained_on.get("workload"), config.get("workload")
    if wl_t and wl_e and wl_t != wl_e:
        out.append(f"workload: trained on {wl_t}, evaluated on {wl_e}")
    return out
