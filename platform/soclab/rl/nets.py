"""Plain-torch scheduler networks over `SoCSchedEnv` observations (no Ray import).

`GraphSchedulerNet` is the DeepSoCS/Decima-style graph neural scheduler; `MLPSchedulerNet` a flat
baseline. Both take the env's Dict observation as a dict of float tensors with a leading batch
axis and return raw (unmasked) action scores and a state embedding for the value head;
`masked_logits` applies the action mask. The RLlib wrappers live in `soclab.rl.model`; a trained
checkpoint is used through `soclab.rl.policy`.

Shapes (B = batch, M = task slots, K = max children, F = task features, P = PEs, J = job lanes):
`tasks` (B, M, F), `children` (B, M, K) slot indices with -1 padding (or `adjacency` (B, M, M)),
`task_mask` (B, M), `job_index` (B, M), `pes` (B, P, Fp), `global` (B, G), `action_mask` (B, A)
with A = M (action mode `task`) or M * P (`task_pe`, action = slot * P + pe).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

# observation keys (the env's Dict observation)
OBS_ACTION_MASK = "action_mask"
OBS_INNER = "observations"
OBS_TASKS = "tasks"
OBS_CHILDREN = "children"
OBS_ADJACENCY = "adjacency"
OBS_TASK_MASK = "task_mask"
OBS_JOB_INDEX = "job_index"
OBS_PES = "pes"
OBS_GLOBAL = "global"

MASK_VALUE = -1e9  # logit of an invalid action: exp() underflows to exactly 0 in float32
MODELS = ("graph", "mlp")


@dataclass(frozen=True)
class ObsDims:
    """The sizes a network needs, read from the env's observation and action spaces."""

    max_tasks: int
    task_features: int
    graph: str  # "children" | "adjacency"
    max_children: int
    n_pes: int
    pe_features: int
    global_features: int
    n_jobs: int  # job lanes = max_jobs_in_flight (job_index < n_jobs)
    n_actions: int

    @property
    def action_mode(self) -> str:
        return "task" if self.n_actions == self.max_tasks else "task_pe"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_spaces(cls, observation_space: Any, action_space: Any) -> ObsDims:
        inner = observation_space[OBS_INNER]
        graph = OBS_CHILDREN if OBS_CHILDREN in inner.spaces else OBS_ADJACENCY
        m, f = inner[OBS_TASKS].shape
        p, fp = inner[OBS_PES].shape
        n_jobs = round(float(inner[OBS_JOB_INDEX].high.max())) + 1
        k = inner[graph].shape[1] if graph == OBS_CHILDREN else 0
        dims = cls(int(m), int(f), graph, int(k), int(p), int(fp), int(inner[OBS_GLOBAL].shape[0]),
                   n_jobs, int(action_space.n))
        if dims.n_actions not in (dims.max_tasks, dims.max_tasks * dims.n_pes):
            raise ValueError(f"action space {action_space} matches neither {m} task slots nor "
                             f"{m} x {p} (slot, PE) pairs")
        return dims


