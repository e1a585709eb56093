"""`soclab evaluate MODEL`: a trained scheduler against every heuristic of its semantics, honestly.

- **Held-out seeds only.** The evaluation seeds must be disjoint from the seeds the model was
  trained and selected on: `training.validation_seeds` and `training.train_seeds` of the model
  card, and every seed the training env could draw (at or above `reserved_seeds_below`, unless
  listed in its `exclude_seeds`). An overlap is an error, not a warning.
- **Common random numbers.** Every scheduler runs the same seeds; a seed fixes the arrivals and
  the noise draws (separate streams in `dssoc`), so the model and the heuristics face identical
  jobs and identical execution-time draws.
- **Paired statistics** (`soclab.stats`): per (rate, noise) cell, the model's mean latency over
  the seeds with a 95% bootstrap CI, the paired ratio model / baseline with its CI, and the
  probability of improvement P(model < baseline) over seed pairs, against every baseline and
  against the *best heuristic of the same semantics* in that cell (the lowest mean latency among
  the same-binding heuristics, DS3-style ETF and HEFT included for early binding).
- **Robustness.** Noise levels the model was not trained on are marked (`trained_noise` False).

The result is one tidy per-seed DataFrame plus one summary row per (rate, noise, baseline).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dssoc.errors import ConfigError

#: heuristics compared with an early-binding (DS3 semantics) model, in report order
EARLY_BASELINES = ("ETF-live", "ETF", "EFT", "HEFT", "HEFT_RT", "PEFT", "MET")
#: heuristics compared with a late-binding model (plus early-binding ETF-live and DS3-style ETF
#: and HEFT, each run under its own binding, on the same seeds)
LATE_BASELINES = ("late-ETF", "late-CP", "late-MET", "late-HEFT_RT")
LATE_EARLY_BASELINES = ("ETF-live",)
DS3_BASELINES = ("ETF", "HEFT")
MIN_SEEDS = 20


@dataclass
class Evaluation:
    """What `evaluate_model` measured."""

    model: str
    card: dict[str, Any]
    seeds: tuple[int, ...]
    per_seed: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)


def held_out_seeds(card: dict[str, Any]) -> tuple[frozenset[int], int | None, frozenset[int]]:
    """(seeds used in training or selection, bound at or above which training may have drawn
    seeds (None: any seed), seeds training never drew) of a model card or checkpoint settings."""
    tr = card.get("training") or {}
    env = tr.get("env_config") or card.get("env_config") or {}
    used = {int(s) for s in (tr.get("validation_seeds") or [])} | {
        int(s) for s in (tr.get("train_seeds") or [])}
    reserved = env.get("reserved_seeds_below")
    never = frozenset(int(s) for s in (env.get("exclude_seeds") or []))
    return frozenset(used), (int(reserved) if reserved else None), never


def check_seeds(seeds: Sequence[int], card: dict[str, Any], *, min_seeds: int = MIN_SEEDS) -> None:
    """Refuse evaluation seeds that training or model selection saw or could have drawn."""
    if len(set(seeds)) != len(seeds):
        raise ConfigError("evaluation seeds repeat", "--seeds")
    if len(seeds) < min_seeds:
        raise ConfigError(f"{len(seeds)} evaluation seeds; at least {min_seeds} are needed for "
                          "the confidence intervals (or lower --min-seeds)", "--seeds")
    used, reserved, never = held_out_seeds(card)
    overlap = sorted(set(seeds) & used)
    if overlap:
        raise ConfigError(f"evaluation seeds {overlap[:10]} were used for training or model "
                          "selection (training.train_seeds / validation_seeds): choose disjoint "
                          "seeds", "--seeds")
    drawable = sorted(s for s in seeds if s not in never and (reserved is None or s >= reserved))
    if drawable:
        where = (f"seeds >= {reserved}" if reserved is not None
                 else "any seed outside its exclude_seeds")
        raise ConfigError(f"evaluation seeds {drawable[:10]} may have been drawn for training "
                          f"episodes (training draws {where}): choose held-out seeds", "--seeds")


def same_semantics_baselines(binding: str) -> list[str]:
    """The registered heuristics of a binding semantics, plus DS3-style ETF and HEFT."""
    from dssoc import make_scheduler, scheduler_names

    known = set(scheduler_names())
    names = LATE_BASELINES if binding == "late" else EARLY_BASELINES
    out = [n for n in names if n in known
           and getattr(make_scheduler(n), "binding", "early") in (binding, None)]
    if binding == "late":
        out += [n for n in LATE_EARLY_BASELINES if n in known]
    return out + [n for n in DS3_BASELINES if n not in out]


def sim_config(card: dict[str, Any], rate: float, noise: str, duration_us: float | None,
               warmup_us: float | None) -> Any:
    """The evaluation SimConfig of a cell: the model's system at another rate/noise."""
    from soclab.runner import build_sim_config

    extra: dict[str, Any] = {}
    if card.get("binding") == "late":
        extra["binding"] = "late"
    if card.get("max_jobs_in_flight"):
        extra["max_jobs_in_flight"] = int(card["max_jobs_in_flight"])
    return build_sim_config(card["workload"], card.get("soc"),
                            probabilities=card.get("probabilities"), rate_jobs_per_ms=rate,
                            duration_us=duration_us or card.get("duration_us"),
                            warmup_us=warmup_us if warmup_us is not None else card.get("warmup_us"),
                            noise=noise, **extra)


