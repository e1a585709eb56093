"""Markdown tables of `soclab evaluate --output DIR` results (one or more DIRs, concatenated).

    python benchmarks/evaluation_tables.py eval/none_0.3 eval/0.5_persistent --loads 3.447,6.894,10.341

One row per (rate, noise): the model's mean latency with its 95% CI, the best same-semantics
heuristic of the cell, the paired ratio to it with its 95% CI and P(improvement), then the ratio
to every baseline. `--loads` names the rates 30%, 60%, 90% (of ETF's saturation rate) in order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def table(dirs: list[str], loads: list[float] | None = None) -> str:
    s = pd.concat([pd.read_csv(Path(d) / "summary.csv") for d in dirs], ignore_index=True)
    names = {r: f"{p}%" for r, p in zip(loads or [], (30, 60, 90), strict=False)}
    others = [b for b in dict.fromkeys(s.loc[s.comparison != "best", "baseline"])]
    head = ("| load | noise | model µs [95% CI] | best same-semantics (µs) | ratio to it [95% CI] "
            "| P(improve) | " + " | ".join(f"× {b}" for b in others) + " |")
    lines = [head, "|" + "---|" * (6 + len(others))]
    for (rate, noise), g in s.groupby(["rate_jobs_per_ms", "noise"], sort=False):
        best = g[g.comparison == "best"].iloc[0]
        by = g[g.comparison != "best"].set_index("baseline")
        seen = "" if bool(best.trained_noise) else " (unseen)"
        load = names.get(round(float(rate), 3), f"{rate:g}/ms")
        cells = [f"{by.loc[b, 'ratio']:.3f}" if b in by.index else "" for b in others]
        lines.append(
            f"| {load} | {noise}{seen} | {best.model_latency_us:.1f} [{best.model_ci_low:.1f}, "
            f"{best.model_ci_high:.1f}] | {best.baseline} ({best.baseline_latency_us:.1f}) | "
            f"{best.ratio:.3f} [{best.ratio_low:.3f}, {best.ratio_high:.3f}] | "
            f"{best.prob_improvement:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--loads", default="", help="the 30/60/90%% rates, comma-separated")
    a = ap.parse_args()
    loads = [round(float(x), 3) for x in a.loads.split(",") if x]
    print(table(a.dirs, loads))


if __name__ == "__main__":
    main()
