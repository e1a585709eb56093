"""Golden and property tests of the planning heuristics: HEFT, HEFT_RT, PEFT and CPOP.

Golden graphs are built here from the published numbers: the Topcuoglu et al. 2002 example
(HEFT 80, CPOP 86, rank_u of the entry 108) and the Arabnejad & Barbosa 2014 example (PEFT 122,
its optimistic cost table). Both use 3 single-core processors whose mutual bandwidth is 1,
so an edge's communication cost equals its volume, and a processor with itself costs 0.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

import dssoc
from dssoc import Application, Cluster, SchedulerError, SimConfig, SoC, Task, Workload
from dssoc.engine import CompiledApp
from dssoc.noise import parse_noise
from dssoc.schedulers.cpop import plan_cpop
from dssoc.schedulers.heft import plan_heft
from dssoc.schedulers.peft import plan_peft
from dssoc.schedulers.planning import PlanBook
from dssoc.schedulers.ranks import (
    downward_rank,
    mean_exec,
    oct_rank,
    optimistic_cost_table,
    upward_rank,
)

PLANNERS = ("HEFT", "HEFT_RT", "PEFT", "CPOP")

# Topcuoglu, Hariri & Wu 2002, Fig. 2: execution time of tasks n1..n10 on P1..P3, edge costs.
TOP_EXEC = [(14, 16, 9), (13, 19, 18), (11, 13, 19), (13, 8, 17), (12, 13, 10),
            (13, 16, 9), (7, 15, 11), (5, 11, 14), (18, 12, 20), (21, 7, 16)]
TOP_EDGES = {(0, 1): 18, (0, 2): 12, (0, 3): 9, (0, 4): 11, (0, 5): 14, (1, 7): 19,
             (1, 8): 16, (2, 6): 23, (3, 7): 27, (3, 8): 23, (4, 8): 13, (5, 7): 15,
             (6, 9): 17, (7, 9): 11, (8, 9): 13}
TOP_RANK_U = [108.0, 77.0, 80.0, 80.0, 69.0, 63 + 1 / 3, 42 + 2 / 3, 35 + 2 / 3, 44 + 1 / 3,
              14 + 2 / 3]

# Arabnejad & Barbosa 2014, Fig. 1 / Table 1: tasks T1..T10 on P1..P3, edge costs, OCT table.
PEFT_EXEC = [(22, 21, 36), (22, 18, 18), (32, 27, 43), (7, 10, 4), (29, 27, 35),
             (26, 17, 24), (14, 25, 30), (29, 23, 36), (15, 21, 8), (13, 16, 33)]
PEFT_EDGES = {(0, 1): 17, (0, 2): 31, (0, 3): 29, (0, 4): 13, (0, 5): 7, (1, 7): 3,
              (1, 8): 30, (2, 6): 16, (3, 7): 11, (3, 8): 7, (4, 8): 57, (5, 7): 5,
              (6, 9): 9, (7, 9): 42, (8, 9): 7}
PEFT_OCT = [[64, 68, 86], [42, 39, 42], [27, 41, 43], [42, 39, 50], [28, 37, 28],
            [42, 39, 44], [13, 16, 22], [13, 16, 33], [13, 16, 20], [0, 0, 0]]


def dag_problem(name: str, exec_table, edges) -> tuple[Application, SoC]:
    """One application plus an SoC of single-core processors P1..Pk (DS3 bandwidths)."""
    n = len(exec_table)
    preds: list[list[int]] = [[] for _ in range(n)]
    for s, d in sorted(edges):
        preds[d].append(s)
    app = Application(name, tuple(Task(f"{name}_{i + 1}", tuple(preds[i])) for i in range(n)),
                      volumes=dict(edges))
    clusters = tuple(
        Cluster(f"P{p + 1}", "CPU", 1, {f"{name}_{i + 1}": float(row[p]) for i, row in
                                       enumerate(exec_table)})
        for p in range(len(exec_table[0]))
    )
    return app, SoC(name, clusters, self_bandwidth=10000.0, default_bandwidth=1.0)


def one_job(app: Application, soc: SoC) -> SimConfig:
    return SimConfig(soc=soc, workload=Workload(app.name, (app,), (1.0,)), max_jobs=1,
                     duration_us=None)


@pytest.fixture(scope="module")
def top() -> tuple[Application, SoC]:
    return dag_problem("task", TOP_EXEC, TOP_EDGES)


@pytest.fixture(scope="module")
def peft_example() -> tuple[Application, SoC]:
    return dag_problem("T", PEFT_EXEC, PEFT_EDGES)


# ----------------------------------------------------------------------------- ranks
def test_upward_rank_matches_topcuoglu(top):
    app, soc = top
    ca = CompiledApp(0, app, soc)
    np.testing.assert_allclose(upward_rank(ca, ca.exec_pe, soc.pe_bandwidth), TOP_RANK_U)


def test_cpop_priorities_are_constant_on_the_critical_path(top):
    app, soc = top
    ca = CompiledApp(0, app, soc)
    prio = upward_rank(ca, ca.exec_pe, soc.pe_bandwidth) + downward_rank(
        ca, ca.exec_pe, soc.pe_bandwidth)
    # Topcuoglu 2002, section 4.2: the critical path is n1 -> n2 -> n9 -> n10, |CP| = 108.
    assert np.flatnonzero(np.isclose(prio, 108.0)).tolist() == [0, 1, 8, 9]
    assert prio.max() == pytest.approx(108.0)


def test_optimistic_cost_table_matches_arabnejad_barbosa(peft_example):
    app, soc = peft_example
    ca = CompiledApp(0, app, soc)
    table = optimistic_cost_table(ca, ca.exec_pe, soc.pe_bandwidth)
    np.testing.assert_allclose(table, PEFT_OCT)
    np.testing.assert_allclose(oct_rank(table, ca.exec_pe)[0], (64 + 68 + 86) / 3)


def test_ranks_skip_pes_that_cannot_run_a_task():
    # t0 -> t1 (volume 5); t1 cannot run on P1, t0 cannot run on P3.
    app = Application("r", (Task("a"), Task("b", (0,))), volumes={(0, 1): 5})
    soc = SoC("r", (Cluster("P1", "CPU", 1, {"a": 10.0}),
                    Cluster("P2", "CPU", 1, {"a": 20.0, "b": 4.0}),
                    Cluster("P3", "CPU", 1, {"b": 10.0})))
    ca = CompiledApp(0, app, soc)
    bw = soc.pe_bandwidth
    np.testing.assert_allclose(mean_exec(ca.exec_pe), [15.0, 7.0])
    np.testing.assert_allclose(upward_rank(ca, ca.exec_pe, bw), [15.0 + 5.0 + 7.0, 7.0])
    table = optimistic_cost_table(ca, ca.exec_pe, bw)
    # OCT(a, p) = min over the PEs running b of w(b, q) + (5 if q != p else 0).
    np.testing.assert_allclose(table[0], [9.0, 4.0, 9.0])
    assert oct_rank(table, ca.exec_pe)[0] == pytest.approx((9.0 + 4.0) / 2)


# ------------------------------------------------------------------------- plan book
def test_plan_book_inserts_into_gaps_and_rejects_overlaps():
    book = PlanBook(1)
    book.reserve(0, 0.0, 10.0)
    book.reserve(0, 20.0, 30.0)
    assert book.earliest_slot(0, 5.0, 5.0) == 10.0  # fits the gap [10, 20)
    assert book.earliest_slot(0, 12.0, 8.0) == 12.0
    assert book.earliest_slot(0, 5.0, 11.0) == 30.0  # too long for the gap
    assert book.earliest_slot(0, 40.0, 1.0) == 40.0
    with pytest.raises(SchedulerError, match="overlaps"):
        book.reserve(0, 25.0, 35.0)
    book.prune(15.0)
    assert book.earliest_slot(0, 0.0, 10.0) == 0.0  # the interval ending at 10 is forgotten


# ----------------------------------------------------------------- golden makespans
def test_heft_plan_of_the_canonical_graph(top):
    app, soc = top
    plan = plan_heft(CompiledApp(0, app, soc), soc.pe_bandwidth)
    assert plan.makespan == 80
    # Topcuoglu 2002, section 4.1: scheduling order n1, n3, n4, n2, n5, n6, n9, n7, n8, n10.
    assert plan.order == (0, 2, 3, 1, 4, 5, 8, 6, 7, 9)


@pytest.mark.parametrize(
    ("scheduler", "planner", "example", "makespan"),
    [("HEFT", plan_heft, "top", 80), ("CPOP", plan_cpop, "top", 86),
     ("PEFT", plan_peft, "peft_example", 122)],
)
def test_simulated_single_job_follows_the_plan(scheduler, planner, example, makespan, request):
    app, soc = request.getfixturevalue(example)
    plan = planner(CompiledApp(0, app, soc), soc.pe_bandwidth)
    assert plan.makespan == makespan
    result = dssoc.simulate(one_job(app, soc), scheduler=scheduler, seed=0, trace=True)
    assert result.completed_jobs == 1
    assert result.avg_latency_us == makespan
    trace = result.trace().sort_values("task")
    assert trace["pe"].tolist() == list(plan.pe)
    assert trace["start"].tolist() == list(plan.start)


def test_second_job_is_inserted_into_the_first_jobs_plan(top):
    app, soc = top
    ca = CompiledApp(0, app, soc)
    book = PlanBook(soc.n_pes)
    first = plan_heft(ca, soc.pe_bandwidth, book=book)
    second = plan_heft(ca, soc.pe_bandwidth, book=book, now=5.0)
    assert min(second.start) >= 5.0
    assert second.makespan > first.makespan
    for pe in range(soc.n_pes):
        spans = sorted(
            (p.start[i], p.finish[i]) for p in (first, second) for i in range(ca.n) if p.pe[i] == pe
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_heft_rt_takes_ready_tasks_by_mean_execution_time():
    # b (mean 9.5) is listed first, a (mean 55) is longer: HEFT_RT binds a first to the fast
    # PE and b to the slow one (makespan 14); plain EFT in list order would give 15.
    app = Application("rt", (Task("b"), Task("a")))
    soc = SoC("rt", (Cluster("F", "CPU", 1, {"a": 10.0, "b": 5.0}),
                     Cluster("S", "CPU", 1, {"a": 100.0, "b": 14.0})))
    cfg = one_job(app, soc)
    assert dssoc.simulate(cfg, scheduler="HEFT_RT").avg_latency_us == 14
    assert dssoc.simulate(cfg, scheduler="EFT").avg_latency_us == 15


def test_published_numbers_match_the_ds3_fixture(top):
    """The exec table and volumes typed above agree with DS3's job_Top / SoC.Top files."""
    from tests.conftest import ds3_dir

    root = ds3_dir() / "ds3"
    job = (root / "config_Jobs" / "job_Top.txt").read_text()
    volumes = {(int(s), int(d)): int(v)
               for s, d, v in re.findall(r"^comm_vol (\d+) (\d+) (\d+)", job, re.M)}
    assert volumes == TOP_EDGES
    soc_text = (root / "config_SoC" / "SoC.Top.txt").read_text()
    blocks = re.split(r"^add_new_resource", soc_text, flags=re.M)[1:4]
    for p, block in enumerate(blocks):
        times = dict(re.findall(r"^task_(\d+) (\d+)", block, re.M))
        assert [int(times[str(i + 1)]) for i in range(10)] == [row[p] for row in TOP_EXEC]


