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
    def aggregate_children(self, messages: torch.Tensor, obs: dict[str, torch.Tensor],
                           task_mask: torch.Tensor) -> torch.Tensor:
        """Σ over each slot's children of their messages: (B, M, H) -> (B, M, H)."""
        if self.dims.graph == OBS_ADJACENCY:
            adj = obs[OBS_ADJACENCY] * task_mask.unsqueeze(1)  # [parent, child], child occupied
            return torch.bmm(adj, messages)
        children = obs[OBS_CHILDREN]
        b, m, k = children.shape
        valid = children >= 0
        idx = children.long().clamp(min=0)
        flat = idx + (torch.arange(b, device=idx.device) * m).view(b, 1, 1)
        gathered = messages.reshape(b * m, -1)[flat.reshape(-1)].reshape(b, m, k, -1)
        child_ok = task_mask.reshape(-1)[flat.reshape(-1)].reshape(b, m, k) > 0.5
        weight = (valid & child_ok).to(messages.dtype).unsqueeze(-1)
        return (gathered * weight).sum(dim=2)

    def encode(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(task context (B, M, 3H), PE embeddings (B, P, H), global summary (B, H))."""
        task_mask = obs[OBS_TASK_MASK]
        tm = task_mask.unsqueeze(-1)
        h = self.task_in(symlog(obs[OBS_TASKS])) * tm
        for f, g in zip(self.msg, self.update, strict=True):  # every step runs
            agg = self.aggregate_children(f(h), obs, task_mask)
            h = (h + g(torch.cat([h, agg], dim=-1))) * tm
        # per-job summary: mean over the job's occupied slots
        job = torch.nn.functional.one_hot(
            obs[OBS_JOB_INDEX].round().long().clamp(0, self.dims.n_jobs - 1), self.dims.n_jobs
        ).to(h.dtype) * tm  # (B, M, J)
        counts = job.sum(dim=1)  # (B, J)
        job_emb = torch.bmm(job.transpose(1, 2), self.job_f(h)) / counts.clamp(min=1.0).unsqueeze(-1)
        task_job = torch.bmm(job, job_emb)  # (B, M, H)
        present = (counts > 0).to(h.dtype).unsqueeze(-1)
        jobs_pooled = (job_emb * present).sum(dim=1) / present.sum(dim=1).clamp(min=1.0)
        pe = self.pe_in(symlog(obs[OBS_PES]))
        glob = self.global_f(torch.cat([jobs_pooled, pe.mean(dim=1),
                                        self.global_in(symlog(obs[OBS_GLOBAL]))], dim=-1))
        ctx = torch.cat([h, task_job, glob.unsqueeze(1).expand_as(h)], dim=-1)
        return ctx, pe, glob

    def scores(self, ctx: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
        if self.dims.action_mode == "task":
            return self.score(ctx).squeeze(-1)
        # bilinear task x PE scores: one batched matmul, no (B, M, P, H) intermediate
        t, p = self.task_proj(ctx), self.pe_proj(pe)
        pair = torch.bmm(t, p.transpose(1, 2)) * (t.shape[-1] ** -0.5)  # (B, M, P)
        pair = pair + self.task_bias(ctx) + self.pe_bias(pe).transpose(1, 2)
        return pair.flatten(1)  # (B, M*P): action = slot * P + pe

    # ------------------------------------------------------------- forward
    def trim(self, inner: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
        """The observation cut to the first k slots, k = the most occupied slots in the batch.

        The env fills slots from 0 and children point at occupied slots, so the cut drops only
        padding: results are identical, and far cheaper (a few dozen live tasks in 256 slots)."""
        m = self.dims.max_tasks
        k = max(1, int(inner[OBS_TASK_MASK].sum(dim=-1).max().item()))
        if k >= m:
            return inner, m
        out = dict(inner)
        for key in (OBS_TASKS, OBS_TASK_MASK, OBS_JOB_INDEX, OBS_CHILDREN):
            if key in out:
                out[key] = out[key][:, :k]
        if OBS_ADJACENCY in out:
            out[OBS_ADJACENCY] = out[OBS_ADJACENCY][:, :k, :k]
        return out, k

    def forward(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw action scores (B, A) and the state embedding (B, H) for `value`."""
        inner, _ = self.trim(obs[OBS_INNER])
        ctx, pe, glob = self.encode(inner)
        scores = self.scores(ctx, pe)  # (B, k) or (B, k*P)
        pad = self.dims.n_actions - scores.shape[1]
        if pad:  # slots past k are empty: score 0, masked out by the action mask
            scores = torch.nn.functional.pad(scores, (0, pad))
        return scores, glob

    def embed(self, obs: dict[str, Any]) -> torch.Tensor:
        return self.encode(self.trim(obs[OBS_INNER])[0])[2]

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


def obs_to_torch(obs: dict[str, Any], batch: bool = True) -> dict[str, Any]:
    """A (nested) dict of numpy arrays -> float32 tensors, adding a batch axis if `batch`."""
    if isinstance(obs, dict):
        return {k: obs_to_torch(v, batch) for k, v in obs.items()}
    t = torch.as_tensor(obs, dtype=torch.float32)
    return t.unsqueeze(0) if batch else t
