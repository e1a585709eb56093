"""Standard Task Graph (STG) files (Kasahara lab, Tobita and Kasahara 2002) -> Application.

Format: the first number is the task count n (excluding the dummy entry and exit tasks); then, for
each of the n + 2 tasks, its id (0, 1, ... in order), processing time, number of predecessors and
the predecessor ids. Task 0 and task n + 1 are the dummy entry and exit tasks of time 0. Files
without the dummies (exactly n task records) are accepted too. Numbers are read as a stream, so a
long predecessor list may wrap onto the next line. Anything after the task records (the set's
`#` parameter block) is ignored and reported.

STG graphs have no communication costs: all edge volumes are 0 (reported). Tasks get category
`stg` (map it in the mapping's `default` row or by name) and their processing time as work.
"""

from __future__ import annotations

from pathlib import Path

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult, app_name_from, build_application
from dssoc.schemas import read_text


def _tokens(text: str) -> tuple[list[tuple[str, int]], int]:
    """Numbers with their line, up to the first `#` line; and the count of lines after it."""
    out: list[tuple[str, int]] = []
    lines = text.splitlines()
    for k, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            rest = sum(1 for x in lines[k - 1:] if x.strip())
            return out, rest
        out.extend((tok, k) for tok in stripped.split())
    return out, 0


def import_stg(path: str | Path, name: str | None = None) -> ImportResult:
    """Import an STG file; malformed records are refused with file and line."""
    p = Path(path)
    text = read_text(p, "STG file")  # missing, binary or non-UTF-8: one ConfigError line
    toks, trailing = _tokens(text)
    pos = 0

    def take(what: str, kind: type = int) -> tuple[int | float, int]:
        nonlocal pos
        if pos >= len(toks):
            last = toks[-1][1] if toks else 1
            raise ConfigError(f"unexpected end of file: expected {what}", f"{p}:{last}")
        tok, line = toks[pos]
        pos += 1
        try:
            value = kind(tok)
        except ValueError:
            raise ConfigError(f"expected {what} (a number), got {tok!r}", f"{p}:{line}") from None
        if value < 0:
            raise ConfigError(f"{what} must be >= 0, got {tok}", f"{p}:{line}")
        return value, line

    count, _ = take("the task count")
    n = int(count)  # an int already: take() parses with int by default
    if n < 1:
        raise ConfigError("the task count must be >= 1", f"{p}:1")
    ids: list[str] = []
    works: list[float] = []
    parents: list[list[int]] = []
    records: int | None = None
    k = 0
    while records is None or k < records:
        if records is None and pos >= len(toks):
            break
        tid, line = take(f"the id of task record {k}")
        if tid != k:
            raise ConfigError(f"task ids must be 0, 1, ... in order: expected {k}, got {tid}",
                              f"{p}:{line}")
        work, _ = take(f"the processing time of task {k}", float)
        npred, _ = take(f"the predecessor count of task {k}")
        preds = []
        for _j in range(int(npred)):
            pred, pline = take(f"a predecessor id of task {k}")
            if pred >= k:
                raise ConfigError(f"task {k} names predecessor {pred}, which is not an earlier task",
                                  f"{p}:{pline}")
            preds.append(int(pred))
        ids.append(f"t{k}")
        works.append(float(work))
        parents.append(preds)
        k += 1
        if records is None and k == n and pos >= len(toks):
            records = n  # no dummy entry/exit tasks
        elif records is None and k == n + 2:
            records = n + 2
    if records is None or k != records:
        raise ConfigError(f"expected {n} task records (or {n + 2} with the dummy entry and exit), "
                          f"found {k}", f"{p}:{toks[-1][1] if toks else 1}")
    if pos < len(toks):
        tok, line = toks[pos]
        raise ConfigError(f"unexpected {tok!r} after the last task record ({records} records for "
                          f"{n} tasks)", f"{p}:{line}")
    warnings = ["STG has no communication costs (all volumes 0)"]
    if records == n + 2:
        warnings.append("dummy entry and exit tasks kept with zero work")
    if trailing:
        warnings.append(f"{trailing} trailing comment/parameter lines ignored")
    volumes = {(q, i): 0.0 for i, ps in enumerate(parents) for q in ps}
    app = build_application(name or app_name_from(p), ids, ["stg"] * len(ids), works, parents, volumes,
                            str(p), f"STG graph {p.name} ({n} tasks; work in STG time units)")
    return ImportResult(app, tuple(warnings), str(p))
