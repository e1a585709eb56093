"""Late binding, live system state and the live/late heuristics, through dssoc's public interface.

Early binding is the default and must stay DS3's (the fidelity and golden tests cover it); here:
the binding option and its errors, late binding's invariants (binds only to free PEs, never idles
a PE whose bound task could run, decision points exactly where a free PE can run a ready task),
the live-state fields on a hand-computed case, and the new schedulers on the validator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dssoc
from dssoc import Application, Cluster, SchedulerError, SimConfig, SoC, Task, Workload, simulate
from dssoc.schedulers import Scheduler
from dssoc.validate import check_schedule

LATE = ("late-ETF", "late-CP", "late-MET", "late-HEFT_RT")

# Chain a -> b -> c on two single-PE clusters: b is faster on B, A<->B bandwidth 5 (as in
# test_simulator): a 3 on A; b 7 on A or 2 on B; c 4 on A. Best-time rank: a 9, b 6, c 4.
CHAIN = Application("chain", (Task("a"), Task("b", (0,)), Task("c", (1,))),
                    volumes={(0, 1): 12.0, (1, 2): 8.0})
SOC = SoC("hand", (Cluster("A", "CPU", 1, {"a": 3.0, "b": 7.0, "c": 4.0}),
                   Cluster("B", "CPU", 1, {"b": 2.0})),
          {("A", "B"): 5.0}, self_bandwidth=10000.0, default_bandwidth=1.0)


def chain_config(**kw) -> SimConfig:
    """Three chain jobs arriving at t = 0, 1, 2 (fixed rate), no DS3 tick delays."""
    kw.setdefault("binding", "early")
    return SimConfig(soc=SOC, workload=Workload("chain", (CHAIN,), (1.0,)), scale_us=1.0,
                     fixed_rate=True, max_jobs=3, duration_us=None, ds3_event_order=False, **kw)


class Recorder(Scheduler):
    """Wraps a scheduler and snapshots the live state at every call."""

    def __init__(self, inner: str, binding: str) -> None:
        self.inner = dssoc.make_scheduler(inner)
        self.binding = binding  # type: ignore[misc]
        self.calls: list[dict] = []

    def reset(self, system, rng) -> None:
        self.inner.reset(system, rng)

    def schedule(self, ready, system):
        jobs = {j.id: j for j in system.active_jobs.values()}
        self.calls.append({
            "now": system.now,
            "ready": sorted((t.job.id, t.name) for t in ready),
            "free": system.pe_free().tolist(),
            "elapsed": system.pe_elapsed().tolist(),
            "remaining": system.pe_expected_remaining().tolist(),
            "queued": system.pe_queued_work().tolist(),
            "available": system.pe_live_available().tolist(),
            "running": [None if r is None else (r.job.id, r.name) for r in system.pe_running_tasks()],
            "cp": system.jobs_remaining_critical_path(),
            "age": {i: system.job_age(j) for i, j in jobs.items()},
            "done": {i: system.job_tasks_done(j) for i, j in jobs.items()},
            "data_ready": {(t.job.id, t.name): system.data_ready_times(t).tolist() for t in ready},
            "decision": system.has_decision(),
        })
        return self.inner.schedule(ready, system)


# ------------------------------------------------------------------------ the option
def test_binding_defaults_to_early_and_keeps_fingerprints() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=4000)
    assert cfg.binding == "early" and "binding" not in cfg.summary()
    assert cfg.fingerprint() == cfg.replace(binding="early").fingerprint()
    late = cfg.replace(binding="late")
    assert late.summary()["binding"] == "late" and late.fingerprint() != cfg.fingerprint()
    a = simulate(cfg, "ETF", seed=2, trace=True)
    b = simulate(cfg.replace(binding="early"), "ETF", seed=2, trace=True)
    pd.testing.assert_frame_equal(a.trace(), b.trace())


def test_bad_binding_is_a_config_error() -> None:
    with pytest.raises(dssoc.ConfigError, match=r"config\.binding.*'sideways'"):
        SimConfig.build("wifi-tx-rx", binding="sideways")


@pytest.mark.parametrize(("scheduler", "binding"), [("ETF", "late"), ("HEFT", "late"),
                                                    ("late-ETF", "early"), ("late-CP", "early")])
def test_scheduler_under_the_other_binding_is_refused_naming_both(scheduler: str, binding: str) -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=2000, binding=binding)
    needs = "early" if binding == "late" else "late"
    expected = f"'{scheduler}' needs binding '{needs}'.*uses binding '{binding}'"
    with pytest.raises(SchedulerError, match=expected):
        simulate(cfg, scheduler)


def test_scheduler_binding_lookup() -> None:
    assert dssoc.scheduler_binding("late-etf") == "late"
    assert dssoc.scheduler_binding("ETF-live") == "early"
    assert dssoc.scheduler_binding("HEFT") == "early"
    assert set(LATE) | {"ETF-live"} <= set(dssoc.scheduler_names())


# ---------------------------------------------------------------- late invariants
class Idle(Scheduler):
    binding = "late"

    def schedule(self, ready, system):
        return []


class Greedy(Scheduler):
    """Binds every ready task it can to any PE, free or not (late binding must refuse)."""

    binding = "late"

    def schedule(self, ready, system):
        return [(t, int(np.argmin(system.exec_times(t)))) for t in ready]


def test_late_binding_refuses_a_busy_pe_and_a_scheduler_that_never_binds() -> None:
    cfg = chain_config(binding="late")
    with pytest.raises(SchedulerError, match="not free"):
        simulate(cfg, Greedy())
    with pytest.raises(SchedulerError, match="left unbound with nothing running"):
        simulate(cfg, Idle())


@pytest.mark.parametrize("noise", ["none", "gaussian:0.3+persistent:pe:3:500:2000"])
@pytest.mark.parametrize("workload", ["wifi-tx-rx", "synthetic-top", "ds3-mix6"])
@pytest.mark.parametrize("scheduler", LATE)
def test_late_schedules_bind_free_pes_only_and_never_idle_bound_work(
        scheduler: str, workload: str, noise: str) -> None:
    cfg = SimConfig.build(workload, rate_jobs_per_ms=8, duration_us=3000, warmup_us=300,
                          noise=noise, binding="late")
    r = simulate(cfg, scheduler, seed=4, trace=True)
    assert r.completed_jobs > 5
    assert check_schedule(r, cfg) == []
    tr = r.trace()
    # a bound task starts the moment its data is on its (free) PE: no idling with runnable work
    np.testing.assert_array_equal(tr.start, np.maximum(tr.bound, tr.data_ready))
    # binding only to free PEs: per PE, [bound, finish) intervals never overlap
    for _, g in tr.sort_values("bound").groupby("pe"):
        assert (g.bound.to_numpy()[1:] >= g.finish.to_numpy()[:-1]).all()


def test_late_decision_points_are_exactly_where_a_free_pe_can_run_a_ready_task() -> None:
    rec = Recorder("late-ETF", "late")
    r = simulate(chain_config(binding="late"), rec, trace=True)
    assert r.completed_jobs == 3 and all(c["decision"] for c in rec.calls)
    # t=0: job 0's a; t=1, 2: only A can run a and it is busy, so no call until a ends at 3
    assert [c["now"] for c in rec.calls][:2] == [0.0, 3.0]
    c = rec.calls[1]
    assert c["ready"] == [(0, "b"), (1, "a"), (2, "a")]
    assert c["data_ready"][(0, "b")] == [3.0, 5.0]  # A: 3 + trunc(12/10000); B: 3 + 12/5
    assert c["data_ready"][(1, "a")] == [3.0, 3.0]  # no inputs: ready now
    assert c["cp"] == {0: 6.0, 1: 9.0, 2: 9.0}
    assert c["age"] == {0: 3.0, 1: 2.0, 2: 1.0} and c["done"] == {0: 1, 1: 0, 2: 0}


# ------------------------------------------------------------------ live state by hand
def test_live_state_fields_on_a_hand_computed_case() -> None:
    """Early binding with ETF, three chain jobs at t = 0, 1, 2. At t = 2: job 0's a runs on A
    (started 0, expected 3), job 1's a is bound to A and waits, B idles."""
    rec = Recorder("ETF", "early")
    simulate(chain_config(), rec)
    c = next(c for c in rec.calls if c["now"] == 2.0)
    assert c["running"] == [(0, "a"), None]
    assert c["elapsed"] == [2.0, 0.0] and c["remaining"] == [1.0, 0.0]
    assert c["queued"] == [3.0, 0.0]
    assert c["available"] == [6.0, 2.0]  # A: running ends 3, then job 1's a (3); B free now
    assert c["free"] == [False, True]
    # remaining critical path: job 0 = 1 left of a + b 2 + c 4; jobs 1, 2: a 3 + 2 + 4
    assert c["cp"] == {0: 7.0, 1: 9.0, 2: 9.0}
    assert c["age"] == {0: 2.0, 1: 1.0, 2: 0.0} and c["done"] == {0: 0, 1: 0, 2: 0}
    assert not c["decision"]  # B is free but cannot run a: not a late decision point
    # t = 3: a finished at 3, b of job 0 ready: A busy with job 1's a (started 3)
    c3 = next(c for c in rec.calls if c["now"] == 3.0)
    assert c3["data_ready"][(0, "b")] == [3.0, 5.0]


