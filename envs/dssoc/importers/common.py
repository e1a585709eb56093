"""What every importer shares: the import result and the application builder (here, apart from
the package's dispatch in `dssoc.importers`, so that the importers do not import their package)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dssoc.errors import ConfigError, DssocError
from dssoc.model import Application, Task


@dataclass(frozen=True)
class ImportResult:
    """An imported application and what its importer could not map."""

    application: Application
    warnings: tuple[str, ...]
    source: str

    @property
    def n_edges(self) -> int:
        return sum(len(t.predecessors) for t in self.application.tasks)

    def summary(self) -> str:
        """One line: what was imported and what was not mapped."""
        app = self.application
        head = f"{self.source}: imported {len(app.tasks)} tasks and {self.n_edges} edges as {app.name!r}"
        return head + ("; not mapped: " + "; ".join(self.warnings) if self.warnings else "")


def clean_name(text: str, fallback: str) -> str:
    """`text` as an application name: runs of characters other than letters, digits, `_`, `.`
    and `-` become `_`; `fallback` if nothing is left."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text) or fallback


def app_name_from(path: Path) -> str:
    """A clean application name from a file name (`montage-50.json` -> `montage-50`)."""
    return clean_name(path.stem, "imported")


def build_application(name: str, ids: list[str], categories: list[str], works: list[float],
                      parents: list[list[int]], volumes: dict[tuple[int, int], float],
                      where: str, description: str = "") -> Application:
    """An imported Application; graph errors (cycles, self-loops) name the source `where`."""
    tasks = tuple(Task(ids[i], tuple(parents[i]), categories[i], float(works[i]))
                  for i in range(len(ids)))
    try:
        return Application(name, tasks, volumes, description)
    except DssocError as e:
        raise ConfigError(str(e), where) from None