def symlog(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * log(1 + |x|): keeps unbounded times (queues under overload) in a sane range."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


def masked_logits(logits: torch.Tensor, action_mask: torch.Tensor,
                  fill: float = MASK_VALUE) -> torch.Tensor:
    """Invalid actions (mask 0) get `fill`; valid ones keep their score."""
    return torch.where(action_mask > 0.5, logits, torch.full_like(logits, fill))


@dataclass(frozen=True)
class Packed:
    """A batch's occupied slots as one node list (see `GraphSchedulerNet.pack`)."""

    batch: int
    slots: int
    node_ids: torch.Tensor  # (N,) flat slot index b * M + slot of each node
    batch_of: torch.Tensor  # (N,) sample of each node
    parent: torch.Tensor  # (E,) node index of each edge's parent
    child: torch.Tensor  # (E,) node index of each edge's child
    job: torch.Tensor  # (N,) flat job lane b * J + job_index

    def to_slots(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) per-node values -> (B, M, ...), zero on empty slots."""
        out = x.new_zeros((self.batch * self.slots, *x.shape[1:]))
        out[self.node_ids] = x
        return out.view(self.batch, self.slots, *x.shape[1:])


class GraphSchedulerNet(nn.Module):
    """DeepSoCS/Decima graph neural scheduler.

    1. Task embeddings h⁰ = MLP(symlog(task features)).
    2. `gnn_steps` message-passing steps from children to parents, each with its own weights:
       hˢ⁺¹ᵥ = hˢᵥ + gₛ([hˢᵥ, Σ_{c ∈ children(v)} fₛ(hˢ_c)]) on occupied slots; padding (-1) and
       empty slots never contribute. After S steps a task knows its descendants S levels down.
    3. Job summaries: mean of MLP(h) over the tasks of each job (`job_index`, `task_mask`).
    4. Global summary: MLP of [mean over the jobs present, mean PE embedding, global features].
    5. Policy head: one score per slot from [h_v, job summary of v, global] (mode `task`), or per
       (slot, PE) a bilinear score of MLP(task context) and MLP(PE embedding) plus a task and a PE
       term (mode `task_pe`).
    6. Value head: MLP(global summary).
    """

    def __init__(self, dims: ObsDims, hidden: int = 64, gnn_steps: int = 3) -> None:
        super().__init__()
        if gnn_steps < 1:
            raise ValueError(f"gnn_steps must be >= 1, got {gnn_steps}")
        h = int(hidden)
        self.dims = dims
        self.gnn_steps = int(gnn_steps)
        self.task_in = mlp(dims.task_features, h, h)
        self.msg = nn.ModuleList(mlp(h, h, h) for _ in range(self.gnn_steps))
        self.update = nn.ModuleList(mlp(2 * h, h, h) for _ in range(self.gnn_steps))
        self.job_f = mlp(h, h, h)
        self.pe_in = mlp(dims.pe_features, h, h)
        self.global_in = mlp(dims.global_features, h, h)
        self.global_f = mlp(3 * h, h, h)
        if dims.action_mode == "task":
            self.score = mlp(3 * h, h, 1)
        else:
            self.task_proj = mlp(3 * h, h, h)
            self.pe_proj = mlp(h, h, h)
            self.task_bias = nn.Linear(3 * h, 1)
            self.pe_bias = nn.Linear(h, 1)
        self.value_head = mlp(h, h, 1)

    # -------------------------------------------------------------- pieces
    def pack(self, obs: dict[str, torch.Tensor]) -> Packed:
        """The occupied slots of the whole batch as one node list, and the graph's edges.

        Only occupied slots are computed (a few dozen live tasks in 256 slots, and the mean, not
        the batch's maximum, sets the cost); children pointing at padding or empty slots are
        dropped, so garbage in empty slots cannot leak in."""
        task_mask = obs[OBS_TASK_MASK]
        b, m = task_mask.shape
        node_ids = (task_mask.reshape(-1) > 0.5).nonzero().squeeze(1)
        n = node_ids.numel()
        batch_of = torch.div(node_ids, m, rounding_mode="floor")
        lookup = torch.full((b * m + 1,), n, dtype=torch.long)  # flat slot -> node (n = none)
        lookup[node_ids] = torch.arange(n)
        if self.dims.graph == OBS_ADJACENCY:
            adj = obs[OBS_ADJACENCY].reshape(b * m, m)[node_ids]  # (N, M) [parent, child]
            parent, child = (adj > 0.5).nonzero(as_tuple=True)
            child_flat = batch_of[parent] * m + child
        else:
            ch = obs[OBS_CHILDREN].reshape(b * m, -1)[node_ids].long()  # (N, K)
            parent, col = (ch >= 0).nonzero(as_tuple=True)
            child_flat = batch_of[parent] * m + ch[parent, col]
        child = lookup[child_flat]
        keep = child < n  # the child is an occupied slot
        job = obs[OBS_JOB_INDEX].reshape(-1)[node_ids].round().long().clamp(0, self.dims.n_jobs - 1)
        return Packed(b, m, node_ids, batch_of, parent[keep], child[keep],
                      batch_of * self.dims.n_jobs + job)

    def encode_nodes(self, obs: dict[str, torch.Tensor]
                     ) -> tuple[Packed, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(packing, node context (N, 3H), PE embeddings (B, P, H), global summary (B, H))."""
        pk = self.pack(obs)
        n = pk.node_ids.numel()
        feats = obs[OBS_TASKS].reshape(pk.batch * pk.slots, -1)[pk.node_ids]
        h = self.task_in(symlog(feats))
        for f, g in zip(self.msg, self.update, strict=True):  # every step runs
            msg = f(h)
            agg = torch.zeros_like(h).index_add_(0, pk.parent, msg[pk.child])  # Σ over children
            h = h + g(torch.cat([h, agg], dim=-1))
        # per-job summary: mean over the job's occupied slots
        n_jobs = pk.batch * self.dims.n_jobs
        counts = torch.bincount(pk.job, minlength=n_jobs).to(h.dtype)  # (B*J,)
        job_sum = torch.zeros(n_jobs, h.shape[1], dtype=h.dtype).index_add_(0, pk.job, self.job_f(h))
        job_emb = job_sum / counts.clamp(min=1.0).unsqueeze(-1)
        task_job = job_emb[pk.job] if n else job_emb[:0]
        present = (counts > 0).to(h.dtype).view(pk.batch, self.dims.n_jobs, 1)
        jobs_pooled = ((job_emb.view(pk.batch, self.dims.n_jobs, -1) * present).sum(dim=1)
                       / present.sum(dim=1).clamp(min=1.0))
        pe = self.pe_in(symlog(obs[OBS_PES]))
        glob = self.global_f(torch.cat([jobs_pooled, pe.mean(dim=1),
                                        self.global_in(symlog(obs[OBS_GLOBAL]))], dim=-1))
        ctx = torch.cat([h, task_job, glob[pk.batch_of]], dim=-1)
        return pk, ctx, pe, glob

    def encode(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Dense (task context (B, M, 3H), zero on empty slots; PE embeddings (B, P, H); global
        summary (B, H)): `encode_nodes` scattered back to the slots."""
        pk, ctx, pe, glob = self.encode_nodes(obs)
        return pk.to_slots(ctx), pe, glob

    def scores(self, ctx: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
        """Action scores from a dense task context (B, M, 3H) and PE embeddings (B, P, H)."""
        if self.dims.action_mode == "task":
            return self.score(ctx).squeeze(-1)
        # bilinear task x PE scores: one batched matmul, no (B, M, P, H) intermediate
        t, p = self.task_proj(ctx), self.pe_proj(pe)
        pair = torch.bmm(t, p.transpose(1, 2)) * (t.shape[-1] ** -0.5)  # (B, M, P)
        pair = pair + self.task_bias(ctx) + self.pe_bias(pe).transpose(1, 2)
        return pair.flatten(1)  # (B, M*P): action = slot * P + pe

    # ------------------------------------------------------------- forward
    def forward(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw action scores (B, A), 0 on empty slots (masked out by the action mask), and the
        state embedding (B, H) for `value`."""
        pk, ctx, pe, glob = self.encode_nodes(obs[OBS_INNER])
        if self.dims.action_mode == "task":
            return pk.to_slots(self.score(ctx)).squeeze(-1), glob
        # (slot, PE) scores: the pair term per node, against its own sample's PEs
        t, p = self.task_proj(ctx), self.pe_proj(pe)
        pair = (t.unsqueeze(1) @ p[pk.batch_of].transpose(1, 2)).squeeze(1) * (t.shape[-1] ** -0.5)
        pair = pair + self.task_bias(ctx) + self.pe_bias(pe).squeeze(-1)[pk.batch_of]  # (N, P)
        return pk.to_slots(pair).flatten(1), glob

    def embed(self, obs: dict[str, Any]) -> torch.Tensor:
        return self.encode_nodes(obs[OBS_INNER])[3]

    def value(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.value_head(embedding).squeeze(-1)


class MLPSchedulerNet(nn.Module):
    """Baseline: every observation array flattened into one vector, a 2-layer MLP torso, a linear
    head with one score per action and a linear value head."""

    def __init__(self, dims: ObsDims, hidden: int = 256) -> None:
        super().__init__()
        self.dims = dims
        graph_size = dims.max_tasks * (dims.max_children if dims.graph == OBS_CHILDREN
                                       else dims.max_tasks)
        n_in = (dims.max_tasks * (dims.task_features + 2) + graph_size
                + dims.n_pes * dims.pe_features + dims.global_features)
        self.torso = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                   nn.ReLU())
        self.pi = nn.Linear(hidden, dims.n_actions)
        self.value_head = nn.Linear(hidden, 1)

    def embed(self, obs: dict[str, Any]) -> torch.Tensor:
        o = obs[OBS_INNER]
        b = o[OBS_TASKS].shape[0]
        graph = o[self.dims.graph]
        if self.dims.graph == OBS_CHILDREN:
            graph = (graph + 1.0) / max(1, self.dims.max_tasks)  # -1 padding -> 0
        parts = [symlog(o[OBS_TASKS]), graph, o[OBS_TASK_MASK],
                 o[OBS_JOB_INDEX] / max(1, self.dims.n_jobs - 1), symlog(o[OBS_PES]),
                 symlog(o[OBS_GLOBAL])]
        return self.torso(torch.cat([p.reshape(b, -1) for p in parts], dim=-1))

    def forward(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(obs)
        return self.pi(emb), emb

    def value(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.value_head(embedding).squeeze(-1)


def build_net(dims: ObsDims, model: str = "graph", **options: Any) -> nn.Module:
    """`model` "graph" (options hidden, gnn_steps) or "mlp" (option hidden)."""
    if model == "graph":
        return GraphSchedulerNet(dims, hidden=int(options.get("hidden", 64)),
                                 gnn_steps=int(options.get("gnn_steps", 3)))
    if model == "mlp":
        return MLPSchedulerNet(dims, hidden=int(options.get("hidden", 256)))
    raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")


def stack_obs(items: list[Any]) -> Any:
    """Observations (nested dicts of numpy arrays) -> one float32 batch, leaf by leaf."""
    if isinstance(items[0], dict):
        return {k: stack_obs([x[k] for x in items]) for k in items[0]}
    return np.stack(items).astype(np.float32)


def obs_to_torch(obs: dict[str, Any], batch: bool = True) -> dict[str, Any]:
    """A (nested) dict of numpy arrays -> float32 tensors, adding a batch axis if `batch`."""
    if isinstance(obs, dict):
        return {k: obs_to_torch(v, batch) for k, v in obs.items()}
    t = torch.as_tensor(obs, dtype=torch.float32)
    return t.unsqueeze(0) if batch else t
