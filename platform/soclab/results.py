"""Results of a spec from its tracked runs: the per-seed frame every reader (report, tests,
notebooks) starts from. Part of the tracking layer: it reads the MLflow ledger only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soclab.cellrun import RESULTS_ARTIFACT
from soclab.cells import Cell, plan_cells
from soclab.spec import ExperimentSpec
from soclab.tracking import Tracker


def results_frame(spec: ExperimentSpec, tracker: Tracker, cells: list[Cell] | None = None,
                  cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Per-seed results of every finished planned cell, from the runs' parquet artifacts."""
    import tempfile

    cells = cells if cells is not None else plan_cells(spec)
    runs = tracker.cell_runs()
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in cells:
            run = runs.get(c.hash)
            if run is None:
                continue
            path = tracker.download(run.info.run_id, RESULTS_ARTIFACT, Path(tmp) / c.hash)
            df = pd.read_parquet(path)
            df["run_id"] = run.info.run_id
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
