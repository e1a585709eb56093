"""How much headroom is there above the best fixed late rule? A learning-free answer: rollout.

    python benchmarks/rollout_headroom.py --workloads wifi-tx-rx synthetic-top --seeds 5 \
        --duration 3000 --horizon 400 --samples 4 --top-k 3 --margin-z 1

For each workload at 60% load (the rates of docs/results.md), on held-out seeds 0..N-1, runs
late-ETF, late-CP and late-HEFT_RT, takes the best of them by mean latency over the seeds, and
runs `late-rollout` over that rule (`dssoc.schedulers.rollout`: one-step lookahead with the rule
as base policy, scored on sampled, not true, futures). The system of each workload is the one the
shipped late-binding model was trained and evaluated on (its model card: SoC, application mix,
jobs in flight). Energy accounting is off (it does not change a late-binding schedule, only the
run time). Prints a Markdown table: mean latency per scheduler, the paired ratio rollout / best
rule with a 95% seed-bootstrap CI, how often rollout departed from its base, and its wall time per
decision. `--also-base` adds rollout over other bases (e.g. late-ETF when it is not the best).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

RULES = ("late-ETF", "late-CP", "late-HEFT_RT")
RATES_60 = {"wifi-tx-rx": 6.894, "synthetic-top": 13.986, "wifi-rx-tx": 7.974}  # jobs/ms
ROOT = Path(__file__).resolve().parents[1]


def config_for(workload: str, noise: str, duration_us: float, warmup_us: float) -> Any:
    """The 60%-load SimConfig of `workload`, on the system of its shipped late-binding model."""
    from soclab.runner import build_sim_config

    card = json.loads((ROOT / "models" / f"ppo-v1-{workload}" / "soclab-model.json").read_text())
    cfg = build_sim_config(card["workload"], card.get("soc"), probabilities=card.get("probabilities"),
                           rate_jobs_per_ms=RATES_60[workload], duration_us=duration_us,
                           warmup_us=warmup_us, noise=noise, binding="late",
                           max_jobs_in_flight=int(card["max_jobs_in_flight"]))
    return cfg.replace(energy=False)


def run_rollout(cfg: Any, seeds: list[int], base: str, args: argparse.Namespace) -> dict[str, Any]:
    """Latency per seed of late-rollout over `base`, with its decision statistics and cost."""
    import dssoc

    lat, stats, wall = [], {"decisions": 0, "choices": 0, "deviations": 0, "waits": 0}, 0.0
    for seed in seeds:
        sched = dssoc.make_scheduler("late-rollout", base=base, horizon_us=args.horizon,
                                     samples=args.samples, top_k=args.top_k,
                                     terminal=not args.no_terminal, margin_z=args.margin_z)
        t0 = time.perf_counter()
        lat.append(dssoc.simulate(cfg, sched, seed).avg_latency_us)
        wall += time.perf_counter() - t0
        for k in stats:
            stats[k] += sched.stats[k]
        print(f"  rollout({base}) seed {seed}: {lat[-1]:.1f} µs, {sched.stats}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return {"latency": lat, "stats": stats, "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["wifi-tx-rx", "synthetic-top"],
                   choices=sorted(RATES_60))
    p.add_argument("--seeds", type=int, default=5, help="held-out seeds 0..N-1")
    p.add_argument("--noise", default="gaussian:0.3")
    p.add_argument("--duration", type=float, default=3000.0, help="µs")
    p.add_argument("--warmup", type=float, default=500.0, help="µs")
    p.add_argument("--horizon", type=float, default=400.0, help="rollout horizon (µs)")
    p.add_argument("--samples", type=int, default=4, help="sampled futures per candidate")
    p.add_argument("--top-k", type=int, default=3, help="alternative first bindings per decision")
    p.add_argument("--margin-z", type=float, default=1.0,
                   help="depart from the base only if the paired gain exceeds this many SEs")
    p.add_argument("--no-terminal", action="store_true",
                   help="no cost-to-go (remaining critical paths) at the horizon")
    p.add_argument("--also-base", nargs="*", default=[], help="extra rollout bases")
    p.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = p.parse_args()

    import dssoc
    from soclab.stats import paired_ratio_ci

    seeds = list(range(args.seeds))
    rows, raw = [], {}
    for wl in args.workloads:
        cfg = config_for(wl, args.noise, args.duration, args.warmup)
        lat = {r: [dssoc.simulate(cfg, r, s).avg_latency_us for s in seeds] for r in RULES}
        best = min(RULES, key=lambda r: float(np.mean(lat[r])))
        print(f"{wl}: " + ", ".join(f"{r} {np.mean(v):.1f}" for r, v in lat.items()), flush=True)
        raw[wl] = {"rules": lat, "best": best, "rollout": {}}
        for base in dict.fromkeys([best, *args.also_base]):
            ro = run_rollout(cfg, seeds, base, args)
            raw[wl]["rollout"][base] = ro
            ratio = paired_ratio_ci(ro["latency"], lat[best])
            vs_base = paired_ratio_ci(ro["latency"], lat[base])
            st = ro["stats"]
            rows.append(
                f"| {wl} | " + " | ".join(f"{np.mean(lat[r]):.1f}" for r in RULES)
                + f" | {best} | rollout({base}) {np.mean(ro['latency']):.1f}"
                + f" | {ratio.value:.3f} [{ratio.low:.3f}, {ratio.high:.3f}]"
                + f" | {vs_base.value:.3f} [{vs_base.low:.3f}, {vs_base.high:.3f}]"
                + f" | {st['deviations'] / max(st['decisions'], 1):.1%}"
                + f" | {1000 * ro['wall_s'] / max(st['decisions'], 1):.0f} |")
    print(f"\n{args.noise}, 60% load, seeds 0-{args.seeds - 1}, {args.duration:g} µs runs "
          f"({args.warmup:g} µs warm-up); rollout H = {args.horizon:g} µs, K = {args.samples} "
          f"sampled futures, top_k = {args.top_k}, margin_z = {args.margin_z:g}, terminal cost "
          f"{'off' if args.no_terminal else 'on'}, waiting allowed\n")
    print("| workload | " + " | ".join(RULES) + " | best rule | rollout mean µs | rollout / best"
          " [95% CI] | rollout / its base [95% CI] | decisions departing from base |"
          " ms per decision |")
    print("|---" * 10 + "|")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
