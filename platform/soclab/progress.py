"""Live sweep progress in the terminal: cells done / running / failed, elapsed, ETA (rich)."""

from __future__ import annotations

import json
from typing import Any

from ray.tune import Callback
from rich.progress import Progress

from soclab.ui import progress_bar


class SweepProgress(Callback):
    """A Tune callback that turns trial reports (cells_done / cells_failed) into a progress bar."""

    def __init__(self, total_cells: int, enabled: bool = True) -> None:
        self.total = total_cells
        self.enabled = enabled
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.running: set[str] = set()
        self.errors: list[str] = []
        self._progress = progress_bar("cells", enabled)
        self._task = self._progress.add_task("sweep", total=total_cells, status="")

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its callbacks with the experiment state; the live display stays here."""
        state = dict(self.__dict__)
        state["_progress"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._progress = Progress(disable=True)
        self._task = self._progress.add_task("sweep", total=self.total, status="")

    def __enter__(self) -> SweepProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self._progress.stop()

    def _refresh(self) -> None:
        done, failed = sum(self.done.values()), sum(self.failed.values())
        status = f"running trials {len(self.running)} · failed cells {failed}"
        self._progress.update(self._task, completed=done + failed, status=status)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.trial_id)
        self._refresh()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if "cells_done" in result:
            self.done[trial.trial_id] = int(result["cells_done"])
            self.failed[trial.trial_id] = int(result.get("cells_failed", 0))
        if "outcomes" in result:
            for o in json.loads(result["outcomes"]):
                if o["status"] == "failed" and o["label"] not in self.errors:
                    self.errors.append(o["label"])
                    self._progress.console.print(f"[red]cell failed[/red] {o['label']}: {o['error']}")
        self._refresh()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.discard(trial.trial_id)
        self._refresh()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.discard(trial.trial_id)
        self._progress.console.print(f"[yellow]trial {trial.trial_id} crashed; Tune retries it[/yellow]")
        self._refresh()