def _with_binding(cfg: Any, name: str) -> Any:
    """`cfg` under the binding the scheduler `name` is written for."""
    from dssoc import scheduler_binding

    binding = scheduler_binding(name)
    return cfg if cfg.binding == binding else cfg.replace(binding=binding)


def evaluate_model(
    model: str | Path,
    seeds: Sequence[int],
    *,
    rates: Sequence[float] | None = None,
    noises: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    duration_us: float | None = None,
    warmup_us: float | None = None,
    min_seeds: int = MIN_SEEDS,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> Evaluation:
    """Run the model and its baselines on `seeds` at every (rate, noise); see the module doc.

    `model` is a shipped model directory or an RLlib checkpoint written by soclab. Defaults: the
    model's training rate and noise, and `same_semantics_baselines` of its binding."""
    from dssoc import simulate
    from dssoc.noise import noise_spec, parse_noise
    from soclab.rl.package import is_model_dir, load_model_scheduler, read_model_card
    from soclab.rl.policy import load_policy_scheduler, module_dir, read_env_settings
    from soclab.runner import resolve_scheduler

    path = Path(model)
    if not path.exists():
        raise ConfigError("model not found", str(path))
    if is_model_dir(path):
        card = read_model_card(path)
        policy = load_model_scheduler(path)
    else:
        settings = read_env_settings(module_dir(path))
        env = settings.get("env_config") or {}
        card = {**env, "name": settings.get("agent", path.name),
                "binding": settings.get("binding", "early"),
                "training": {"env_config": env}, "noise": settings.get("noise"),
                "rate_jobs_per_ms": settings.get("rate_jobs_per_ms"), "soc": settings.get("soc"),
                "workload": settings.get("workload"), "duration_us": None, "warmup_us": None}
        policy = load_policy_scheduler(path)
    seeds = tuple(int(s) for s in seeds)
    check_seeds(seeds, card, min_seeds=min_seeds)
    rates = [float(r) for r in (rates or [card["rate_jobs_per_ms"]])]
    noises = [noise_spec(parse_noise(n)) or "none" for n in (noises or [card.get("noise") or "none"])]
    trained_noise = noise_spec(parse_noise(card.get("noise") or "none")) or "none"
    names = list(baselines) if baselines else same_semantics_baselines(card.get("binding", "early"))
    same = set(same_semantics_baselines(card.get("binding", "early")))
    if card.get("binding") == "late":  # the early-binding comparisons are not the same semantics
        same -= {*DS3_BASELINES, *LATE_EARLY_BASELINES}
    if not duration_us and not card.get("duration_us"):
        raise ConfigError("the model does not name an evaluation duration: give --duration",
                          "--duration")
    rows = []
    for rate in rates:
        for noise in noises:
            cfg = sim_config(card, rate, noise, duration_us, warmup_us)
            for name in ["model", *names]:
                sched = policy if name == "model" else None
                # a baseline of the other binding (ETF, HEFT for a late model) runs under its own;
                # the seed still fixes the same arrivals and noise draws
                run_cfg = cfg if sched is not None else _with_binding(cfg, name)
                for seed in seeds:
                    r = simulate(run_cfg, sched if sched is not None else resolve_scheduler(name),
                                 seed)
                    row = {"rate_jobs_per_ms": rate, "noise": noise, "scheduler": name,
                           "seed": seed, "avg_latency_us": r.avg_latency_us,
                           "p95_latency_us": r.p95_latency_us,
                           "throughput_jobs_per_ms": r.throughput_jobs_per_ms,
                           "completed_jobs": r.completed_jobs}
                    rows.append(row)
                    if on_result is not None:
                        on_result(row)
    per_seed = pd.DataFrame(rows)
    per_seed["trained_noise"] = per_seed["noise"] == trained_noise
    out = Evaluation(str(card["name"]), card, seeds, per_seed)
    out.summary = summarize(per_seed, names, same)
    return out


def summarize(per_seed: pd.DataFrame, baselines: Sequence[str], same: set[str]) -> pd.DataFrame:
    """One row per (rate, noise, comparison): model and baseline mean latency, paired ratio with
    95% CI, P(improvement) with 95% CI; `comparison` "best" is the best same-semantics heuristic
    of the cell (named in `baseline`)."""
    from soclab.stats import mean_ci, paired_ratio_ci, probability_of_improvement_ci

    rows = []
    for (rate, noise), g in per_seed.groupby(["rate_jobs_per_ms", "noise"], sort=False):
        lat = g.pivot(index="seed", columns="scheduler", values="avg_latency_us")
        model = lat["model"].to_numpy(float)
        m = mean_ci(model)
        cands = [b for b in baselines if b in same and b in lat]
        best = min(cands, key=lambda b: float(lat[b].mean())) if cands else None
        comps = [("best", best)] if best else []
        comps += [(b, b) for b in baselines if b in lat]
        for comp, b in comps:
            base = lat[b].to_numpy(float)
            r = paired_ratio_ci(model, base)
            p = probability_of_improvement_ci(model, base, lower_is_better=True)
            rows.append({"rate_jobs_per_ms": rate, "noise": noise,
                         "trained_noise": bool(g["trained_noise"].iloc[0]), "comparison": comp,
                         "baseline": b, "same_semantics": b in same, "n_seeds": len(model),
                         "model_latency_us": m.value, "model_ci_low": m.low, "model_ci_high": m.high,
                         "baseline_latency_us": float(base.mean()), "ratio": r.value,
                         "ratio_low": r.low, "ratio_high": r.high, "prob_improvement": p.value,
                         "prob_low": p.low, "prob_high": p.high,
                         "wins": bool(r.high < 1.0), "loses": bool(r.low > 1.0)})
    return pd.DataFrame(rows)


def parse_seeds(text: str) -> list[int]:
    """'100-119' (inclusive range), '1,2,5' or a mix ('100-109,200')."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(part)])
        except ValueError:
            raise ConfigError(f"not a seed or a range a-b: {part!r}", "--seeds") from None
    if not out:
        raise ConfigError("no seeds given", "--seeds")
    return out


def print_evaluation(ev: Evaluation) -> None:
    """The summary as a rich table: one line per cell and comparison."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{ev.model} · {len(ev.seeds)} held-out seeds · binding "
                    f"{ev.card.get('binding', 'early')} · trained at {ev.card.get('rate_jobs_per_ms')}"
                    f"/ms, noise {ev.card.get('noise')}",
              caption="* noise not seen in training; green: better than the baseline (CI below 1), "
                      "red: worse", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
              show_edge=False)
    # numbers and noise specs as short as gaussian:0.3 never wrap; baseline names wrap at their
    # spaces ("best =" / "late-CP") and longer specs fold, so the table reads at 80 columns (the
    # baseline's own latency is in summary.csv: model µs / ratio)
    noise_width = min(14, max(len(str(n)) + 2 for n in ev.summary["noise"]))  # 80 columns in all
    for col in ("jobs/ms", "noise", "vs", "model µs", "ratio [95% CI]", "P(better)"):
        text = col in ("noise", "vs")
        t.add_column(col, justify="left" if text else "right", no_wrap=not text,
                     overflow="fold" if text else "ellipsis",
                     min_width=noise_width if col == "noise" else (7 if text else None),
                     max_width=12 if col == "vs" else None)
    for d in ev.summary.to_dict("records"):
        vs = f"best = {d['baseline']}" if d["comparison"] == "best" else d["baseline"]
        noise = d["noise"] + ("" if d["trained_noise"] else " *")
        style = "green" if d["wins"] else ("red" if d["loses"] else None)
        t.add_row(f"{d['rate_jobs_per_ms']:g}", noise, vs, f"{d['model_latency_us']:.1f}",
                  f"{d['ratio']:.3f} [{d['ratio_low']:.3f}, {d['ratio_high']:.3f}]",
                  f"{d['prob_improvement']:.2f}" if math.isfinite(d["prob_improvement"]) else "",
                  style=style)
    Console().print(t)
