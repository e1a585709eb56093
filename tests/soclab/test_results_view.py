"""What a researcher sees: the HTML report in a real browser, the MLflow UI's view of the runs
(through a real `mlflow server` on loopback), `soclab runs` at 80 columns, and CLI conventions.

One tiny sweep (random + ETF, two noise levels, two rates, two seeds) is shared by the module.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest
from typer.testing import CliRunner

from soclab.cli import app

SPEC = """
name: view
description: A tiny sweep for the results-view tests.
simulation: {workload: wifi-tx-rx, duration_us: 3000, warmup_us: 500}
agents:
  - {name: random}
axes: {noise: [none, "gaussian:0.2"], rates_jobs_per_ms: [2, 6], seeds: [0, 1]}
baselines: [ETF]
tune: {max_concurrent_trials: 2}
"""

cli = CliRunner()


@pytest.fixture(scope="module")
def swept(ray_session, tmp_path_factory):
    """(spec path, tracking URI, summary) of the module's tiny sweep."""
    from soclab.sweep import run_sweep

    tmp = tmp_path_factory.mktemp("view")
    spec = tmp / "view.yaml"
    spec.write_text(SPEC)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    summary = run_sweep(spec, tracking_uri=uri, output_dir=tmp / "out", show_progress=False)
    assert (summary.finished, summary.failed) == (8, 0), summary.failures
    return spec, uri, summary


# ------------------------------------------------------------------ the report in a browser
@pytest.mark.ray
def test_html_report_renders_summary_first_and_every_figure_in_chromium(swept):
    from soclab.browser import find_chromium, inspect_page

    if find_chromium() is None:
        if os.environ.get("SOCLAB_REQUIRE_SERVICES"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium) - cannot render the report")
    _, _, summary = swept
    page = inspect_page(summary.report_path)
    heads = page["headings"]
    assert heads[1] == "Summary", heads  # right after the title
    assert heads.index("Summary") < heads.index("Figures") < heads.index("Detailed tables")
    assert page["tables"][0] == 1 + 4, "summary: header + one row per (noise, rate)"
    alts = [alt for alt, _, _ in page["images"]]
    # every run has energy, so the latency-energy trade-off follows the latency figures; the
    # workload has no deadlines, so no deadline-miss figure
    assert alts == ["latency_vs_load", "ratio_to_ETF", "robustness", "latency_energy", "gantt_ETF"], alts
    for alt, w, h in page["images"]:
        assert w > 300 and h > 200, f"figure {alt} did not render ({w}x{h})"
    html = summary.report_path.read_text()
    assert "`" not in html.split("<body>")[1], "Markdown code spans are rendered, not literal"


@pytest.mark.ray
def test_report_markdown_formats_numbers_per_metric(swept):
    _, _, summary = swept
    md = (summary.report_path.parent / "report.md").read_text()
    summary_table = md.split("## Summary")[1].split("## Figures")[0]
    assert "| none | 2 | **random** |" in summary_table
    assert "▲" in summary_table, "random is reliably slower than ETF: the CI marker is shown"
    assert "energy (mJ)" in md and "95% CI" in md
    assert "far-off" not in md.split("## Detailed")[1]


def test_robustness_needs_two_noise_levels_and_outliers_are_apart(tmp_path):
    """Figures without Ray, from a synthetic per-seed frame: one noise level gives no
    robustness plot; an agent 10x slower is drawn apart; hide_agents leaves it out."""
    import numpy as np
    import pandas as pd

    from soclab.report import write_report
    from soclab.spec import spec_from_dict

    rows = []
    for agent, base in (("ETF", 100.0), ("HEFT", 105.0), ("slow", 1000.0)):
        for rate in (2, 4):
            for seed in range(3):
                rows.append({"agent": agent, "noise": "none", "rate_jobs_per_ms": float(rate),
                             "seed": seed, "avg_latency_us": base * rate + seed, "run_id": "x",
                             "energy_j": 0.06, "p95_latency_us": base * 2,
                             "throughput_jobs_per_ms": float(rate), "mean_slowdown": 1.5,
                             "edp": 1e-5, "p99_latency_us": base * 3, "completed_jobs": 10,
                             "injection_rate_jobs_per_ms": float(rate), "wall_time_s": 0.1})
    df = pd.DataFrame(rows)
    spec = spec_from_dict({"name": "syn", "agents": [{"name": "HEFT"}, {"name": "random"}],
                           "baselines": ["ETF"], "axes": {"rates_jobs_per_ms": [2, 4]}})
    df.loc[df.agent == "slow", "agent"] = "random"
    write_report(df, spec, tmp_path / "a")
    made = sorted(p.name for p in (tmp_path / "a").glob("*.png"))
    assert made == ["latency_vs_load.png", "ratio_to_ETF.png"], made
    md = (tmp_path / "a" / "report.md").read_text()
    assert "Far-off agents (random" in md
    assert np.isfinite(df.avg_latency_us).all()
    hidden = spec_from_dict({**spec.model_dump(mode="json"), "report": {"hide_agents": ["random"]}})
    write_report(df, hidden, tmp_path / "b")
    md = (tmp_path / "b" / "report.md").read_text()
    assert "Not drawn (report.hide_agents): random" in md and "| random |" not in md


