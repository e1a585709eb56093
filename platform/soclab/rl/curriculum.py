"""Curricula over load and episode length, and episodes that start from a warmed-up system.

Three recipe ingredients that change what a training episode looks like (all set from the spec's
hyperparameters, see docs/rl.md §8):

- **Load curriculum** (`load_curriculum: [0.3, 0.9]`, `saturation_jobs_per_ms: S`): the injection
  rate of training episodes goes linearly from `0.3·S` to `0.9·S` over `curriculum_iterations`
  iterations (default: the budget's `rl_iterations`), then stays at the end value. Light load
  first: the policy learns to finish jobs before it learns to juggle a queue.
- **Episode-length curriculum** (`episode_curriculum: [1000, 4000]`, simulated µs): as in Decima
  (Mao et al., SIGCOMM 2019, §5.3), each training episode's length is drawn from an exponential
  distribution whose mean grows linearly from the first to the second value over the same
  iterations (at least `MIN_EPISODE_US`). Short episodes early keep the returns' variance low;
  random lengths keep the policy from learning an end-of-episode effect.
- **Warmed-up starts** (`warm_start_us: W`, `warm_start_teacher: ETF`): before the agent's first
  decision, the teacher heuristic (`soclab.rl.bc.TEACHERS`) schedules the first W µs of the
  episode, so the agent starts in the loaded steady state with jobs in flight rather than in the
  empty-SoC transient it never meets in evaluation. Those W µs are added to the episode's length
  and are the simulation's statistics warm-up (their jobs are not in the episode's metrics).

`schedule(start, end, iteration, ramp)` is the value at an iteration; `Curriculum` holds the
spec's settings and pushes them into every env of an RLlib algorithm (`apply`) between
iterations; the envs (`soclab.rl.env`) take the new values at their next reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dssoc.errors import ConfigError

MIN_EPISODE_US = 200.0  # shortest episode the length curriculum draws (agent part, simulated µs)


def schedule(start: float, end: float, iteration: int, ramp: int) -> float:
    """Linear from `start` (iteration 0) to `end` (iteration `ramp` and later)."""
    if ramp <= 0:
        return float(end)
    frac = min(max(iteration, 0) / ramp, 1.0)
    return float(start) + (float(end) - float(start)) * frac


def _pair(hp: dict[str, Any], key: str) -> tuple[float, float] | None:
    v = hp.get(key)
    if v is None:
        return None
    try:
        a, b = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a pair [start, end] of numbers, got {v!r}",
                          f"hyperparameters.{key}") from None
    if not (a > 0 and b > 0):
        raise ConfigError(f"start and end must be > 0, got {v!r}", f"hyperparameters.{key}")
    return a, b


@dataclass(frozen=True)
class Curriculum:
    """The load and episode-length curricula of a training run (module doc)."""

    load: tuple[float, float] | None = None  # fractions of `saturation`
    saturation: float | None = None  # jobs/ms
    episode: tuple[float, float] | None = None  # mean episode length, µs
    ramp: int = 1

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any], iterations: int) -> Curriculum:
        load, episode = _pair(hp, "load_curriculum"), _pair(hp, "episode_curriculum")
        sat = hp.get("saturation_jobs_per_ms")
        if load is not None and sat is None:
            raise ConfigError("load_curriculum is in fractions of saturation_jobs_per_ms: give it "
                              "(the best heuristic's saturation rate, e.g. from soclab.stats."
                              "saturation_point)", "hyperparameters.saturation_jobs_per_ms")
        if sat is not None and not float(sat) > 0:
            raise ConfigError(f"must be > 0, got {sat!r}", "hyperparameters.saturation_jobs_per_ms")
        ramp = int(hp.get("curriculum_iterations", iterations))
        return cls(load, None if sat is None else float(sat), episode, max(ramp, 0))

    @property
    def active(self) -> bool:
        return self.load is not None or self.episode is not None

    def values(self, iteration: int) -> dict[str, float]:
        """The env settings for training iteration `iteration` (0 = the first one):
        `rate_jobs_per_ms` and / or `episode_mean_us`."""
        out: dict[str, float] = {}
        if self.load is not None and self.saturation is not None:
            out["rate_jobs_per_ms"] = schedule(*self.load, iteration, self.ramp) * self.saturation
        if self.episode is not None:
            out["episode_mean_us"] = schedule(*self.episode, iteration, self.ramp)
        return out

    def env_config(self, env_config: dict[str, Any]) -> dict[str, Any]:
        """The env config with the curriculum's iteration-0 values (what envs start with)."""
        return {**env_config, **self.values(0)}

    def apply(self, algo: Any, iteration: int) -> dict[str, float]:
        """Push `values(iteration)` into every env of every env runner of `algo` (they take
        effect at each env's next reset); returns them."""
        vals = self.values(iteration)
        if vals:
            algo.env_runner_group.foreach_env_runner(lambda er: set_env_values(er.env, vals),
                                                     local_env_runner=True)
        return vals


def set_env_values(vector_env: Any, values: dict[str, float]) -> int:
    """Set curriculum values on every soclab env inside an RLlib env runner's vector env;
    returns how many envs were updated."""
    from soclab.rl.env import soclab_envs

    envs = soclab_envs(vector_env)
    for e in envs:
        e.set_curriculum(**values)
    return len(envs)
