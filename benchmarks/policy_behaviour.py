"""What a shipped v1 (late-binding) model does, next to a late heuristic: wait rate, PE choices,
how it reacts to slowed clusters.

    python benchmarks/policy_behaviour.py models/ppo-v1-wifi-tx-rx --teacher late-ETF \
        --rate 6.894 --noise gaussian:0.3 --seeds 0-4

For the model and the heuristic, each run in the v1 env on the same held-out seeds, it counts
over the decisions where binding was possible:

- `wait_rate`: how often `wait` was chosen although a pair was valid;
- `cluster_share`: which cluster the bound PE belonged to (fraction of bindings);
- `finish_regret_us`: the chosen pair's expected finish minus the best valid pair's (0 = ETF's
  choice on free PEs);
- `srpt_share`: how often the bound task belonged to the job with the least remaining critical path
  among the ready slots (late-CP's order);
- `slowed_share`: fraction of bindings to a PE whose cluster's realized/expected duration ratio
  was above 1.5 (a slowed cluster; meaningful under persistent noise);
- `agreement` (model only): fraction of its decisions equal to the heuristic's first choice in
  the same state.

Prints one JSON object per scheduler (last line: both).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import numpy as np


def run(model: str, teacher: str, rate: float, noise: str, seeds: list[int], duration: float,
        warmup: float) -> dict[str, Any]:
    from soclab.rl import bc
    from soclab.rl.env import env_config_for, make_env
    from soclab.rl.evaluate import sim_config
    from soclab.rl.package import NetPolicy, load_net

    net, card = load_net(model)
    policy = NetPolicy(net, card)
    sim = sim_config(card, rate, noise, duration, warmup)
    cfg = env_config_for(sim, duration_us=duration, warmup_us=warmup,
                         env_id=card["env_id"], time_scale_us=card["time_scale_us"],
                         max_ready=card["max_ready"], ratio_window=card["ratio_window"])
    out = {}
    for who in ("model", teacher):
        env = make_env(cfg)
        inner = env.unwrapped
        names = inner.builder.cluster_names
        c_of = inner.builder.pe_cluster
        stats: Counter[str] = Counter()
        clusters: Counter[str] = Counter()
        regret: list[float] = []
        latency = []
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            rule = bc.teacher(teacher)
            done = False
            while not done:
                mask = obs["action_mask"] > 0.5
                n_pairs = int(mask[:-1].sum())
                rule._token = None  # the heuristic's choice in this very state
                t_act = int(rule(obs, env)[0])
                act = policy(obs) if who == "model" else t_act
                if n_pairs and mask[-1]:
                    stats["choices"] += 1
                    stats["agree"] += act == t_act
                    stats["waits"] += act == inner.wait_action
                if act != inner.wait_action:
                    r, p = divmod(act, inner.builder.n_pes)
                    o = obs["observations"]
                    fin = o["pairs"][..., 3]
                    valid = mask[:-1].reshape(fin.shape)
                    regret.append(float(fin[r, p] - fin[valid].min()) * inner.time_scale)
                    clusters[names[c_of[p]]] += 1
                    stats["binds"] += 1
                    ready = o["ready"]
                    occ = ready[:, 0] > 0.5
                    stats["srpt"] += ready[r, 5] <= ready[occ, 5].min() + 1e-6
                    stats["slowed"] += o["clusters"][c_of[p], 0] > 1.5
                obs, _, term, trunc, info = env.step(act)
                done = term or trunc
            latency.append(info["avg_latency_us"])
        binds = max(1, stats["binds"])
        out[who] = {"avg_latency_us": float(np.mean(latency)),
                    "wait_rate": stats["waits"] / max(1, stats["choices"]),
                    "agreement": stats["agree"] / max(1, stats["choices"]),
                    "choices": stats["choices"], "binds": stats["binds"],
                    "cluster_share": {k: round(v / binds, 4) for k, v in sorted(clusters.items())},
                    "finish_regret_us": float(np.mean(regret)) if regret else 0.0,
                    "srpt_share": stats["srpt"] / binds, "slowed_share": stats["slowed"] / binds}
        print(json.dumps({who: out[who]}))
    return out


def main() -> None:
    from soclab.rl.evaluate import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--teacher", default="late-ETF")
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--noise", default="gaussian:0.3")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--duration", type=float, default=5000.0)
    ap.add_argument("--warmup", type=float, default=500.0)
    a = ap.parse_args()
    print(json.dumps(run(a.model, a.teacher, a.rate, a.noise, parse_seeds(a.seeds), a.duration,
                         a.warmup)))


if __name__ == "__main__":
    main()
