"""Checks that soclab runs before any work starts (before Ray, MLflow or any file is touched).

`check_spec` goes past the spec's schema: it resolves every name the spec uses (workload, SoC,
schedulers, baselines, checkpoints, the clusters named by slowdown noise), refuses duplicate axis
values and seeds (they would run twice and break the report's pairing), bounds the seed set, and
builds the simulation of every rate and noise level so that a value the simulator would refuse is
reported now, with the spec's key path, rather than as a failed cell after Ray has started.

The CLI helpers check option values (`option_number`, `output_dir`, `confirm_grid`) with the
same rules as the simulator (`dssoc.checks`). Every failure is a `ConfigError` naming the file and
key path or the option; the CLI prints it as one line with exit code 2.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dssoc import checks
from dssoc.errors import ConfigError

if TYPE_CHECKING:
    from dssoc import SimConfig
    from soclab.spec_schema import ExperimentSpec

T = TypeVar("T")

#: Cells (agents x the axes' product) beyond which `soclab sweep` asks for `--yes`.
MAX_CELLS = 5_000
#: Upper bound of --num-cpus (a typo guard; Ray would try to start that many workers).
MAX_CPUS = 4096
#: Upper bound of --iterations of `soclab train`.
MAX_ITERATIONS = 1_000_000


def _at(key: str, fn: Callable[[], T]) -> T:
    """Run `fn`; a ConfigError it raises is re-raised at `key` (a SimConfig field of the
    `simulation` section becomes `simulation.<field>`; any other place stays in the message)."""
    from dssoc.config import CONFIG_KEYS

    try:
        return fn()
    except ConfigError as e:
        inner = e.where or ""
        if key == "simulation" and inner.startswith("config."):
            raise ConfigError(e.reason, f"simulation.{inner[len('config.'):]}") from None
        if key == "simulation" and inner in CONFIG_KEYS:  # an input key: workload, mapping, ...
            raise ConfigError(e.reason, f"simulation.{inner}") from None
        if key == "simulation" and inner.startswith("arrivals spec"):  # dssoc.arrivals' place
            raise ConfigError(str(e), "simulation.arrivals") from None
        if inner and key.endswith(inner):  # the same place, said twice
            raise ConfigError(e.reason, key) from None
        raise ConfigError(str(e), key) from None


def _unique(values: list[Any], key: str, canonical: Callable[[Any], Any] = lambda v: v) -> None:
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        c = canonical(v)
        if c in seen:
            raise ConfigError(f"duplicate of {key}[{seen[c]}] ({values[seen[c]]!r}): every value "
                              "must be distinct", f"{key}[{i}]")
        seen[c] = i


def check_seeds(spec: ExperimentSpec) -> None:
    """The seed set: non-empty, distinct, each in [0, 2**32 - 1], at most `checks.MAX_SEEDS`."""
    from soclab.spec_schema import SeedRange

    seeds = spec.axes.seeds
    if isinstance(seeds, SeedRange):
        checks.integer(seeds.count, "axes.seeds.count", ge=1, le=checks.MAX_SEEDS)
        checks.integer(seeds.start + seeds.count - 1, "axes.seeds (start + count - 1)", ge=0,
                       le=checks.MAX_SEED)
        return
    if not seeds:
        raise ConfigError("give at least one seed", "axes.seeds")
    if len(seeds) > checks.MAX_SEEDS:
        raise ConfigError(f"{len(seeds):,} seeds, at most {checks.MAX_SEEDS:,}", "axes.seeds")
    for i, s in enumerate(seeds):
        checks.seed(s, f"axes.seeds[{i}]")
    _unique(list(seeds), "axes.seeds")


def check_scheduler(ref: str, key: str) -> None:
    """A scheduler reference resolves: a registered name, `module:Class`, or a checkpoint whose
    files are in place (restoring it needs RLlib; that happens when it runs)."""
    from soclab.runner import CHECKPOINT_PREFIX, resolve_scheduler

    if ref.startswith(CHECKPOINT_PREFIX):
        from soclab.rl.policy import module_dir, read_env_settings

        path = Path(ref[len(CHECKPOINT_PREFIX):])
        if not path.exists():
            raise ConfigError(f"checkpoint not found: {path}", key)
        _at(key, lambda: read_env_settings(module_dir(path)))
        return
    _at(key, lambda: resolve_scheduler(ref))


def check_spec(spec: ExperimentSpec) -> None:
    """Resolve and cross-check everything in a schema-valid spec (see the module docstring).
    Raises ConfigError with the spec's key path as `where` (the caller adds the file)."""
    from dssoc import load_soc, load_workload
    from dssoc.noise import noise_spec, parse_noise

    sim = spec.simulation
    _at("simulation.workload", lambda: load_workload(sim.workload))
    if isinstance(sim.soc, str):  # a mapping (cluster settings) is checked with the block
        _at("simulation.soc", lambda: load_soc(sim.soc))

    def build(rate: float, noise: str | None = None) -> SimConfig:
        return sim_config(spec, rate, noise)

    check_seeds(spec)  # first: the builds below use the first seed
    axes = spec.axes
    if not axes.noise:
        raise ConfigError("give at least one noise level (e.g. [none])", "axes.noise")
    _unique(list(axes.rates_jobs_per_ms), "axes.rates_jobs_per_ms", float)
    _unique(list(axes.noise), "axes.noise", lambda n: noise_spec(parse_noise(n)))
    slowest = min(axes.rates_jobs_per_ms)  # the rate least likely to be the problem itself

    def block(rate: float) -> SimConfig:  # the `simulation:` block alone, no other axis applied
        from dssoc import SimConfig
        from soclab.spec_schema import point_inputs

        point = {"rate_jobs_per_ms": float(rate), "noise": "none"}
        return SimConfig.model_validate(point_inputs(spec.settings, point, spec.axes.seed_list[0]))

    if sim.probabilities is not None:
        _at("simulation.probabilities", lambda: block(slowest))
    _at("simulation", lambda: block(slowest))
    for name, values in axes.extra_axes.items():  # e.g. soc, workload, max_jobs_in_flight
        if name.startswith("agent."):
            continue  # agent parameters: checked with the agents (ExperimentSpec)
        for i, v in enumerate(values):
            _at(f"axes.{name}[{i}]", lambda name=name, v=v: sim_config(spec, slowest, None, **{name: v}))
    for i, rate in enumerate(axes.rates_jobs_per_ms):
        _at(f"axes.rates_jobs_per_ms[{i}]", lambda rate=rate: build(rate))
    fastest = max(axes.rates_jobs_per_ms)
    for i, noise in enumerate(axes.noise):
        _at(f"axes.noise[{i}]", lambda noise=noise: build(fastest, noise))

    for i, agent in enumerate(spec.agents):
        if agent.kind == "heuristic":
            check_scheduler(agent.scheduler_spec, f"agents[{i}].scheduler")
    _unique(list(spec.baselines), "baselines")
    from dssoc.schedulers import make_scheduler

    for i, name in enumerate(spec.baselines):
        if name not in {a.name for a in spec.agents}:  # else the agent of that name is the baseline
            _at(f"baselines[{i}]", lambda name=name: make_scheduler(name))


