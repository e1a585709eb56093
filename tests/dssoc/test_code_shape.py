"""The function-length rule of issue 9: no function of the simulator's parsing code or of its
hot per-decision code is longer than `MAX_LINES`; a longer one is split into named steps.

Lengths are counted with `ast` from the `def` line to the function's last line (docstring and
comments included, decorators not); a nested function counts towards its parent too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DSSOC = Path(__file__).resolve().parents[2] / "envs" / "dssoc"
MAX_LINES = 80

#: Parsing code: every file format and value read at an edge (folders: all their modules).
PARSING = ["ds3", "importers", "schemas.py", "checks.py", "mapping.py", "arrivals.py",
           "catalog.py"]
#: Hot code run at every event or decision: the engine and its records, observers and view,
#: observation builders, live state, schedulers.
HOT = ["engine.py", "runtime.py", "observers.py", "view.py", "env/observation.py",
       "env/late_observation.py", "live.py", "schedulers"]


def _modules(entries: list[str]) -> list[Path]:
    out: list[Path] = []
    for entry in entries:
        path = DSSOC / entry
        assert path.exists(), f"{path} is listed in the function-length rule but does not exist"
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return out


def _long_functions(path: Path, root: Path = DSSOC) -> list[str]:
    """`file:line name (N lines)` of each function in `path` longer than MAX_LINES."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_LINES:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({n} lines)")
    return found


@pytest.mark.parametrize("group", [PARSING, HOT], ids=["parsing", "hot"])
def test_no_function_over_the_limit(group: list[str]) -> None:
    long = [f for path in _modules(group) for f in _long_functions(path)]
    assert not long, f"functions over {MAX_LINES} lines (split them into named steps): {long}"


def test_the_counter_reports_one_line_over(tmp_path: Path) -> None:
    """A function of exactly MAX_LINES lines passes; one line more is reported, with its length;
    a method counts like a function."""
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES - 1))
    probe = tmp_path / "probe.py"
    probe.write_text("def fits():\n" + body + "\n\nclass C:\n    def too_long(self):\n"
                     + body.replace("    ", "        ") + "        return x0\n")
    assert _long_functions(probe, tmp_path) == [f"probe.py:{MAX_LINES + 4} too_long "
                                                f"({MAX_LINES + 1} lines)"]
