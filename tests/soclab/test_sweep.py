"""The product's main job end to end: a tiny sweep on the shared Ray session, tracked in a
temporary SQLite MLflow store; resume; failures retried and reported without stopping others."""

from __future__ import annotations

import io
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from soclab.cells import plan_cells
from soclab.cli import app
from soclab.spec import load_spec
from soclab.sweep import run_sweep
from soclab.tracking import Tracker

pytestmark = pytest.mark.ray

TINY = """
name: {name}
simulation: {{workload: wifi-tx-rx, duration_us: 3000, warmup_us: 500}}
agents:
{agents}
axes: {{noise: [none], rates_jobs_per_ms: [2, 6], seeds: [0, 1]}}
baselines: [ETF]
tune: {{max_concurrent_trials: 2, retries: 1}}
report: {{gantt_window_us: 500}}
"""


def write_spec(tmp_path: Path, name: str, agents: list[str]) -> Path:
    lines = "\n".join(f"  - {{name: {a.split('=')[0]}"
                      + (f", scheduler: '{a.split('=')[1]}'" if "=" in a else "") + "}"
                      for a in agents)
    path = tmp_path / f"{name}.yaml"
    path.write_text(TINY.format(name=name, agents=lines))
    return path


def runs_of(uri: str, experiment: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def test_tiny_sweep_tracks_parent_children_params_metrics_artifacts(ray_session, tmp_path):
    spec_path = write_spec(tmp_path, "tiny", ["MET", "HEFT"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = run_sweep(spec_path, tracking_uri=uri, output_dir=tmp_path / "out",
                        show_progress=False)
    spec = load_spec(spec_path)
    cells = plan_cells(spec)
    assert len(cells) == 6  # (MET, HEFT, baseline ETF) x 2 rates
    assert (summary.finished, summary.failed, summary.missing) == (6, 0, 0)

    runs = runs_of(uri, spec.experiment_name)
    parents = runs[runs["tags.soclab.kind"] == "sweep"]
    children = runs[runs["tags.soclab.kind"] == "cell"]
    assert len(parents) == 1 and parents.iloc[0].status == "FINISHED"
    assert "tags.git_commit" in runs.columns and "tags.version.ray" in runs.columns
    assert len(children) == 6 and set(children.status) == {"FINISHED"}
    assert set(children["tags.mlflow.parentRunId"]) == {parents.iloc[0].run_id}
    assert set(children["params.agent"]) == {"MET", "HEFT", "ETF"}
    assert set(children["params.rate_jobs_per_ms"]) == {"2", "6"}  # as written in the spec
    assert set(children["params.seeds"]) == {"0,1"}
    assert set(children["params.cell_hash"]) == {c.hash for c in cells}
    for col in ("latency.avg_us", "latency.avg_us.ci_low", "latency.avg_us.ci_high",
                "latency.p95_us", "throughput.jobs_per_ms", "energy.total_j",
                "energy.edp_js", "latency.slowdown", "vs_ETF.latency_ratio"):
        assert children[f"metrics.{col}"].notna().all(), col
    assert (children["metrics.latency.avg_us.ci_low"] <= children["metrics.latency.avg_us"]).all()
    etf = children[children["params.agent"] == "ETF"]
    assert (etf["metrics.vs_ETF.latency_ratio"] == 1.0).all()

    tracker = Tracker(uri, spec.experiment_name)
    child = children.iloc[0].run_id
    names = {a.path for a in tracker.client.list_artifacts(child)}
    assert {"results.parquet", "config.json", "gantt.png"} <= names
    per_seed = pd.read_parquet(tracker.download(child, "results.parquet", tmp_path / "dl"))
    assert sorted(per_seed.seed) == [0, 1]
    report_files = {a.path for a in tracker.client.list_artifacts(parents.iloc[0].run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/latency_vs_load.png"} <= report_files
    assert summary.report_path is not None and summary.report_path.is_file()
    md = (summary.report_path.parent / "report.md").read_text()
    assert md.index("## Summary") < md.index("## Figures") < md.index("Compared with ETF")

    # The CLI reads the same ledger: `soclab runs` lists the cells, `soclab report` rebuilds.
    cli = CliRunner()
    listed = cli.invoke(app, ["runs", str(spec_path), "--tracking-uri", uri, "--csv"])
    assert listed.exit_code == 0, listed.output
    table = pd.read_csv(io.StringIO(listed.stdout))
    assert len(table) == 6 and set(table.agent) == {"MET", "HEFT", "ETF"}
    assert table.ratio_to_ETF.notna().all()
    rebuilt = cli.invoke(app, ["report", str(spec_path), "--tracking-uri", uri,
                               "--output-dir", str(tmp_path / "again")])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (tmp_path / "again" / "tiny" / "report" / "report.html").is_file()


def test_rerun_resumes_only_missing_cells(ray_session, tmp_path):
    spec_path = write_spec(tmp_path, "resume", ["MET"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = run_sweep(spec_path, tracking_uri=uri, output_dir=tmp_path / "out",
                      show_progress=False, make_report=False)
    assert first.finished == 4
    spec = load_spec(spec_path)
    tracker = Tracker(uri, spec.experiment_name)
    # Simulate an interruption that lost two cells: delete their runs.
    lost = sorted(tracker.cell_runs().items())[:2]
    for _, run in lost:
        tracker.client.delete_run(run.info.run_id)
    second = run_sweep(spec_path, tracking_uri=uri, output_dir=tmp_path / "out",
                       show_progress=False, make_report=False)
    assert (second.skipped, second.finished, second.failed) == (2, 2, 0)
    runs = runs_of(uri, spec.experiment_name)
    cells = runs[(runs["tags.soclab.kind"] == "cell") & (runs.status == "FINISHED")]
    assert cells["tags.soclab.cell_hash"].value_counts().max() == 1, "no duplicated cell"
    assert len(cells) == 4
    parents_before = (runs_of(uri, spec.experiment_name)["tags.soclab.kind"] == "sweep").sum()
    third = run_sweep(spec_path, tracking_uri=uri, output_dir=tmp_path / "out",
                      show_progress=False, make_report=False)
    assert (third.skipped, third.finished) == (4, 0) and third.nothing_to_run
    after = runs_of(uri, spec.experiment_name)
    assert (after["tags.soclab.kind"] == "sweep").sum() == parents_before, "no empty parent run"


def test_failing_cells_are_retried_and_reported_without_stopping_others(ray_session, tmp_path):
    spec_path = write_spec(tmp_path, "faults", ["flaky=soclab.testing:FlakyScheduler",
                                                "broken=soclab.testing:BrokenScheduler"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = run_sweep(spec_path, tracking_uri=uri, output_dir=tmp_path / "out",
                        show_progress=False)
    assert summary.failed == 2  # broken x 2 rates
    assert summary.finished == 4  # flaky x 2 (after a retry) + ETF x 2
    assert all("injected permanent failure" in err for _, err in summary.failures)
    runs = runs_of(uri, load_spec(spec_path).experiment_name)
    cells = runs[runs["tags.soclab.kind"] == "cell"]
    broken = cells[cells["params.agent"] == "broken"]
    assert set(broken.status) == {"FAILED"}
    assert broken["tags.soclab.error"].str.contains("InjectedFailure").all()
    flaky = cells[cells["params.agent"] == "flaky"]
    assert set(flaky.status) == {"FINISHED"}
    assert flaky["metrics.run.attempts"].max() == 2, "the transient failure was retried"