def check_rl_agents(spec: ExperimentSpec, where: str) -> None:
    """Hyperparameter and search-space names of every RL agent, known to its algorithm (imports
    RLlib, so it is not part of `check_spec`; `soclab sweep` runs it before opening the store)."""
    rl = [(i, a) for i, a in enumerate(spec.agents) if a.kind == "rl"]
    if not rl:
        return
    from soclab.rl.algos import check_agent

    for i, agent in rl:
        try:
            check_agent(agent)
        except ConfigError as e:
            raise ConfigError(f"agents[{i}]: {e.reason}", where) from None  # "hyperparameters.x: .."


def check_checkpoints(spec: ExperimentSpec, where: str) -> None:
    """Restore every `checkpoint:PATH` agent once (imports RLlib and torch, so it is not part of
    `check_spec`): a garbage or foreign checkpoint is refused before the store is opened instead
    of failing every cell."""
    from soclab.runner import CHECKPOINT_PREFIX

    for i, agent in enumerate(spec.agents):
        ref = agent.scheduler_spec
        if agent.kind == "heuristic" and ref.startswith(CHECKPOINT_PREFIX):
            from soclab.rl.policy import load_policy_scheduler

            try:
                load_policy_scheduler(Path(ref[len(CHECKPOINT_PREFIX):]))
            except ConfigError as e:
                raise ConfigError(f"agents[{i}].scheduler: {e}", where) from None


