"""RLlib algorithm configs (new API stack, torch) for soclab's agents, sized for small CPUs.

`build_config(algorithm, env_config, model=..., hyperparameters=..., seed=...)` returns an
`AlgorithmConfig` ready for `.build_algo()`. Hyperparameters are split in two:

- RLlib's own `.training(...)` arguments of the algorithm (lr, gamma, entropy_coeff,
  train_batch_size_per_learner, minibatch_size, num_epochs, ...), applied as given;
- soclab's keys (`SOCLAB_HYPERPARAMETERS`): network size, training-episode length, reward scale,
  env runners.

An unknown name is refused with a `ConfigError` naming it and the valid names.
"""

from __future__ import annotations

import inspect
import math
from functools import cache
from typing import Any

from dssoc.errors import ConfigError
from soclab import metrics

#: RLlib algorithms soclab trains: name -> (module, config class, rollout fragment length).
#: Another RLlib algorithm is one entry here (plus its small-CPU defaults in DEFAULTS).
ALGORITHM_TABLE: dict[str, tuple[str, str, int | str]] = {
    "PPO": ("ray.rllib.algorithms.ppo", "PPOConfig", "auto"),
    "APPO": ("ray.rllib.algorithms.appo", "APPOConfig", 50),
    "IMPALA": ("ray.rllib.algorithms.impala", "IMPALAConfig", 50),
    "DQN": ("ray.rllib.algorithms.dqn", "DQNConfig", 4),
}
ALGORITHMS = tuple(ALGORITHM_TABLE)

#: soclab's hyperparameters (not RLlib `.training()` arguments) and what they do.
SOCLAB_HYPERPARAMETERS: dict[str, str] = {
    "hidden": "width of the network's hidden layers (graph default 64, mlp 256)",
    "gnn_steps": "message-passing steps of the graph model (default 3)",
    "episode_us": "simulated time of a training episode (default: about 400 decisions)",
    "episode_jobs": "stop training episodes after this many jobs instead of a duration",
    "max_tasks": "task slots of the observation (default: the env's; v0 only)",
    "max_ready": "ready slots of the v1 observation (default: the env's, 32)",
    "ratio_window": "completions per cluster in v1's duration-ratio window (default: the env's)",
    "reward_scale": "factor on every reward (default 0.1; 1 for the throughput reward)",
    "num_env_runners": "RLlib env runner actors (default 0: sample in the trainer's process)",
    "num_envs_per_env_runner": "vectorised envs per env runner, stepped together with one batched "
                               "forward pass (default 1)",
    "steps_per_iteration": "env steps sampled per training iteration at least (default: one "
                           "train batch; DQN 500)",
    "env_id": "Gymnasium id of the env to train on (default dssoc/SoCSched-v0)",
    "reserved_seeds_below": "simulation seeds below this are never drawn for training",
    "bc_teacher": "behaviour-cloning warm start from this heuristic (soclab.rl.bc.TEACHERS)",
    "bc_teacher_params": "the teacher scheduler's parameters, e.g. late-rollout's horizon_us",
    "bc_episodes": "teacher episodes (training seeds) for the warm start (default 8)",
    "bc_epochs": "supervised epochs of the warm start (default 10)",
    "bc_lr": "learning rate of the warm start (default 1e-3)",
    "bc_dagger_rounds": "DAgger rounds after cloning: the student drives, the teacher labels its "
                        "states, the student is refit on all labels (default 0)",
    "bc_dagger_episodes": "training episodes per DAgger round (default bc_episodes)",
    "validation_seeds": "seeds scoring the greedy policy for early stopping and model selection",
    "validate_every": "iterations between validations (default 5)",
    "patience": "stop after this many validations without improvement (default: never)",
    "validation_us": "simulated µs of a validation run (default 5000)",
    "validation_heuristics": "heuristics whose best sets the validation ratio (default ETF, HEFT)",
    "advantage": "PPO's advantage: gae (default, RLlib's) or grouped (Decima's input-dependent "
                 "baseline over groups of rollouts on the same seed, soclab.rl.grouped_ppo)",
    "group_size": "rollouts per group (same seed) with advantage: grouped: the envs of one env "
                  "runner's vector env (default 4; sets num_envs_per_env_runner)",
    "load_curriculum": "[start, end] fractions of saturation_jobs_per_ms: training load ramps "
                       "linearly over curriculum_iterations (soclab.rl.curriculum)",
    "saturation_jobs_per_ms": "saturation rate the load curriculum's fractions refer to",
    "episode_curriculum": "[start, end] mean µs of exponentially distributed training-episode "
                          "lengths, ramping linearly (Decima)",
    "curriculum_iterations": "iterations of the curricula's ramps (default: the budget's "
                             "rl_iterations)",
    "warm_start_us": "a heuristic schedules this many simulated µs of every training episode "
                     "before the agent's first decision (steady-state starts)",
    "warm_start_teacher": "the heuristic of the warm start (soclab.rl.bc.TEACHERS, default ETF)",
}
ADVANTAGES = ("gae", "grouped")