# --------------------------------------------------------------- stream validity
def random_problem(seed: int) -> tuple[Workload, SoC]:
    """Three random DAGs of 5..12 tasks on big/little cores plus a restricted accelerator."""
    rng = np.random.default_rng(seed)
    kinds = [f"k{i}" for i in range(6)]
    apps = []
    for a in range(3):
        n = int(rng.integers(5, 13))
        tasks, volumes = [], {}
        for i in range(n):
            drawn = rng.integers(0, i, size=rng.integers(0, 3)) if i else []
            preds = sorted({int(p) for p in drawn})
            for p in preds:
                volumes[p, i] = float(rng.integers(0, 400))
            tasks.append(Task(kinds[int(rng.integers(len(kinds)))], tuple(preds)))
        apps.append(Application(f"app{a}", tuple(tasks), volumes=volumes))
    little = {k: float(rng.integers(20, 60)) for k in kinds}
    soc = SoC("rand", (
        Cluster("LITTLE", "LTL", 2, little),
        Cluster("big", "BIG", 2, {k: float(math.ceil(v / 2)) for k, v in little.items()}),
        Cluster("ACC", "ACC", 1, {"k0": 3.0, "k1": 0.0}),
    ), bandwidth={("LITTLE", "big"): 100.0, ("big", "ACC"): 10.0})
    return Workload("rand", tuple(apps), (0.5, 0.3, 0.2)), soc