def sim_config(spec: ExperimentSpec, rate: float, noise: str | None, **at: Any) -> SimConfig:
    """The simulation of the spec at one point (rate, noise, other axes `at`, the first value of
    the rest), built exactly as a cell there builds it (`soclab.cells.Cell.sim_config`)."""
    from soclab.cells import plan_cells

    point = {**at, "rate_jobs_per_ms": float(rate), "noise": noise or "none"}
    return plan_cells(spec, at=point, agents=spec.agents[:1])[0].sim_config()


def grid_size(spec: ExperimentSpec) -> int:
    """Cells of the spec's grid: agents (baselines included) x the product of the axes."""
    return len(spec.all_agents()) * math.prod(len(v) for v in spec.axes.values().values())


def confirm_grid(spec: ExperimentSpec, yes: bool, where: str) -> None:
    """Refuse a grid of more than `MAX_CELLS` cells unless the user said `--yes`."""
    n = grid_size(spec)
    if n > MAX_CELLS and not yes:
        raise ConfigError(f"the grid has {n:,} cells (more than {MAX_CELLS:,}); check the axes, or "
                          "pass --yes to run it", where)


def option_number(value: float | None, option: str, **bounds: Any) -> float | None:
    """A numeric CLI option (None = not given) with the bounds of `dssoc.checks.number`."""
    return None if value is None else checks.number(value, option, **bounds)


def option_count(value: int | None, option: str, ge: int = 1, le: int | None = None) -> int | None:
    """An integer CLI option (None = not given) within [ge, le]."""
    return None if value is None else checks.integer(value, option, ge=ge, le=le)


def simulate_options(*, scale: float | None, rate: float | None, duration: float | None,
                     warmup: float | None, max_jobs: int | None, seed: int) -> None:
    """The numeric options of `soclab simulate`, named as the user typed them (SimConfig checks
    the values together; this names the options)."""
    if scale is not None and rate is not None:
        raise ConfigError("give either --scale or --rate, not both", "--rate")
    option_number(scale, "--scale", gt=0, unit="microseconds")
    option_number(rate, "--rate", gt=0, unit="jobs/ms")
    option_number(duration, "--duration", gt=0, le=checks.MAX_DURATION_US, unit="microseconds")
    option_number(warmup, "--warmup", ge=0, le=checks.MAX_DURATION_US, unit="microseconds")
    option_count(max_jobs, "--max-jobs", le=checks.MAX_JOBS)
    checks.seed(seed, "--seed")


def gantt_window(text: str) -> tuple[float, float]:
    """`--gantt-window START:END` (µs, START < END)."""
    parts = text.split(":")
    try:
        lo, hi = (float(x) for x in parts)
    except ValueError:
        raise ConfigError(f"expected START:END in µs, got {text!r}", "--gantt-window") from None
    return checks.window(lo, hi, "--gantt-window")


def train_options(spec: ExperimentSpec, *, noise: str | None, rate: float | None,
                  iterations: int | None, num_cpus: int | None) -> None:
    """The options of `soclab train`: the grid point must be one the spec's simulation accepts."""
    option_number(rate, "--rate", gt=0, unit="jobs/ms")
    option_count(iterations, "--iterations", le=MAX_ITERATIONS)
    option_count(num_cpus, "--num-cpus", le=MAX_CPUS)
    r = rate if rate is not None else spec.axes.rates_jobs_per_ms[0]
    if rate is not None:
        _at("--rate", lambda: sim_config(spec, r, None))
    if noise is not None:
        _at("--noise", lambda: sim_config(spec, r, noise))


def tcp_port(value: int | None, option: str) -> int | None:
    """A TCP port option (None = pick a free one)."""
    return option_count(value, option, ge=1, le=65_535)


def cluster_options(*, workers: int, port: int | None, tracking_port: int | None, head_cpus: int,
                    worker_cpus: int, object_store_mb: int) -> None:
    """The numeric options of `soclab cluster local`, before any process starts."""
    option_count(workers, "--workers", ge=0, le=64)
    tcp_port(port, "--port")
    tcp_port(tracking_port, "--tracking-port")
    option_count(head_cpus, "--head-cpus", ge=0, le=MAX_CPUS)
    option_count(worker_cpus, "--worker-cpus", le=MAX_CPUS)
    option_count(object_store_mb, "--object-store-mb", ge=64)  # Ray refuses less than ~75 MB


def output_dir(path: Path, option: str = "--output-dir") -> Path:
    """A directory soclab may create and write: not a file, nor below one, and writable."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is a file, not a directory", option)
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"{existing} is a file, so {path} cannot be a directory", option)
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{existing} is not writable", option)
    return path