#: small-CPU defaults; any of them can be overridden by the spec's hyperparameters.
DEFAULTS: dict[str, dict[str, Any]] = {
    "PPO": {"train_batch_size_per_learner": 1000, "minibatch_size": 250, "num_epochs": 4,
            "lr": 3e-4, "gamma": 0.99, "lambda_": 0.95, "entropy_coeff": 0.01,
            "vf_loss_coeff": 0.5, "clip_param": 0.2, "vf_clip_param": 100.0, "grad_clip": 10.0,
            "use_kl_loss": False},
    "APPO": {"train_batch_size_per_learner": 500, "lr": 3e-4, "gamma": 0.99,
             "entropy_coeff": 0.01, "vf_loss_coeff": 0.5, "grad_clip": 10.0, "use_kl_loss": False},
    "IMPALA": {"train_batch_size_per_learner": 500, "lr": 3e-4, "gamma": 0.99,
               "entropy_coeff": 0.01, "vf_loss_coeff": 0.5, "grad_clip": 10.0},
    "DQN": {"train_batch_size_per_learner": 32, "lr": 5e-4, "gamma": 0.99,
            "num_steps_sampled_before_learning_starts": 500, "target_network_update_freq": 500,
            "epsilon": [[0, 1.0], [5000, 0.05]], "dueling": False, "double_q": True,
            "n_step": 1, "replay_buffer_config": {"type": "EpisodeReplayBuffer",
                                                  "capacity": 50_000}},
}
#: common names from other libraries -> RLlib's, for "did you mean" hints
ALIASES = {"learning_rate": "lr", "batch_size": "train_batch_size_per_learner",
           "train_batch_size": "train_batch_size_per_learner", "epochs": "num_epochs",
           "n_epochs": "num_epochs", "lambda": "lambda_", "gae_lambda": "lambda_",
           "ent_coef": "entropy_coeff", "vf_coef": "vf_loss_coeff", "clip_range": "clip_param",
           "max_grad_norm": "grad_clip", "discount": "gamma"}
ROLLOUT_FRAGMENT = {name: entry[2] for name, entry in ALGORITHM_TABLE.items()}
DQN_STEPS_PER_ITERATION = 500  # PPO/APPO/IMPALA: an iteration samples one train batch
#: the env's own counters, logged per training episode beside the engine metrics
ENV_COUNTERS = ("invalid_actions", "overflow_tasks")


def episode_metric_keys() -> tuple[str, ...]:
    """Engine metrics logged per training episode: every figure of merit declared in
    `dssoc.metric_registry` (so any `metrics.primary` can steer searches) plus the env's counters."""
    return (*metrics.rankable(), *ENV_COUNTERS)


def config_class(algorithm: str) -> type:
    """The RLlib config class of `algorithm` (imported on first use: RLlib is heavy)."""
    import importlib

    if algorithm not in ALGORITHM_TABLE:
        raise ConfigError(f"unknown RL algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}",
                          "algorithm")
    module, name, _ = ALGORITHM_TABLE[algorithm]
    return getattr(importlib.import_module(module), name)


@cache
def training_arguments(algorithm: str) -> frozenset[str]:
    """Names accepted by the algorithm config's `.training()` (through its whole MRO)."""
    names: set[str] = set()
    for klass in config_class(algorithm).__mro__:
        fn = klass.__dict__.get("training")
        if fn is None:
            continue
        for p in inspect.signature(fn).parameters.values():
            if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD:
                names.add(p.name)
    return frozenset(names)