def test_expected_remaining_is_zero_once_a_task_overruns() -> None:
    """With a 3x slowdown on A, job 0's a (expected 3) is still running at 4."""
    rec = Recorder("ETF", "early")
    cfg = chain_config(noise=dssoc.parse_noise("slowdown:A:3"))
    simulate(cfg, rec)
    late_calls = [c for c in rec.calls if c["running"][0] == (0, "a") and c["now"] > 3]
    assert all(c["remaining"][0] == 0.0 for c in late_calls)


# ------------------------------------------------------------------------ heuristics
def test_etf_live_equals_etf_without_noise_on_a_single_job() -> None:
    cfg = SimConfig.build("wifi_rx", max_jobs=1, duration_us=None)
    assert simulate(cfg, "ETF-live").avg_latency_us == simulate(cfg, "ETF").avg_latency_us == 301.0


def test_etf_live_corrects_stale_availability_under_a_persistent_slowdown() -> None:
    cfg = SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=8, duration_us=10_000, warmup_us=1000,
                          noise="persistent:pe:3:1000:4000", energy=False)
    etf = np.mean([simulate(cfg, "ETF", seed=s).avg_latency_us for s in range(3)])
    live = np.mean([simulate(cfg, "ETF-live", seed=s).avg_latency_us for s in range(3)])
    assert live < 0.8 * etf


