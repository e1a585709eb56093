"""Behaviour-cloning warm start: the graph network first imitates the best heuristic.

RL from a random policy spends most of its budget rediscovering list scheduling. Instead the
recipe rolls the *teacher* heuristic out in the training env, on training seeds only, and fits
the very network PPO will fine-tune (`soclab.rl.nets`, the RLModule's `net`) by supervised
learning: cross-entropy of the masked action logits against the teacher's action, plus a value
regression on the teacher's discounted return-to-go (so PPO's first advantages are not noise).

Teachers (`TEACHERS`) decide from the env's own observation and state, so the cloned policy
sees exactly what the student will see:

- `ETF` (env `task` mode): the ready task with the earliest estimated finish over the PEs (the
  observation's `eft` feature), which the env then places on its earliest-finish PE: the env
  reproduces DS3's ETF decision by decision.
- `first`: the first valid action (the oldest job's ready task: FIFO).
- `late-ETF`, `late-CP`, `late-HEFT_RT`, `late-MET` (env `dssoc/SoCSched-v1`): the late-binding
  heuristic's next binding at the current instant, or `wait` (`LateTeacher`).

`collect(env_config, teacher, seeds)` gives the states, `fit(net, data)` trains, and
`agreement(net, data)` is the fraction of states where the greedy student picks the teacher's
action (ties in the teacher's rule count as agreement).

`clone(net, ...)` is the whole warm start: cloning on the teacher's own trajectories, then
optional DAgger rounds (Ross, Gordon & Bagnell 2011): the student drives fresh training episodes,
the teacher labels every state the student reaches, and the student is refit on all labels so
far. A student that imitates imperfectly drifts into states the teacher never visits; DAgger
teaches it what to do there (plain cloning's error compounds with the horizon, DAgger's does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dssoc.errors import ConfigError

Teacher = Callable[[dict[str, Any], Any], "np.ndarray"]


def _eft_column(env: Any) -> int:
    from dssoc.env.observation import task_feature_names

    return task_feature_names(env.unwrapped.builder.cluster_names).index("eft")


def etf_teacher(obs: dict[str, Any], env: Any) -> np.ndarray:
    """Valid actions of minimal estimated finish (ETF's choice; several on ties)."""
    if env.unwrapped.builder.action_mode != "task":
        raise ConfigError("the ETF teacher needs action_mode 'task'", "bc.teacher")
    valid = np.flatnonzero(obs["action_mask"] > 0.5)
    eft = obs["observations"]["tasks"][valid, _eft_column(env)]
    return valid[eft <= eft.min() + 1e-6]


def first_teacher(obs: dict[str, Any], env: Any) -> np.ndarray:
    return np.flatnonzero(obs["action_mask"] > 0.5)[:1]


class LateTeacher:
    """A late-binding heuristic (`late-ETF`, `late-CP`, `late-HEFT_RT`, ...) as a v1 teacher.

    The engine asks a late heuristic once per decision point and binds every pair it returns;
    the env binds one pair per step. So at each new decision point (`Simulation.decisions`
    changes) the teacher asks the heuristic once, with the ready tasks of the observation's slots
    in the engine's ready order, and then hands out its pairs one step at a time, then `wait`
    (or, when waiting is not allowed, the first valid pair). Rolled out in the env it replays
    `dssoc.simulate` under that heuristic (tested: same latency)."""

    def __init__(self, name: str, params: dict[str, Any] | None = None) -> None:
        self.name = name
        self.params = dict(params or {})
        self._sched: Any = None
        self._sim: Any = None
        self._token: Any = None
        self._pending: list[Any] = []

    def __call__(self, obs: dict[str, Any], env: Any) -> np.ndarray:
        from dssoc import make_scheduler

        inner = env.unwrapped
        b = getattr(inner, "builder", None)
        if b is None or not hasattr(b, "max_ready"):
            raise ConfigError(f"the {self.name} teacher needs the late-binding env "
                              "(dssoc/SoCSched-v1)", "bc.teacher")
        sim = inner.sim
        if self._sched is None:
            self._sched = make_scheduler(self.name, **self.params)
        if sim is not self._sim:
            self._sched.reset(sim, np.random.default_rng(0))
            self._sim = sim
        mask = obs["action_mask"] > 0.5
        slots = b.slots
        token = (id(sim), sim.decisions)
        if token != self._token:  # a new decision point: ask the heuristic once
            self._token = token
            in_slot = {id(t) for t in slots}  # the engine's ready order, as simulate gives it
            ready = [t for t in sim.ready if id(t) in in_slot]
            self._pending = list(self._sched.schedule(ready, sim)) if ready else []
        if not self._pending:
            return (np.array([b.wait_action]) if mask[b.wait_action]
                    else np.flatnonzero(mask)[:1])
        task, pe = self._pending.pop(0)
        a = next(i for i, t in enumerate(slots) if t is task) * b.n_pes + int(pe)
        return np.array([a]) if mask[a] else np.flatnonzero(mask)[:1]

    def replan(self) -> None:
        """Forget the pairs still to hand out at this decision point: the env took another action
        than the last one given (a DAgger student drives), so the heuristic must be asked again
        from the state the student made."""
        self._token = None
        self._pending = []


#: the late-binding schedulers usable as v1 teachers; `late-rollout` (one-step lookahead over a
#: late rule, `dssoc.schedulers.rollout`) distils a policy better than any fixed rule
LATE_TEACHERS = ("late-ETF", "late-CP", "late-HEFT_RT", "late-MET", "late-rollout")


def teacher(name: str, params: dict[str, Any] | None = None) -> Teacher:
    """The teacher rule of a name in `TEACHERS` (a fresh instance for the stateful late ones),
    built with `params` (a late teacher's scheduler parameters, e.g. late-rollout's horizon)."""
    if name not in TEACHERS:
        raise ConfigError(f"unknown teacher {name!r}; valid: {', '.join(TEACHERS)}", "bc.teacher")
    if params and name not in LATE_TEACHERS:
        raise ConfigError(f"the {name} teacher takes no parameters", "bc_teacher_params")
    if name in LATE_TEACHERS:
        from dssoc import make_scheduler

        make_scheduler(name, **(params or {}))  # bad parameters fail here, before any episode
        return LateTeacher(name, params)
    return TEACHERS[name]


TEACHERS: dict[str, Teacher] = {"ETF": etf_teacher, "first": first_teacher,
                                **{n: LateTeacher(n) for n in LATE_TEACHERS}}


@dataclass
class Demonstrations:
    """Teacher states: stacked observations, the teacher's action, the set of equally good
    actions (`best`, a 0/1 mask over actions), and the discounted return-to-go."""

    obs: dict[str, Any]
    action: np.ndarray
    best: np.ndarray
    returns: np.ndarray

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def __add__(self, other: Demonstrations) -> Demonstrations:
        def cat(a: Any, b: Any) -> Any:
            return ({k: cat(a[k], b[k]) for k in a} if isinstance(a, dict)
                    else np.concatenate([a, b]))

        return Demonstrations(cat(self.obs, other.obs), cat(self.action, other.action),
                              cat(self.best, other.best), cat(self.returns, other.returns))


Student = Callable[[dict[str, Any]], int]


def greedy_student(net: Any) -> Student:
    """The network's greedy action on one observation, as a DAgger driver: the choice the shipped
    policy makes (`soclab.rl.package.greedy_actions`, ties within its tolerance)."""
    import torch

    from soclab.rl.nets import obs_to_torch
    from soclab.rl.package import greedy_actions

    def act(obs: dict[str, Any]) -> int:
        with torch.no_grad():
            scores = net(obs_to_torch(obs))[0].numpy()
        return greedy_actions(scores, obs["action_mask"][None] > 0.5)[0]

    return act


def collect(env_config: dict[str, Any], teacher: str, seeds: Sequence[int],
            gamma: float = 0.99, max_states: int | None = None,
            teacher_params: dict[str, Any] | None = None,
            student: Student | None = None,
            on_episode: Callable[[int, int], None] | None = None) -> Demonstrations:
    """One episode per seed (env `reset(seed=s)`), recording each state with the teacher's
    action. The teacher drives, or with `student` the student does (DAgger: the states are the
    student's, the labels the teacher's; the return-to-go is the student's). `on_episode(done,
    states)` is called after each episode (a rollout teacher takes minutes per episode)."""
    from soclab.rl.env import make_env
    from soclab.rl.nets import stack_obs

    rule = globals()["teacher"](teacher, teacher_params)
    env = make_env(env_config)
    obs_l, act_l, best_l, ret_l = [], [], [], []
    for episode, seed in enumerate(seeds, 1):
        obs, _ = env.reset(seed=int(seed))
        rewards = []
        done = False
        while not done:
            best = rule(obs, env)
            mask = np.zeros(obs["action_mask"].shape[0], np.float32)
            mask[best] = 1.0
            obs_l.append(obs)
            act_l.append(int(best[0]))
            best_l.append(mask)
            action = int(best[0]) if student is None else student(obs)
            if not mask[action] and hasattr(rule, "replan"):
                rule.replan()
            obs, r, term, trunc, _ = env.step(action)
            rewards.append(float(r))
            done = term or trunc
        g, rtg = 0.0, []
        for r in reversed(rewards):
            g = r + gamma * g
            rtg.append(g)
        ret_l.extend(reversed(rtg))
        if on_episode is not None:
            on_episode(episode, len(act_l))
        if max_states and len(act_l) >= max_states:
            break
    return Demonstrations(stack_obs(obs_l), np.array(act_l), np.stack(best_l),
                          np.array(ret_l, np.float32))


def _torch_batch(data: Demonstrations, idx: np.ndarray) -> dict[str, Any]:
    import torch

    def take(x: Any) -> Any:
        return {k: take(v) for k, v in x.items()} if isinstance(x, dict) else torch.from_numpy(x[idx])

    return take(data.obs)


def fit(net: Any, data: Demonstrations, *, epochs: int = 20, batch_size: int = 256,
        lr: float = 1e-3, value_coeff: float = 0.5, seed: int = 0) -> list[float]:
    """Supervised pre-training of `net` on the demonstrations; returns the loss per epoch.

    Loss = -log Σ_{a ∈ best} π(a|s) (the teacher's tie set counts as one choice) +
    `value_coeff` · (V(s) − return-to-go)²."""
    import torch

    from soclab.rl.nets import masked_logits

    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best = torch.from_numpy(data.best)
    returns = torch.from_numpy(data.returns)
    n = len(data)
    losses = []
    net.train()
    for _ in range(int(epochs)):
        perm = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            obs = _torch_batch(data, idx)
            scores, emb = net(obs)
            logp = masked_logits(scores, obs["action_mask"]).log_softmax(-1)
            pol = -torch.logsumexp(logp.masked_fill(best[idx] < 0.5, -1e9), dim=-1).mean()
            val = ((net.value(emb) - returns[idx]) ** 2).mean()
            loss = pol + value_coeff * val
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    net.eval()
    return losses


def choice_states(data: Demonstrations) -> np.ndarray:
    """Indices of the states with a real choice: some valid action is not among the teacher's."""
    return np.flatnonzero(data.obs["action_mask"].sum(-1) > data.best.sum(-1))


def agreement(net: Any, data: Demonstrations, batch_size: int = 512,
              choice_only: bool = True) -> float:
    """Fraction of states where the student's greedy action is one of the teacher's; by default
    over the states with a real choice only (a forced move is agreement by construction)."""
    import torch

    from soclab.rl.nets import masked_logits

    states = choice_states(data) if choice_only else np.arange(len(data))
    hits = 0
    with torch.no_grad():
        for start in range(0, states.size, batch_size):
            idx = states[start:start + batch_size]
            obs = _torch_batch(data, idx)
            act = masked_logits(net(obs)[0], obs["action_mask"]).argmax(-1).numpy()
            hits += int(data.best[idx, act].sum())
    return hits / max(1, states.size)


def clone(net: Any, env_config: dict[str, Any], teacher: str, seeds: Sequence[int], *,
          dagger_seeds: Sequence[Sequence[int]] = (), teacher_params: dict[str, Any] | None = None,
          epochs: int = 10, lr: float = 1e-3, seed: int = 0,
          on_status: Callable[[str], None] | None = None) -> tuple[Demonstrations, dict[str, float]]:
    """Behaviour cloning of `teacher` into `net` on its episodes of `seeds`, then one DAgger round
    per entry of `dagger_seeds` (the student's greedy episodes on those seeds, labelled by the
    teacher, added to the data; `net` refit on all of it). Returns the data and what was measured:
    states, agreement on all the data after the last fit, and per round the student's agreement
    with the teacher on its own states before the refit (`bc_dagger<r>_student_agreement`, the
    number that says how well the cloned policy follows its teacher where it actually goes).
    `on_status` gets a line of progress after each episode and before each fit."""
    def stage(what: str, total: int) -> Callable[[int, int], None] | None:
        if on_status is None:
            return None
        report = on_status
        return lambda done, states: report(f"{what}: episode {done}/{total}, {states:,} states")

    data = collect(env_config, teacher, seeds, teacher_params=teacher_params,
                   on_episode=stage(f"cloning {teacher}", len(seeds)))
    if on_status is not None:
        on_status(f"fitting {len(data):,} states")
    losses = fit(net, data, epochs=epochs, lr=lr, seed=seed)
    info: dict[str, float] = {}
    for r, round_seeds in enumerate(dagger_seeds, 1):
        more = collect(env_config, teacher, round_seeds, teacher_params=teacher_params,
                       student=greedy_student(net),
                       on_episode=stage(f"DAgger round {r}/{len(dagger_seeds)}", len(round_seeds)))
        info[f"bc_dagger{r}_states"] = float(len(more))
        info[f"bc_dagger{r}_student_agreement"] = agreement(net, more)
        data = data + more
        if on_status is not None:
            on_status(f"fitting {len(data):,} states")
        losses = fit(net, data, epochs=epochs, lr=lr, seed=seed + r)
    return data, {"bc_states": float(len(data)), "bc_choice_states": float(choice_states(data).size),
                  "bc_agreement": agreement(net, data),
                  "bc_final_loss": losses[-1] if losses else 0.0, **info}


def warm_start_algorithm(algo: Any, state_dict: dict[str, Any]) -> None:
    """Load pre-trained network weights into an RLlib Algorithm's learner module and push them
    to its env runners (the sampling copies)."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    def load(learner: Any) -> None:
        learner.module[DEFAULT_MODULE_ID].net.load_state_dict(state_dict)

    algo.learner_group.foreach_learner(load)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group,
                                       inference_only=True)