# ------------------------------------------------------------------ MLflow as the UI sees it
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rest(url: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.mark.ray
def test_mlflow_server_shows_runs_kind_structure_and_curated_metrics(swept, tmp_path):
    from soclab import metrics
    from soclab.tracking_server import start_tracking_server, stop_tracking_server

    _, uri, _ = swept
    server = start_tracking_server(port=_free_port(), backend_store_uri=uri, workdir=tmp_path,
                                   artifacts_destination=tmp_path / "art")
    try:
        exp = _rest(server.url, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=soclab/view")
        tags = {t["key"]: t["value"] for t in exp["experiment"].get("tags", [])}
        assert tags["mlflow.experimentKind"] == "custom_model_development"  # opens on runs
        found = _rest(server.url, "/api/2.0/mlflow/runs/search",
                      {"experiment_ids": [exp["experiment"]["experiment_id"]], "max_results": 100})
        runs = found["runs"]

        def tag(r, k):
            return {t["key"]: t["value"] for t in r["data"].get("tags", [])}.get(k)

        parents = [r for r in runs if tag(r, "soclab.kind") == "sweep"]
        cells = [r for r in runs if tag(r, "soclab.kind") == "cell"]
        assert len(parents) == 1 and len(cells) == 8
        assert {tag(r, "mlflow.parentRunId") for r in cells} == {parents[0]["info"]["run_id"]}
        for r in cells:
            names = {m["key"] for m in r["data"]["metrics"]}
            params = {p["key"]: p["value"] for p in r["data"]["params"]}
            undefined = {"deadline.miss_rate", "deadline.mean_tardiness_us",
                         "deadline.p99_lateness_us"}  # wifi-tx-rx jobs have no deadlines
            expected = {m.mlflow for m in metrics.tracked()} - undefined | {"vs_ETF.latency_ratio",
                                                                            "run.compute_s"}
            assert expected <= names, expected - names
            assert not undefined & names, "a metric undefined on every seed is not logged as NaN"
            assert all(n.islower() or n.startswith(("vs_", "train/")) for n in names), names
            assert params["rate_jobs_per_ms"] in {"2", "6"}, "rates as written"
            assert "algorithm" not in params and params["scheduler"] in {"random", "ETF"}
            assert tag(r, "soclab.workload") == "wifi-tx-rx"
            assert r["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "wifi-tx-rx"
            info = r["info"]
            assert int(info["end_time"]) - int(info["start_time"]) >= 50, "real cell duration"
    finally:
        stop_tracking_server(server)


# ------------------------------------------------------------------ terminal
@pytest.mark.ray
def test_soclab_runs_fits_80_columns_and_offers_csv_json_columns(swept):
    import io

    import pandas as pd

    spec, uri, _ = swept
    res = cli.invoke(app, ["runs", str(spec), "--tracking-uri", uri], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    body = [line for line in lines if line.strip().startswith(("random", "ETF"))]
    assert len(body) == 8, "one line per run"
    assert "…" not in res.stdout
    assert "×ETF" in res.stdout and "[" in body[0], "latency with its CI, ratio to the baseline"
    table = pd.read_csv(io.StringIO(cli.invoke(app, ["runs", str(spec), "--tracking-uri", uri,
                                                     "--csv"]).stdout))
    assert {"agent", "rate", "avg_latency_us", "ratio_to_ETF", "duration_s", "run_id"} <= set(table)
    assert (table.duration_s > 0).all()
    js = json.loads(cli.invoke(app, ["runs", str(spec), "--tracking-uri", uri, "--json",
                                     "--columns", "agent,rate"]).stdout)
    assert len(js) == 8 and set(js[0]) == {"agent", "rate"}
    bad = cli.invoke(app, ["runs", str(spec), "--tracking-uri", uri, "--columns", "agnet"])
    assert bad.exit_code == 2 and "unknown column(s) agnet" in bad.output


@pytest.mark.ray
def test_rerun_of_a_finished_sweep_runs_nothing_and_says_so(swept):
    spec, uri, summary = swept
    res = cli.invoke(app, ["sweep", str(spec), "--tracking-uri", uri, "--output-dir",
                           str(summary.report_path.parents[2])], env={"COLUMNS": "60"})
    assert res.exit_code == 0, res.output
    assert "8 cells already done, nothing to run" in res.stdout
    line = next(x for x in res.stdout.splitlines() if x.startswith("MLflow UI"))
    assert line == f"MLflow UI: mlflow ui --backend-store-uri {uri}", "never wrapped"
    assert "?workflowType=machine_learning" in res.stdout, "the link opens the runs table"


def test_runs_and_report_on_a_never_run_spec_exit_2_with_the_command(tmp_path):
    spec = tmp_path / "never.yaml"
    spec.write_text(SPEC.replace("name: view", "name: never"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for cmd in ("runs", "report"):
        res = cli.invoke(app, [cmd, str(spec), "--tracking-uri", uri, "--output-dir", str(tmp_path)]
                         if cmd == "report" else [cmd, str(spec), "--tracking-uri", uri])
        assert res.exit_code == 2, (cmd, res.output)
        assert f"run it first: soclab sweep {spec}" in res.output and "Traceback" not in res.output


def test_cli_conventions_help_version_switches_verbosity():
    short, long = cli.invoke(app, ["runs", "-h"]), cli.invoke(app, ["runs", "--help"])
    assert short.exit_code == 0 and short.stdout == long.stdout
    assert "--csv" in short.stdout and "<bool>" not in short.stdout
    assert "-h, --help" in cli.invoke(app, ["-h"]).stdout
    version = cli.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("soclab ")
    top = cli.invoke(app, ["--help"]).stdout
    assert "--quiet" in top and "--verbose" in top
    both = cli.invoke(app, ["-q", "-v", "simulate"])
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_quiet_and_verbose_set_third_party_log_levels():
    import logging
    import warnings

    from soclab import ui

    before = os.environ.get(ui.VERBOSITY_ENV)
    try:
        res = cli.invoke(app, ["-q", "simulate", "--duration", "500", "--json"])
        assert res.exit_code == 0 and res.stderr == ""
        assert logging.getLogger("mlflow").level == logging.ERROR
        assert logging.getLogger("ray").level == logging.ERROR
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore")  # isolate from pytest's own filters
            ui.set_verbosity(ui.QUIET)
            warnings.warn("setuptools says something", UserWarning, stacklevel=1)
        assert not caught
        ui.set_verbosity(ui.VERBOSE)
        assert logging.getLogger("ray.tune").level == logging.INFO
    finally:
        ui.set_verbosity(int(before) if before else ui.NORMAL)


def test_gantt_default_window_shows_a_few_jobs_after_warmup(tmp_path):
    """No Ray: the default window starts at the first job injected after the warm-up and ends
    when the fourth such job finishes; the chart is written with the run's title."""
    import dssoc
    from dssoc.gantt import DEFAULT_JOBS, default_window

    cfg = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=6000,
                                warmup_us=2000, noise="gaussian:0.2")
    result = dssoc.simulate(cfg, scheduler="HEFT", seed=1, trace=True)
    trace = result.trace()
    lo, hi = default_window(trace, 2000)
    arrivals = trace.groupby("job")["job_arrival"].first().sort_values()
    first = arrivals[arrivals >= 2000]
    assert lo == first.iloc[0] and lo >= 2000
    shown = first.index[:DEFAULT_JOBS]
    assert hi == trace[trace.job.isin(shown)]["finish"].max()
    assert hi - lo < 0.5 * (cfg.duration_us - cfg.warmup_us), "a window, not the whole run"
    png = tmp_path / "g.png"
    result.gantt(str(png))
    assert png.stat().st_size > 10_000
