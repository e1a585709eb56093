"""Plain-torch scheduler network over `dssoc/SoCSched-v1` (late binding) observations (no Ray).

v1's action is a (ready slot, PE) pair or `wait` (`dssoc.env.late_observation`). `PairSchedulerNet`
scores every *valid* pair with one small MLP shared by all pairs, over the pair's features, its
ready slot's, its PE's and that PE's cluster's, the global features and a pooled context; the
`wait` logit and the value come from pooled features. Pairs are packed (only the mask's valid
pairs are computed, gathered by index), so padding and busy PEs cost nothing and no Python loop
runs over the batch.

Besides the raw features, the network sees a few *relative* ones derived from the observation in
the forward pass (they are what fixed late rules compare, and let a small network express them):

- per pair: finish − the slot's best finish over every PE that can run it, busy ones included (> 0:
  a busy PE would finish the task earlier, the case for waiting), finish − the best finish over
  the valid pairs (ETF's choice is 0), exec − the slot's fastest exec (MET's choice is 0);
- per slot: the job's remaining critical path − the smallest among the occupied slots (shortest
  remaining work first, the SRPT-like order of late-CP, is 0).

Shapes (B batch, R ready slots, P PEs, C clusters): `pairs` (B, R, P, 4), `ready` (B, R, 8), `pes`
(B, P, 6 + C) with the cluster one-hot last, `clusters` (B, C, 3), `global` (B, 6), `action_mask`
(B, R * P + 1) with action r * P + p for a pair and R * P for `wait`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from soclab.rl.nets import OBS_ACTION_MASK, OBS_INNER, mlp, symlog

OBS_PAIRS = "pairs"
OBS_READY = "ready"
OBS_PES = "pes"
OBS_CLUSTERS = "clusters"
OBS_GLOBAL = "global"
V1_KEYS = (OBS_PAIRS, OBS_READY, OBS_PES, OBS_CLUSTERS, OBS_GLOBAL)

# columns of the v1 layout the derived features read (dssoc.env.late_observation)
PAIR_SUPPORTED, PAIR_EXEC, PAIR_FINISH = 0, 1, 3
READY_OCCUPIED, READY_REMAINING_CP = 0, 5
PE_BASE_FEATURES = 6  # PE features before the cluster one-hot
DERIVED_PAIR = 3  # finish regret vs the slot's best PE, vs the best valid pair, exec regret
DERIVED_READY = 1  # remaining critical path relative to the smallest
BIG = 1e9  # "no such PE" in the minima


@dataclass(frozen=True)
class LateObsDims:
    """Sizes of a v1 observation (read from the env's spaces); `kind` tells cards apart from v0's."""

    max_ready: int
    n_pes: int
    n_clusters: int
    pair_features: int
    ready_features: int
    pe_features: int
    cluster_features: int
    global_features: int
    n_actions: int
    kind: str = "late"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_spaces(cls, observation_space: Any, action_space: Any) -> LateObsDims:
        inner = observation_space[OBS_INNER]
        r, p, fp = inner[OBS_PAIRS].shape
        c, fc = inner[OBS_CLUSTERS].shape
        dims = cls(int(r), int(p), int(c), int(fp), int(inner[OBS_READY].shape[1]),
                   int(inner[OBS_PES].shape[1]), int(fc), int(inner[OBS_GLOBAL].shape[0]),
                   int(action_space.n))
        if dims.n_actions != r * p + 1:
            raise ValueError(f"action space {action_space} is not {r} x {p} pairs + wait")
        return dims


def is_late_space(observation_space: Any) -> bool:
    """True for a v1 (pair) observation space."""
    return OBS_PAIRS in observation_space[OBS_INNER].spaces


class PairSchedulerNet(nn.Module):
    """Shared pair MLP + pooled wait logit and value (module doc).

    1. Slot, PE (with its cluster's features) and global embeddings: one MLP each over symlog'd
       features; a context vector = MLP([mean slot embedding over occupied slots, mean PE
       embedding, global embedding]).
    2. Pair score for every valid pair: MLP([pair features, slot embedding, PE embedding,
       context]); the first layer is applied per part and summed (the same affine map as on the
       concatenation, without materialising it per pair).
    3. Pooled = [context, max over the valid pairs' last hidden layer]; `wait` logit = MLP(pooled),
       value = MLP(pooled).
    """

    def __init__(self, dims: LateObsDims, hidden: int = 64) -> None:
        super().__init__()
        h = int(hidden)
        self.dims = dims
        self.slot_in = mlp(dims.ready_features + DERIVED_READY, h, h)
        self.pe_in = mlp(dims.pe_features + dims.cluster_features, h, h)
        self.global_in = mlp(dims.global_features, h, h)
        self.context = mlp(3 * h, h, h)
        self.pair_first = nn.Linear(dims.pair_features + DERIVED_PAIR, h)
        self.slot_first = nn.Linear(h, h, bias=False)
        self.pe_first = nn.Linear(h, h, bias=False)
        self.ctx_first = nn.Linear(h, h, bias=False)
        self.pair_hidden = nn.Linear(h, h)
        self.pair_out = nn.Linear(h, 1)
        self.wait_head = mlp(2 * h, h, 1)
        self.value_head = mlp(2 * h, h, 1)

    def _encode(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pair scores (B, R*P+1) with the wait logit last and 0 on invalid pairs, pooled (B, 2H),
        valid-pair mask (B, R*P))."""
        o = obs[OBS_INNER]
        pairs, ready, pes, clusters = o[OBS_PAIRS], o[OBS_READY], o[OBS_PES], o[OBS_CLUSTERS]
        b, r, p, _ = pairs.shape
        valid = obs[OBS_ACTION_MASK][:, : r * p] > 0.5  # (B, R*P)
        # relative features
        sup = pairs[..., PAIR_SUPPORTED] > 0.5
        finish, ex = pairs[..., PAIR_FINISH], pairs[..., PAIR_EXEC]
        big = torch.full_like(finish, BIG)
        slot_best = torch.where(sup, finish, big).amin(dim=2, keepdim=True)  # (B, R, 1)
        valid3 = valid.view(b, r, p)
        state_best = torch.where(valid3, finish, big).flatten(1).amin(dim=1).view(b, 1, 1)
        exec_best = torch.where(sup, ex, big).amin(dim=2, keepdim=True)
        occ = ready[..., READY_OCCUPIED] > 0.5  # (B, R)
        cp = ready[..., READY_REMAINING_CP]
        cp_min = torch.where(occ, cp, torch.full_like(cp, BIG)).amin(dim=1, keepdim=True)
        cp_rel = torch.where(occ, cp - cp_min, torch.zeros_like(cp))
        # embeddings
        slot = self.slot_in(symlog(torch.cat([ready, cp_rel.unsqueeze(-1)], dim=-1)))  # (B, R, H)
        onehot = pes[..., PE_BASE_FEATURES:PE_BASE_FEATURES + self.dims.n_clusters]
        pe_cluster = onehot @ clusters  # (B, P, Fc): each PE's cluster features
        pe = self.pe_in(symlog(torch.cat([pes, pe_cluster], dim=-1)))  # (B, P, H)
        glob = self.global_in(symlog(o[OBS_GLOBAL]))
        occf = occ.to(slot.dtype).unsqueeze(-1)
        slot_mean = (slot * occf).sum(dim=1) / occf.sum(dim=1).clamp(min=1.0)
        ctx = self.context(torch.cat([slot_mean, pe.mean(dim=1), glob], dim=-1))  # (B, H)
        # packed valid pairs
        flat = valid.reshape(-1).nonzero().squeeze(1)  # (N,) b * R*P + r * P + p
        bi = torch.div(flat, r * p, rounding_mode="floor")
        rest = flat - bi * (r * p)
        ri = torch.div(rest, p, rounding_mode="floor")
        pi = rest - ri * p
        pf = pairs[bi, ri, pi]  # (N, 4)
        fin = finish[bi, ri, pi]
        derived = torch.stack([fin - slot_best[bi, ri, 0], fin - state_best[bi, 0, 0],
                               ex[bi, ri, pi] - exec_best[bi, ri, 0]], dim=-1)
        h1 = torch.relu(self.pair_first(symlog(torch.cat([pf, derived], dim=-1)))
                        + self.slot_first(slot)[bi, ri] + self.pe_first(pe)[bi, pi]
                        + self.ctx_first(ctx)[bi])
        h2 = torch.relu(self.pair_hidden(h1))  # (N, H)
        score = self.pair_out(h2).squeeze(-1)
        pool = torch.zeros((b, h2.shape[1]), dtype=h2.dtype)
        pool = pool.scatter_reduce(0, bi.unsqueeze(1).expand_as(h2), h2, reduce="amax",
                                   include_self=True)  # h2 >= 0, so 0 is a neutral start
        pooled = torch.cat([ctx, pool], dim=-1)
        scores = torch.zeros((b, r * p), dtype=score.dtype)
        scores = scores.index_put((bi, rest), score)
        scores = torch.cat([scores, self.wait_head(pooled)], dim=-1)
        return scores, pooled, valid

    def forward(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw action scores (B, R*P+1), 0 on invalid pairs (the action mask removes them), and
        the pooled embedding (B, 2H) for `value`."""
        scores, pooled, _ = self._encode(obs)
        return scores, pooled

    def embed(self, obs: dict[str, Any]) -> torch.Tensor:
        return self._encode(obs)[1]

    def value(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.value_head(embedding).squeeze(-1)


def build_late_net(dims: LateObsDims, model: str = "pair", **options: Any) -> nn.Module:
    """The v1 network; `model` "pair" (the v0 names "graph"/"mlp" are read as "pair": v1 has one
    architecture), option `hidden` (default 64)."""
    if model not in ("pair", "graph", "mlp"):
        raise ValueError(f"unknown v1 model {model!r}; valid: pair")
    return PairSchedulerNet(dims, hidden=int(options.get("hidden", 64)))


def dims_from_spaces(observation_space: Any, action_space: Any) -> Any:
    """`LateObsDims` for a v1 observation space, `soclab.rl.nets.ObsDims` for v0's."""
    from soclab.rl.nets import ObsDims

    if is_late_space(observation_space):
        return LateObsDims.from_spaces(observation_space, action_space)
    return ObsDims.from_spaces(observation_space, action_space)


def dims_from_dict(d: dict[str, Any]) -> Any:
    """The dims a model card or checkpoint recorded (`kind: late` for v1)."""
    from soclab.rl.nets import ObsDims

    return LateObsDims(**d) if d.get("kind") == "late" else ObsDims(**d)


def build_any(dims: Any, model: str = "graph", **options: Any) -> nn.Module:
    """The network for `dims`: v1's pair network, or v0's graph/MLP (`soclab.rl.nets.build_net`)."""
    from soclab.rl.nets import build_net

    if isinstance(dims, LateObsDims):
        return build_late_net(dims, model, **{k: v for k, v in options.items() if k == "hidden"})
    return build_net(dims, model, **options)
