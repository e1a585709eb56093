"""How consistent are `late-rollout`'s decisions as labels for behaviour cloning?

    python benchmarks/rollout_label_consistency.py --workload wifi-rx-tx --samples 4 --margin-z 1

Two rollout teachers with the same parameters but independent sampled futures (different random
streams) are asked at every decision point of one run where a PE is free; the first teacher's
bindings are executed. Prints how often the two agree on the first binding, and how often each
departs from its base rule. A student cloned from one teacher cannot agree with it more often
than a second draw of the same teacher does, beyond fitting the noise of its particular draws: this
bounds what cloning can reproduce. The system is the one of `benchmarks/rollout_headroom.py`
(the workload's shipped late-binding model card) at 60% load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

#: the best late rule of each workload under noise (docs/results.md, issue 10)
BEST_RULE = {"wifi-rx-tx": "late-CP", "synthetic-top": "late-ETF", "wifi-tx-rx": "late-HEFT_RT"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="wifi-rx-tx", choices=sorted(BEST_RULE))
    p.add_argument("--base", default=None, help="base rule (default: the workload's best)")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--margin-z", type=float, default=1.0)
    p.add_argument("--horizon", type=float, default=400.0)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--noise", default="gaussian:0.3")
    p.add_argument("--seeds", type=int, nargs="+", default=[5])
    p.add_argument("--duration", type=float, default=1500.0, help="run length (µs), as rollout_headroom")
    p.add_argument("--warmup", type=float, default=500.0, help="µs")
    return p.parse_args()


def twin_teachers(params: dict[str, Any]) -> Any:
    """A late scheduler that asks two independent rollout teachers and executes the first's."""
    from dssoc.schedulers.base import Scheduler, make_scheduler

    def first(plan: Sequence[Any]) -> list[tuple[int, int, int]]:
        return [(t.job.id, t.index, int(pe)) for t, pe in plan[:1]]

    class TwinTeachers(Scheduler):
        binding = "late"
        simulates_ahead = True
        name = "twin-rollout"

        def __init__(self) -> None:
            self.a = make_scheduler("late-rollout", **params)
            self.b = make_scheduler("late-rollout", **params)
            self.points = self.agree = self.departs_a = self.departs_b = 0

        def reset(self, system: Any, rng: np.random.Generator) -> None:
            self.a.reset(system, np.random.default_rng(rng.integers(2**63)))
            self.b.reset(system, np.random.default_rng(rng.integers(2**63)))

        def schedule(self, ready: Sequence[Any], system: Any) -> list[Any]:
            plan_a, plan_b = self.a.schedule(ready, system), self.b.schedule(ready, system)
            if ready and system.pe_free().any():
                base = first(self.a.base.schedule(ready, system))
                self.points += 1
                self.agree += first(plan_a) == first(plan_b)
                self.departs_a += first(plan_a) != base
                self.departs_b += first(plan_b) != base
            return plan_a

    return TwinTeachers()


def main() -> None:
    from rollout_headroom import config_for

    import dssoc

    args = parse_args()
    base = args.base or BEST_RULE[args.workload]
    params = {"base": base, "horizon_us": args.horizon, "samples": args.samples,
              "top_k": args.top_k, "margin_z": args.margin_z}
    cfg = config_for(args.workload, args.noise, args.duration, args.warmup)
    t0 = time.perf_counter()
    points = agree = dep_a = dep_b = 0
    for seed in args.seeds:
        twin = twin_teachers(params)
        dssoc.simulate(cfg, twin, seed)
        points += twin.points
        agree += twin.agree
        dep_a += twin.departs_a
        dep_b += twin.departs_b
    print(f"{args.workload}, rollout over {base} (K = {args.samples}, margin {args.margin_z:g} SE, "
          f"H = {args.horizon:g} µs), {args.noise}, seeds {args.seeds}: {points} decision points "
          f"with a free PE; the two teachers agree on the first binding in {agree / points:.1%}; "
          f"they depart from {base} in {dep_a / points:.1%} / {dep_b / points:.1%}; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