def test_late_met_waits_for_its_fastest_pe() -> None:
    """Chain: b's fastest PE is B (2 vs 7 on A); late-MET binds it there even when A is free."""
    r = simulate(chain_config(binding="late"), "late-MET", trace=True)
    tr = r.trace()
    assert set(tr[tr.task_name == "b"].pe_name) == {"B.0"}


@pytest.mark.parametrize("scheduler", (*LATE, "ETF-live"))
def test_new_schedulers_are_deterministic(scheduler: str) -> None:
    cfg = SimConfig.build("wifi-rx-tx", rate_jobs_per_ms=6, duration_us=4000, noise="gaussian:0.3",
                          binding=dssoc.scheduler_binding(scheduler))
    a = simulate(cfg, scheduler, seed=9, trace=True)
    b = simulate(cfg, scheduler, seed=9, trace=True)
    pd.testing.assert_frame_equal(a.trace(), b.trace())


# ---------------------------------------------------------------------------- specs
def test_spec_key_binding_reaches_the_cells_and_checks_the_agents() -> None:
    from soclab.cells import plan_cells
    from soclab.spec import SpecError, spec_from_dict

    doc = {"name": "late", "simulation": {"binding": "late", "duration_us": 3000, "warmup_us": 300},
           "agents": [{"name": "late-ETF"}, {"name": "late-CP"}], "baselines": ["late-ETF"]}
    cells = plan_cells(spec_from_dict(doc))
    assert {c.sim_config().binding for c in cells} == {"late"}
    assert all(c.key["simulation"]["binding"] == "late" for c in cells)
    early = plan_cells(spec_from_dict({**doc, "simulation": {"duration_us": 3000, "warmup_us": 300},
                                       "agents": [{"name": "ETF"}], "baselines": ["HEFT"]}))
    assert all("binding" not in c.key["simulation"] and c.sim_config().binding == "early" for c in early)
    with pytest.raises(SpecError, match=r"ETF.*needs binding 'early'.*simulation\.binding is 'late'"):
        spec_from_dict({**doc, "baselines": ["ETF"]})


# ------------------------------------------------------------------------------ CLI
def test_cli_binding_option() -> None:
    import json

    from typer.testing import CliRunner

    from soclab.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["simulate", "--scheduler", "late-ETF", "--binding", "late",
                             "--duration", "3000", "--validate", "--json"])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["config"]["binding"] == "late" and out["completed_jobs"] > 10 and out["valid"]
    for args, fragment in ((["--scheduler", "late-ETF"], "needs binding 'late'"),
                           (["--scheduler", "ETF", "--binding", "late"], "needs binding 'early'"),
                           (["--binding", "sideways"], "config.binding")):
        bad = runner.invoke(app, ["simulate", "--duration", "2000", *args])
        assert bad.exit_code == 2 and "Traceback" not in bad.output
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], bad.stderr