def assert_valid_schedule(result: dssoc.SimResult, workload: Workload, soc: SoC) -> None:
    """Every task on a PE that supports it, after its inputs arrived, one task at a time per PE."""
    trace = result.trace()
    assert len(trace) > 0
    apps = {a.name: a for a in workload.applications}
    rows = {(r.job, r.task): r for r in trace.itertuples()}
    for r in trace.itertuples():
        cluster = soc.clusters[int(soc.pe_cluster[r.pe])]
        assert r.task_name in cluster.exec_us, f"{r.task_name} on {r.pe_name}"
        app = apps[r.app]
        assert r.start >= r.job_arrival
        for p in app.tasks[r.task].predecessors:
            pred = rows[r.job, p]
            comm = int(app.volume(p, r.task) / soc.pe_bandwidth[pred.pe, r.pe])
            assert r.start >= pred.finish + comm, f"job {r.job} task {r.task} before pred {p}"
    for pe, rows_pe in trace.sort_values(["start", "finish"]).groupby("pe"):
        busy = rows_pe[rows_pe["finish"] > rows_pe["start"]]
        assert (busy["start"].to_numpy()[1:] >= busy["finish"].to_numpy()[:-1]).all(), pe
    jobs = result.jobs()
    per_job = trace.groupby("job").agg(n=("task", "size"), last=("finish", "max"))
    for j in jobs.itertuples():
        assert per_job.loc[j.job, "n"] == len(apps[j.app].tasks)
        assert per_job.loc[j.job, "last"] == j.finish


