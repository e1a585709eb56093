"""Learning curves of the newest `soclab train` run of a spec, drawn from its MLflow record.

    python scripts/plot_learning_curves.py experiments/deepsocs_recorded.yaml OUT.png \
        --tracking-uri sqlite:////abs/mlflow.db

Reads the RL children (`soclab.kind = train_agent`) of the newest `train` parent run: their
`train/episode_return_mean` and `train/avg_latency_us` histories, and the evaluated latency of
the baselines (HEFT, ETF) as reference lines. Drawn with `soclab.plots.plot_learning_curves`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soclab import plots
from soclab.spec import load_spec
from soclab.tracking import TRAIN_KIND, Tracker, resolve_tracking_uri


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--tracking-uri", default=None)
    args = ap.parse_args(argv)
    spec = load_spec(args.spec)
    tracker = Tracker(resolve_tracking_uri(args.tracking_uri, spec.tracking.tracking_uri),
                      spec.experiment_name)
    client = tracker.client
    parents = client.search_runs([tracker.experiment_id], f"tags.`soclab.kind` = '{TRAIN_KIND}'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        print(f"error: no `soclab train` run of {spec.name} in {tracker.uri}", file=sys.stderr)
        return 2
    parent = parents[0]
    children = client.search_runs([tracker.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    curves, refs = {}, {}
    for run in children:
        agent = run.data.params.get("agent", "?")
        if run.data.params.get("agent_kind") == "rl":
            curves[agent] = {key: [m.value for m in sorted(client.get_metric_history(
                run.info.run_id, key), key=lambda m: m.step)]
                for key in ("train/episode_return_mean", "train/avg_latency_us")}
        elif agent in spec.baselines:
            refs[agent] = run.data.metrics["latency.avg_us"]
    p = parent.data.params
    iters = max((len(c["train/avg_latency_us"]) for c in curves.values()), default=0)
    title = (f"{spec.name}: training curves ({iters} iterations; noise {p.get('noise')}, "
             f"{p.get('rate_jobs_per_ms')} jobs/ms)\nthin: per iteration, thick: moving mean; "
             "grey: evaluated latency of the baselines (held-out seeds)")
    colors = plots.agent_colors([a.name for a in spec.all_agents()])
    out = plots.plot_learning_curves(curves, args.png, title, colors, refs)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
