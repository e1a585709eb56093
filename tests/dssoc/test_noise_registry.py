"""A noise model is one module: a class registered with `@noise_model` is parsed from its spec
string wherever noise is given (SimConfig, specs, the CLI) and acts in the engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import dssoc
from dssoc.errors import ConfigError, UnknownNameError
from dssoc.noise import (
    ArrivalNoise,
    ExecNoise,
    expect_args,
    kinds,
    noise_model,
    noise_spec,
    number,
    parse_noise,
    unregister_noise,
)


@dataclass(frozen=True)
class Stretch(ExecNoise):
    """Every task takes `factor` x its expected time (rounded): a test model."""

    factor: float
    name: str = "stretch"

    def apply(self, mu: float, z: float, cluster: int, now: float, pe: int = -1) -> float:
        return float(round(mu * self.factor)) if mu > 0 else mu

    @property
    def spec(self) -> str:
        return f"stretch:{self.factor:g}"

    @classmethod
    def parse(cls, args: list[str], where: str) -> Stretch:
        expect_args(args, 1, 1, "stretch", where)
        return cls(number(args[0], "factor", where))


@dataclass(frozen=True)
class Rush(ArrivalNoise):
    """Arrivals at `factor` x the configured rate, all the time: a test model."""

    factor: float
    name: str = "rush"

    def factor_at(self, t: float) -> float:
        return self.factor

    def next_change(self, t: float) -> float:
        return float("inf")

    @property
    def peak_factor(self) -> float:
        return max(self.factor, 1.0)

    @property
    def spec(self) -> str:
        return f"rush:{self.factor:g}"

    @classmethod
    def parse(cls, args: list[str], where: str) -> Rush:
        expect_args(args, 1, 1, "rush", where)
        return cls(number(args[0], "factor", where))


@pytest.fixture
def registered():
    noise_model("stretch", "stretch:FACTOR (every task FACTOR x longer)")(Stretch)
    noise_model("rush", "rush:FACTOR (arrival rate x FACTOR)")(Rush)
    yield
    unregister_noise("stretch")
    unregister_noise("rush")


def test_a_model_defined_here_is_used_by_its_spec_string(registered) -> None:
    cfg = dssoc.SimConfig.build("wifi-tx-rx", max_jobs=3, duration_us=None,
                                noise="stretch:2+gaussian:0")
    assert cfg.noise == (Stretch(2.0), parse_noise("gaussian:0")[0])
    assert noise_spec(cfg.noise) == "stretch:2+gaussian:0"
    trace = dssoc.simulate(cfg, "ETF", seed=1, trace=True).trace()
    ran = trace.finish - trace.start
    assert (ran == (2 * trace.expected).round()).all(), "every task stretched, nothing else"
    base = dssoc.simulate(dssoc.SimConfig.build("wifi-tx-rx", max_jobs=3, duration_us=None),
                          "ETF", seed=1)
    assert dssoc.simulate(cfg, "ETF", seed=1).avg_latency_us > 1.5 * base.avg_latency_us


def test_an_arrival_model_defined_here_changes_the_arrivals(registered) -> None:
    def injected(noise: str) -> int:
        cfg = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=2, duration_us=20_000,
                                    noise=noise, max_jobs_in_flight=100)
        return dssoc.simulate(cfg, "ETF", seed=0).injected_jobs

    plain, rushed = injected("none"), injected("rush:3")
    assert 2.4 * plain < rushed < 3.6 * plain


def test_errors_name_the_registered_models(registered) -> None:
    with pytest.raises(ConfigError, match="expected stretch:FACTOR"):
        parse_noise("stretch:1:2")
    with pytest.raises(UnknownNameError, match="Did you mean 'stretch'") as e:
        parse_noise("strech:2")
    assert "gaussian" in str(e.value) and "none" in str(e.value)


def test_unregistered_model_is_unknown_and_the_builtins_are_registered() -> None:
    assert {"gaussian", "lognormal", "pareto", "slowdown", "persistent", "correlated",
            "burst"} <= set(kinds())
    with pytest.raises(UnknownNameError):
        parse_noise("stretch:2")
    with pytest.raises(ValueError, match="identifier"):
        noise_model("none", "none")