def split_hyperparameters(algorithm: str, hyperparameters: dict[str, Any] | None
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(RLlib `.training()` kwargs, soclab keys); unknown names raise `ConfigError`."""
    rllib_names = training_arguments(algorithm)
    rl, own = {}, {}
    for k, v in (hyperparameters or {}).items():
        if k in SOCLAB_HYPERPARAMETERS:
            own[k] = v
        elif k in rllib_names:
            rl[k] = v
        else:
            import difflib

            valid = sorted(rllib_names | set(SOCLAB_HYPERPARAMETERS))
            close = ([ALIASES[k]] if k in ALIASES and ALIASES[k] in valid
                     else difflib.get_close_matches(k, valid, n=3))
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown hyperparameter {k!r} for {algorithm}{hint} (RLlib "
                f"{config_class(algorithm).__name__}.training() arguments, or soclab's: "
                f"{', '.join(SOCLAB_HYPERPARAMETERS)})", f"hyperparameters.{k}")
    return rl, own


#: env versions whose observation layout soclab's networks read: v0's task graph
#: (`soclab.rl.nets`) and v1's (ready slot, PE) pairs (`soclab.rl.late_nets`)
TRAINABLE_ENVS = ("dssoc/SoCSched-v0", "dssoc/SoCSched-v1")


def check_env_id(env_id: str, where: str) -> None:
    """Refuse an env version the networks cannot read."""
    if env_id not in TRAINABLE_ENVS:
        raise ConfigError(f"the RL networks read the observation of {', '.join(TRAINABLE_ENVS)} "
                          f"only; {env_id!r} is not supported for training yet", where)


def env_runner_count(hyperparameters: dict[str, Any]) -> int:
    """The RLlib env runner actors an agent's training starts (`num_env_runners`, default 0:
    sampling in the trainer's own process); each takes a CPU of its own."""
    return int(hyperparameters.get("num_env_runners", 0))


def check_agent(agent: Any) -> None:
    """Refuse, before anything runs, an RL agent whose hyperparameter or search-space names are
    unknown to its algorithm (or to soclab). `agent` is a `soclab.spec.AgentSpec`."""
    if agent.algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown RL algorithm {agent.algorithm!r}; valid: "
                          f"{', '.join(ALGORITHMS)}", f"agents.{agent.name}.algorithm")
    names = {**agent.hyperparameters, **dict.fromkeys(agent.search_space)}
    try:
        split_hyperparameters(agent.algorithm, names)
    except ConfigError as e:
        raise ConfigError(str(e), f"agents.{agent.name}") from None
    check_env_id(str(agent.hyperparameters.get("env_id", TRAINABLE_ENVS[0])),
                 f"agents.{agent.name}.hyperparameters.env_id")
    dagger = sorted(k for k in ("bc_dagger_rounds", "bc_dagger_episodes") if k in agent.hyperparameters)
    if dagger and not agent.hyperparameters.get("bc_teacher"):
        raise ConfigError("DAgger rounds need a teacher: set bc_teacher",
                          f"agents.{agent.name}.hyperparameters.{dagger[0]}")
    if agent.hyperparameters.get("bc_teacher"):
        from soclab.rl.recipe import demonstration_rounds

        try:
            demonstration_rounds(agent.hyperparameters, 0)
        except ConfigError as e:
            raise ConfigError(e.reason, f"agents.{agent.name}.{e.where}") from None


def metrics_callback() -> type:
    """The RLlibCallback class logging the simulator's metrics at every episode end."""
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class SoclabMetrics(RLlibCallback):
        """Logs the final info's engine metrics as `env_runners/<name>` (mean per iteration)."""

        def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, env: Any = None,
                           env_index: int = 0, **kwargs: Any) -> None:
            if metrics_logger is None:
                return
            info = episode.get_infos(-1) or {}
            if "avg_latency_us" not in info and env is not None:  # fall back to the env itself
                try:
                    info = env.envs[env_index].unwrapped.episode_metrics()
                except Exception:
                    info = {}
            for key in episode_metric_keys():
                try:
                    v = float(info[key])
                except (KeyError, TypeError, ValueError):
                    continue
                if math.isfinite(v):
                    metrics_logger.log_value(key, v, reduce="mean")

    return SoclabMetrics