@pytest.mark.parametrize("noise", [None, "gaussian:0.3"])
@pytest.mark.parametrize("scheduler", PLANNERS)
def test_stream_schedules_are_valid(scheduler, noise):
    workload, soc = random_problem(seed=7)
    cfg = SimConfig(soc=soc, workload=workload, scale_us=40.0, duration_us=4000.0,
                    noise=parse_noise(noise))
    result = dssoc.simulate(cfg, scheduler=scheduler, seed=3, trace=True)
    assert result.completed_jobs > 20
    assert_valid_schedule(result, workload, soc)


def test_planners_are_registered():
    names = {n.upper() for n in dssoc.scheduler_names()}
    assert set(PLANNERS) <= names


def test_a_new_list_planner_is_a_priority_and_a_processor_choice(top):
    """Planners are components: CPOP's priority with PEFT's optimistic-cost choice is a few
    lines on ListPlanner; it plans and simulates like the built-in planners."""
    from dssoc.schedulers.cpop import CPOP, cpop_priorities
    from dssoc.schedulers.peft import PEFT
    from dssoc.schedulers.planning import ListPlanner

    class CpopPriorityOctChoice(ListPlanner):
        def ranking(self, app, pe_bandwidth):
            return cpop_priorities(app, pe_bandwidth)[0], PEFT().ranking(app, pe_bandwidth)[1]

        chooser = PEFT.chooser

    app, soc = top
    ca = CompiledApp(0, app, soc)
    plan = CpopPriorityOctChoice.plan_one(ca, soc.pe_bandwidth)
    cpop = CPOP.plan_one(ca, soc.pe_bandwidth)
    assert plan.order == cpop.order  # same priority, hence the same planning order
    for t in range(ca.n):  # every task starts after its predecessors finish
        assert all(plan.start[t] >= plan.finish[p] for p in ca.preds[t])
    result = dssoc.simulate(one_job(app, soc), scheduler=CpopPriorityOctChoice(), seed=0, trace=True)
    assert result.completed_jobs == 1 and result.avg_latency_us == plan.makespan
