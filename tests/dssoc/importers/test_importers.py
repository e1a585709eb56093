"""Importers (WfFormat, WfCommons recipes, STG, DOT) and the mapping of imported workflows onto a
SoC: the DAGs they build (tasks, edges, volumes, execution times after mapping), what they report
as not mapped, malformed files refused with file and line, and valid schedules from every
registered scheduler on imported workflows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dssoc
from dssoc import SimConfig, simulate
from dssoc.errors import ConfigError, UnsupportedTaskError
from dssoc.importers import import_file
from dssoc.mapping import WorkflowMapping, load_mapping
from dssoc.validate import check_schedule
from soclab.cli import app as cli_app
from tests.conftest import TEST_DATA, require_wfcommons, sweepable_schedulers

DATA = TEST_DATA / "workflows"
runner = CliRunner()


def edges(app: dssoc.Application) -> dict[tuple[str, str], float]:
    """{(parent name, child name): volume} of an application."""
    return {(app.tasks[p].name, t.name): app.volume(p, i)
            for i, t in enumerate(app.tasks) for p in t.predecessors}


def exec_table(cfg: SimConfig, app_index: int = 0) -> dict[str, dict[str, float]]:
    """{task name (without the APP/ prefix): {cluster: µs}} of a mapped application."""
    app = cfg.workload.applications[app_index]
    return {t.name.split("/", 1)[1]: {c.name: c.exec_us[t.name] for c in cfg.soc.clusters
                                      if t.name in c.exec_us} for t in app.tasks}


def fixed(name: str = "fixed", **kw: object) -> WorkflowMapping:
    base = {"default": {"A15": 1.0, "A7": 2.5}, "time_scale_us": 10.0, "data_scale": 1.0}
    return WorkflowMapping(name=name, **(base | kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ WfFormat
def test_wfformat_diamond_dag_volumes_and_runtimes_after_mapping() -> None:
    res = import_file(DATA / "diamond_wfformat.json")
    app = res.application
    assert [t.name for t in app.tasks] == ["split_1", "left_2", "right_3", "join_4"]
    assert [t.category for t in app.tasks] == ["split", "left", "right", "join"]
    assert [t.work for t in app.tasks] == [2.0, 4.0, 6.0, 1.0]
    # volume of p -> c = bytes of the files p writes and c reads
    assert edges(app) == {("split_1", "left_2"): 1000.0, ("split_1", "right_3"): 3000.0,
                          ("left_2", "join_4"): 300.0, ("right_3", "join_4"): 0.0}
    joined = "; ".join(res.warnings)
    assert "1 input files" in joined and "outside the DAG" in joined  # raw.dat
    assert "1 dependencies carry no file" in joined  # right -> join
    assert "coreCount" in joined and "memoryInBytes" in joined
    assert res.summary().count("\n") == 0 and "not mapped:" in res.summary()

    cfg = SimConfig.build(DATA / "diamond_wfformat.json", mapping=fixed(data_scale=0.5), max_jobs=1,
                          duration_us=None)
    assert exec_table(cfg) == {"split_1": {"A7": 50.0, "A15": 20.0}, "left_2": {"A7": 100.0, "A15": 40.0},
                               "right_3": {"A7": 150.0, "A15": 60.0}, "join_4": {"A7": 25.0, "A15": 10.0}}
    mapped = cfg.workload.applications[0]
    assert mapped.volume(0, 2) == 1500.0 and mapped.volume(0, 1) == 500.0
    assert cfg.mapping == "fixed,time_scale_us=10,data_scale=0.5"
    assert cfg.workload.notes and "outside the DAG" in cfg.workload.notes[0]
    # one job alone on the SoC: split, then right (60) and left (40) in parallel, then join
    result = simulate(cfg, "HEFT", seed=0, validate=True)
    assert result.completed_jobs == 1
    assert result.avg_latency_us >= 20 + 60 + 10


def test_wfformat_legacy_1_4_layout() -> None:
    app = import_file(DATA / "chain_wfformat14.json").application
    assert [(t.name, t.category, t.work) for t in app.tasks] == [
        ("mProject_ID00001", "mProject", 1.5), ("mAdd_ID00002", "mAdd", 2.5)]
    assert edges(app) == {("mProject_ID00001", "mAdd_ID00002"): 800.0}


def _diamond() -> dict:
    return json.loads((DATA / "diamond_wfformat.json").read_text())


@pytest.mark.parametrize(("mutate", "locator", "message"), [
    (lambda d: d["workflow"]["specification"]["tasks"][2].pop("id"), '"name": "right"',
     "missing required key 'id'"),
    (lambda d: d["workflow"]["specification"]["tasks"][1]["parents"].append("nope"), '"name": "left"',
     "unknown parent 'nope'"),
    (lambda d: d["workflow"]["specification"]["files"][3].update(sizeInBytes=-1), '"id": "c.dat"',
     "'sizeInBytes' must be a finite number >= 0"),
    (lambda d: d["workflow"]["specification"]["tasks"][3]["inputFiles"].append("ghost.dat"),
     '"name": "join"', "names file 'ghost.dat', which workflow.specification.files does not declare"),
    (lambda d: d["workflow"]["execution"]["tasks"][0].update(runtimeInSeconds="2"),
     '"runtimeInSeconds": "2"', "'runtimeInSeconds' must be a number, got str"),
    (lambda d: d.pop("schemaVersion"), None, "missing required key 'schemaVersion'"),
])
def test_wfformat_schema_violations_name_file_and_line(tmp_path: Path, mutate, locator: str | None,
                                                       message: str) -> None:
    doc = _diamond()
    mutate(doc)
    text = json.dumps(doc, indent=1)
    lines = text.splitlines()
    expected = 1
    if locator is not None:  # the line opening the object that holds the locator
        at = next(i for i, ln in enumerate(lines) if locator in ln)
        expected = max(i for i in range(at + 1) if lines[i].rstrip().endswith("{")) + 1
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        import_file(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:{expected}: ")
    assert message in msg


def test_wfformat_invalid_json_and_cycles_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "x", "schemaVersion": "1.5",\n "workflow": {"specification": {\n "tasks": [}}}')
    with pytest.raises(ConfigError, match=rf"{bad}:3: invalid JSON"):
        import_file(bad)
    doc = _diamond()
    doc["workflow"]["specification"]["tasks"][0]["parents"] = ["join_4"]
    cyc = tmp_path / "cycle.json"
    cyc.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="cycle"):
        import_file(cyc)


# ---------------------------------------------------------------------------------- STG
def test_stg_fork_join_with_dummies() -> None:
    res = import_file(DATA / "fork.stg")
    app = res.application
    assert [t.work for t in app.tasks] == [0.0, 10.0, 20.0, 5.0, 0.0]
    assert set(edges(app)) == {("t0", "t1"), ("t0", "t2"), ("t1", "t3"), ("t2", "t3"), ("t3", "t4")}
    assert all(v == 0.0 for v in app.volumes.values())
    assert any("no communication costs" in w for w in res.warnings)
    assert any("3 trailing" in w for w in res.warnings)
    cfg = SimConfig.build(DATA / "fork.stg", soc="Top", mapping="uniform,time_scale_us=3", max_jobs=2,
                          duration_us=None)
    table = exec_table(cfg)
    assert table["t1"] == {"P1": 30.0, "P2": 30.0, "P3": 30.0}
    assert table["t0"] == {"P1": 0.0, "P2": 0.0, "P3": 0.0}  # dummies stay at zero time


def test_stg_without_dummies_and_wrapped_predecessor_lists(tmp_path: Path) -> None:
    p = tmp_path / "plain.stg"
    p.write_text("3\n0 4 0\n1 5 1\n 0\n2 6 2 0 1\n")
    app = import_file(p).application
    assert [t.work for t in app.tasks] == [4.0, 5.0, 6.0]
    assert set(edges(app)) == {("t0", "t1"), ("t0", "t2"), ("t1", "t2")}


@pytest.mark.parametrize(("text", "line", "message"), [
    ("3\n0 0 0\n1 5 1 0\n3 5 1 1\n", 4, "expected 2, got 3"),
    ("2\n0 0 0\n1 x 1 0\n", 3, "processing time of task 1"),
    ("2\n0 0 0\n1 5 1 2\n2 1 1 1\n3 0 1 2\n", 3, "not an earlier task"),
    ("3\n0 0 0\n1 5 1 0\n", 3, "found 2"),
    ("1\n0 3 0\n1 4 1 0\n2 0 1 1\n9\n", 5, "unexpected '9'"),
])
def test_stg_malformed_files_name_file_and_line(tmp_path: Path, text: str, line: int,
                                                message: str) -> None:
    p = tmp_path / "bad.stg"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{p}:{line}: .*{message}"):
        import_file(p)


# ---------------------------------------------------------------------------------- DOT
def test_dot_attributes_defaults_subgraph_edges_and_report() -> None:
    res = import_file(DATA / "pipeline.dot")
    app = res.application
    assert [(t.name, t.category, t.work) for t in app.tasks] == [
        ("src", "fft", 4.0), ("fftA", "fft", 8.0), ("fftB", "fft", 8.5), ("sink", "cpu", 2.0)]
    assert edges(app) == {("src", "fftA"): 100.0, ("src", "fftB"): 100.0, ("fftA", "sink"): 30.0,
                          ("fftB", "sink"): 40.0}
    joined = "; ".join(res.warnings)
    for ignored in ("rankdir", "node.color", "node.label", "node.shape", "edge.style"):
        assert ignored in joined
    # a mapping sending `fft` to the FFT accelerator only and `cpu` to the A15s
    m = WorkflowMapping("acc", {"fft": {"FFT": 0.5}, "cpu": {"A15": 1.0}}, None, 2.0, 1.0)
    cfg = SimConfig.build(DATA / "pipeline.dot", mapping=m, max_jobs=1, duration_us=None)
    assert exec_table(cfg) == {"src": {"FFT": 4.0}, "fftA": {"FFT": 8.0}, "fftB": {"FFT": 8.0},
                               "sink": {"A15": 4.0}}  # 8.5 * 2 * 0.5 = 8.5 -> 8 (whole µs)
    result = simulate(cfg, "ETF", seed=0, validate=True)
    assert result.completed_jobs == 1


@pytest.mark.parametrize(("text", "line", "message"), [
    ("graph g { a -- b }", 1, "undirected"),
    ("digraph g {\n a -> b\n b -> a\n}", 1, "cycle"),
    ("digraph g {\n a -> \n}\n", 3, "expected 'id'"),
    ("digraph g {\n a [work=-2]\n}", 2, "must be >= 0"),
    ("digraph g {\n a -> a\n}", 2, "self-loop"),
    ("digraph g {\n a ; @ \n}", 2, "unexpected character '@'"),
])
def test_dot_malformed_files_name_file_and_line(tmp_path: Path, text: str, line: int,
                                                message: str) -> None:
    p = tmp_path / "bad.dot"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        import_file(p)
    assert message in str(e.value)
    if message != "cycle":
        assert str(e.value).startswith(f"{p}:{line}:")
    else:
        assert str(e.value).startswith(f"{p}:")


def test_dot_chains_quoted_ids_comments_and_ports(tmp_path: Path) -> None:
    p = tmp_path / "g.gv"
    p.write_text('# a comment\nstrict digraph { "a b":n -> c -> d [weight=7]; c [time=3] // x\n}\n')
    app = import_file(p).application
    assert edges(app) == {("a b", "c"): 7.0, ("c", "d"): 7.0}
    assert app.tasks[1].work == 3.0 and app.tasks[0].work == 0.0


# -------------------------------------------------------------------------------- mapping
def test_default_mapping_big_little_and_accelerators() -> None:
    m = load_mapping("big-little")
    soc = dssoc.load_soc("MULTIPLE_BAL")
    names = [c.name for c in soc.clusters]
    by_name = lambda f: {names[c]: v for c, v in f.items()}  # noqa: E731
    assert by_name(m.factors("anything", soc)) == {"A15": 1.0, "A7": 2.5}
    assert by_name(m.factors("sG1IterDecon", soc)) == {"A15": 1.0, "A7": 2.5, "FFT": 0.25}
    assert by_name(m.factors("mProject", soc)) == {"A15": 1.0, "A7": 2.5, "MM": 0.4}
    # on BAL_only the accelerator columns simply match nothing
    assert len(m.factors("mProject", dssoc.load_soc("BAL_only"))) == 2


def test_auto_scales_hit_their_targets_and_are_recorded() -> None:
    cfg = SimConfig.build(DATA / "diamond_wfformat.json", max_jobs=1, duration_us=None)
    # mean work 3.25 s -> 50 µs; mean non-zero volume (1000+3000+300)/3 -> 1000
    ts, ds = 50 / 3.25, 1000 / (4300 / 3)
    assert cfg.mapping == f"big-little,time_scale_us={ts:.6g},data_scale={ds:.6g}"
    assert exec_table(cfg)["right_3"]["A15"] == round(6 * ts)
    # the recorded spec reproduces the configuration
    again = SimConfig.build(DATA / "diamond_wfformat.json", mapping=cfg.mapping, max_jobs=1,
                            duration_us=None)
    assert exec_table(again) == exec_table(cfg)


def test_mapping_that_leaves_a_task_without_pe_is_refused() -> None:
    m = WorkflowMapping("partial", {"split": {"A15": 1.0}}, None, 1.0, 1.0)
    with pytest.raises(UnsupportedTaskError, match=r"task 'left_2' \(category 'left'\).*no row for it"):
        SimConfig.build(DATA / "diamond_wfformat.json", mapping=m, max_jobs=1, duration_us=None)
    only_fft = WorkflowMapping("fft-only", {}, {"FFT": 1.0}, 1.0, 1.0)
    with pytest.raises(UnsupportedTaskError, match="names none of the SoC's clusters"):
        SimConfig.build(DATA / "diamond_wfformat.json", soc="BAL_only", mapping=only_fft, max_jobs=1,
                        duration_us=None)
    with pytest.raises(ConfigError, match=r"unknown mapping 'big-littel'\. Did you mean 'big-little'"):
        load_mapping("big-littel")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_mapping("uniform,speed=2")


def test_unmapped_workflow_is_refused_by_the_plain_constructor() -> None:
    wl = dssoc.load_workload(DATA / "fork.stg")
    with pytest.raises(ConfigError, match=r"imported workflow: build the config with SimConfig\.build"):
        SimConfig(soc=dssoc.load_soc("Top"), workload=wl)


# ---------------------------------------------------------- every scheduler, imported DAGs
@pytest.mark.parametrize("source", ["diamond_wfformat.json", "fork.stg", "pipeline.dot", "wf-cycles"])
def test_every_scheduler_gives_a_valid_schedule_on_imported_workflows(source: str) -> None:
    ref = DATA / source if "." in source else source
    cfg = SimConfig.build(ref, rate_jobs_per_ms=2.0 if "." in source else 0.6, duration_us=6000,
                          noise="gaussian:0.2")
    for name in sweepable_schedulers():  # each under the binding it is written for
        result = simulate(cfg.replace(binding=dssoc.scheduler_binding(name)), name, seed=4, trace=True)
        assert check_schedule(result, cfg) == [], name
        assert result.completed_jobs >= 1, name


def test_shipped_workflow_presets_are_three_families_of_small_jobs() -> None:
    apps = [a for a in dssoc.builtin_names("apps") if a.startswith("wf_")]
    assert {a.split("_")[1] for a in apps} >= {"montage", "epigenomics", "cycles"}
    for name in apps:
        app = dssoc.load_application(name)
        assert 30 <= len(app.tasks) <= 100, name
        assert all(t.work is not None and t.category for t in app.tasks)
    cfg = SimConfig.build("wf-mix", rate_jobs_per_ms=1.0, duration_us=5000)
    assert cfg.mapping.startswith("big-little,")
    assert len(cfg.workload.applications) == len(apps)


# ------------------------------------------------------------------------------- WfCommons
def test_wfcommons_recipe_instance_is_seeded_and_mapped() -> None:
    require_wfcommons()
    from dssoc.importers.wfcommons import recipe_instance

    a = recipe_instance("wfcommons:epigenomics:45", seed=3)
    b = recipe_instance("wfcommons:epigenomics:45:3")
    c = recipe_instance("wfcommons:epigenomics:45", seed=4)
    assert a.application == b.application
    assert a.application != c.application
    app = a.application
    assert 30 <= len(app.tasks) <= 45
    cats = {t.category for t in app.tasks}
    assert {"fastqSplit", "map"} <= cats
    assert all(t.work is not None and t.work >= 0 for t in app.tasks)
    assert sum(app.volumes.values()) > 0 and any("outside the DAG" in w for w in a.warnings)
    # the same string through SimConfig.build, seeded like --seed
    cfg = SimConfig.build("wfcommons:epigenomics:45", workload_seed=3, rate_jobs_per_ms=0.5,
                          duration_us=8000)
    assert len(cfg.workload.applications[0].tasks) == len(app.tasks)
    assert check_schedule(simulate(cfg, "HEFT", seed=3, trace=True), cfg) == []
    # below a recipe's smallest measured graph WfChef cannot build: the error says how far down
    with pytest.raises(ConfigError, match=r"smallest montage graph WfChef can build has 60 tasks"):
        recipe_instance("wfcommons:montage:50")


def test_wfcommons_bad_strings_are_one_line_errors() -> None:
    result = runner.invoke(cli_app, ["simulate", "--workload", "wfcommons:montgomery:50"])
    assert result.exit_code == 2
    assert "unknown WfCommons recipe 'montgomery'. Did you mean 'montage'" in result.stderr
    result = runner.invoke(cli_app, ["simulate", "--workload", "wfcommons:montage:x"])
    assert result.exit_code == 2 and "TASKS and SEED must be integers" in result.stderr


def test_cli_imports_a_graph_file_and_reports_what_it_did_not_map() -> None:
    result = runner.invoke(cli_app, ["simulate", "--workload", str(DATA / "pipeline.dot"), "--max-jobs",
                                     "2", "--mapping", "uniform", "--validate", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["completed_jobs"] == 2 and out["config"]["mapping"].startswith("uniform,")
    assert "note: " in result.stderr and "ignored attributes" in result.stderr
    bad = runner.invoke(cli_app, ["simulate", "--workload", str(DATA / "fork.stg"), "--soc", "Top",
                                  "--mapping", "big-little"])
    assert bad.exit_code == 2
    assert "would run on no PE of SoC 'Top'" in bad.stderr and "Traceback" not in bad.output


# ------------------------------------------------------------------------- specs and cells
def test_spec_cells_generate_one_instance_per_seed_and_keep_old_hashes() -> None:
    require_wfcommons()
    from soclab.cells import plan_cells
    from soclab.spec import spec_from_dict

    base = {"name": "w", "agents": [{"name": "ETF"}], "axes": {"seeds": [1, 2]},
            "simulation": {"workload": "wfcommons:cycles:70", "duration_us": 4000, "warmup_us": 0}}
    cell = plan_cells(spec_from_dict(base))[0]
    one, two = cell.sim_config(1), cell.sim_config(2)
    assert one.workload.applications[0].name == "cycles-70-s1"
    assert two.workload.applications[0].name == "cycles-70-s2"
    assert cell.sim_config().fingerprint() == one.fingerprint()  # the first seed's instance
    # unset new keys stay out of the cell's simulation settings (old specs keep their hashes)
    assert "arrivals" not in cell.settings and "mapping" not in cell.settings
    mapped = plan_cells(spec_from_dict(base | {"simulation": base["simulation"] | {
        "mapping": "big-little,time_scale_us=1", "arrivals": "diurnal:0.5:2000"}}))[0]
    cfg = mapped.sim_config(1)
    assert cfg.mapping.startswith("big-little,time_scale_us=1,")
    assert cfg.summary()["arrivals"] == "diurnal:0.5:2000"
    assert mapped.hash != cell.hash
