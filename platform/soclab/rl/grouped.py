"""Decima's input-dependent baseline: advantages against a group of rollouts on the same seed.

In a job-arrival system most of the variance of a return comes from the input (when jobs arrive,
how long their tasks really take), not from the policy's choices. Decima (Mao et al., SIGCOMM
2019) removes it by rolling the policy out several times on the *same* input sequence (here the
same simulation seed: same arrivals, same noise draws) and taking each step's advantage against
the group's mean return-to-go *at the same simulated time*:

    A_i(t) = R_i(t) − (1/G) Σ_j R_j(τ_i(t)),

where R_j(τ) is episode j's return-to-go at its last decision at or before simulated time τ
(its first decision if τ precedes it). Decisions are not aligned across episodes (different
choices give different decision instants), hence the lookup by time rather than by step index.

`returns_to_go` and `grouped_advantages` are the pure computation (tested on a hand case);
they need G rollouts per seed, which `collect_group` produces with the env and any policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def returns_to_go(rewards: Sequence[float], gamma: float = 1.0) -> np.ndarray:
    """R(t) = Σ_{k ≥ t} γ^{k−t} r_k."""
    out = np.zeros(len(rewards))
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = float(rewards[t]) + gamma * g
        out[t] = g
    return out


def value_at(times: np.ndarray, rtg: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """R(τ) of one episode: its return-to-go at the last decision at or before τ."""
    idx = np.searchsorted(times, tau, side="right") - 1
    return rtg[np.clip(idx, 0, len(rtg) - 1)]


def grouped_advantages(times: Sequence[Sequence[float]], rewards: Sequence[Sequence[float]],
                       gamma: float = 1.0) -> list[np.ndarray]:
    """Per episode of one group (same seed), the advantage of every step against the group's
    mean return-to-go at that step's simulated time. `times[i]` must be non-decreasing."""
    if len(times) != len(rewards):
        raise ValueError(f"{len(times)} time series for {len(rewards)} reward series")
    ts = [np.asarray(t, float) for t in times]
    rtgs = [returns_to_go(r, gamma) for r in rewards]
    for i, (t, r) in enumerate(zip(ts, rtgs, strict=True)):
        if t.shape != r.shape:
            raise ValueError(f"episode {i}: {t.size} times for {r.size} rewards")
        if t.size and np.any(np.diff(t) < 0):
            raise ValueError(f"episode {i}: times decrease")
    out = []
    for t, r in zip(ts, rtgs, strict=True):
        if t.size == 0:
            out.append(np.zeros(0))
            continue
        base = np.mean([value_at(tj, rj, t) for tj, rj in zip(ts, rtgs, strict=True) if tj.size],
                       axis=0)
        out.append(r - base)
    return out


def collect_group(env: Any, policy: Callable[[dict[str, Any]], int], seed: int, size: int
                  ) -> tuple[list[list[float]], list[list[float]]]:
    """`size` episodes of `policy` on the same env seed: (decision times, rewards) per episode.
    A stochastic policy makes the episodes differ; the input (arrivals, noise) is identical."""
    times, rewards = [], []
    for _ in range(size):
        obs, info = env.reset(seed=int(seed))
        ts, rs = [], []
        done = False
        while not done:
            ts.append(float(info.get("time_us", 0.0)))
            obs, r, term, trunc, info = env.step(policy(obs))
            rs.append(float(r))
            done = term or trunc
        times.append(ts)
        rewards.append(rs)
    return times, rewards


def batch_advantages(keys: Sequence[Any], times: Sequence[Sequence[float]],
                     rewards: Sequence[Sequence[float]], values: Sequence[Sequence[float]],
                     gamma: float = 1.0) -> list[np.ndarray]:
    """Advantages of a training batch of complete episodes: episodes sharing a group key (the
    simulation seed) are taken against their group (`grouped_advantages`); an episode alone in
    the batch with its key (its group was split across batches) falls back to the critic's
    baseline, R(t) − V(s_t), with `values[i]` the value predictions of its steps."""
    groups: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    out: list[np.ndarray] = [np.zeros(0)] * len(keys)
    for members in groups.values():
        if len(members) == 1:
            i = members[0]
            out[i] = returns_to_go(rewards[i], gamma) - np.asarray(values[i], float)
            continue
        advs = grouped_advantages([times[i] for i in members], [rewards[i] for i in members],
                                  gamma)
        for i, a in zip(members, advs, strict=True):
            out[i] = a
    return out