def build_config(
    algorithm: str,
    env_config: dict[str, Any],
    *,
    model: str = "graph",
    hyperparameters: dict[str, Any] | None = None,
    seed: int = 0,
) -> Any:
    """An RLlib AlgorithmConfig for soclab's env; `hyperparameters` override `DEFAULTS`.

    The env config must be complete (`soclab.rl.env.env_config_for`; the env-related soclab
    hyperparameters `episode_us`, `episode_jobs`, `max_tasks`, `reward_scale` go there, see
    `soclab.rl.train.cell_env_config`); the ones used here are `hidden`, `gnn_steps`,
    `num_env_runners`, `num_envs_per_env_runner` and `steps_per_iteration`.
    """
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from soclab.rl.env import register
    from soclab.rl.model import SchedulerQModule, SchedulerRLModule

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown RL algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}",
                          "algorithm")
    if model not in ("graph", "mlp"):
        raise ConfigError(f"unknown model {model!r}; valid: graph, mlp", "model")
    rl_hp, own = split_hyperparameters(algorithm, hyperparameters)
    check_env_id(str(env_config.get("env_id", TRAINABLE_ENVS[0])), "env_config.env_id")
    training = {**DEFAULTS[algorithm], **rl_hp}
    if algorithm == "DQN" and (training.get("num_atoms", 1) != 1 or training.get("dueling")):
        raise ConfigError("soclab's masked DQN supports num_atoms=1 and dueling=False only",
                          "hyperparameters")
    model_config: dict[str, Any] = {"model": model}
    for k in ("hidden", "gnn_steps"):
        if k in own:
            model_config[k] = int(own[k])
    module = SchedulerQModule if algorithm == "DQN" else SchedulerRLModule
    register()
    runners = env_runner_count(own)
    num_envs = int(own.get("num_envs_per_env_runner", 1))
    advantage = str(own.get("advantage", "gae"))
    env_config = dict(env_config)
    extra: dict[str, Any] = {}
    if advantage not in ADVANTAGES:
        raise ConfigError(f"unknown advantage {advantage!r}; valid: {', '.join(ADVANTAGES)}",
                          "hyperparameters.advantage")
    if "group_size" in own and advantage != "grouped":
        raise ConfigError("group_size is for advantage: grouped", "hyperparameters.group_size")
    if advantage == "grouped":
        if algorithm != "PPO":
            raise ConfigError(f"advantage: grouped needs PPO, not {algorithm}",
                              "hyperparameters.advantage")
        from soclab.rl.grouped_ppo import GroupedPPOTorchLearner

        num_envs = int(own.get("group_size", 4))
        if num_envs < 2:
            raise ConfigError(f"group_size must be >= 2, got {num_envs}", "hyperparameters.group_size")
        env_config["group_seeds"] = int(seed) * 10**8  # a seed sequence per training seed
        extra["learner_class"] = GroupedPPOTorchLearner
    cfg = (
        config_class(algorithm)()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env="soclab-sched", env_config=env_config, disable_env_checking=True)
        .env_runners(num_env_runners=runners,
                     num_envs_per_env_runner=num_envs,
                     rollout_fragment_length=ROLLOUT_FRAGMENT[algorithm],
                     batch_mode="complete_episodes" if advantage == "grouped"
                     else "truncate_episodes",
                     num_cpus_per_env_runner=1)
        .learners(num_learners=0)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=module, model_config=model_config))
        .training(**training, **extra)
        .callbacks(metrics_callback())
        .reporting(min_time_s_per_iteration=0, metrics_num_episodes_for_smoothing=20,
                   min_sample_timesteps_per_iteration=int(own.get("steps_per_iteration", (
                       DQN_STEPS_PER_ITERATION if algorithm == "DQN"
                       else training["train_batch_size_per_learner"]))))
        .debugging(seed=int(seed), log_level="ERROR")
    )
    return cfg
