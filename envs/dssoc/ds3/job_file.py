"""DS3 job files (`job_*.txt`, application DAGs) into a `dssoc.model.Application`.

`read_ds3_job` documents the format; `_JobReader` holds the state of the line-by-line read, and
the module functions check the task table, the edge volumes and the HEAD/TAIL marks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from dssoc.ds3._tokens import need, parse_int, parse_number, token_lines
from dssoc.errors import ConfigError, InvalidDAGError
from dssoc.model import Application, Task


@dataclass
class _JobTask:
    """A task while its job file is being read."""

    name: str
    ident: int
    preds: list[int]
    lineno: int
    head: bool = False
    tail: bool = False
    timing: bool = False
    deadline: float = 0.0


class _JobReader:
    """What `read_ds3_job` has read so far: the job name, the announced task count, the tasks
    of the `add_new_tasks` block (open while `block_open`) and the `comm_vol` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.job_name: str | None = None
        self.n_tasks: int | None = None
        self.tasks: list[_JobTask] = []
        self.block_open = False
        self.volume_lines: list[tuple[int, int, float, int]] = []  # (src, dst, volume, line)

    def line(self, lineno: int, tok: list[str]) -> None:
        """Read one meaningful line, inside the task block or at the top level."""
        where = f"{self.path}:{lineno}"
        if self.block_open:
            self._block_line(tok, lineno, where)
        else:
            self._top_line(tok, lineno, where)

    def _block_line(self, tok: list[str], lineno: int, where: str) -> None:
        """A line of the task block: a task, or the HEAD/TAIL/timing line of the last task."""
        key = tok[0]
        second = tok[1] if len(tok) > 1 else None
        if second in ("HEAD", "TAIL", "earliest_start"):
            self._mark_line(tok, second, where)
            return
        tasks, n_tasks = self.tasks, self.n_tasks
        if key in ("comm_vol", "job_name", "add_new_tasks"):
            missing = [t.name for t in tasks if not t.timing]
            raise ConfigError(
                f"add_new_tasks announced {n_tasks} tasks but this {key!r} line comes after "
                f"{len(tasks)} task(s)"
                + (f"; missing 'earliest_start' line for {missing[-1]!r}" if missing else ""),
                where,
            )
        if len(tasks) == n_tasks:
            raise ConfigError(
                f"expected '{tasks[-1].name} earliest_start s deadline d' closing the last of "
                f"the {n_tasks} tasks, got {' '.join(tok)!r}",
                where,
            )
        need(tok, 2, "task_name task_id predecessor_ids...", where)
        ident = parse_int(tok[1], f"task id for {key!r}", where)
        preds = [parse_int(t, f"predecessor id for {key!r}", where) for t in tok[2:]]
        if tasks and not tasks[-1].timing:
            raise ConfigError(
                f"expected '{tasks[-1].name} earliest_start s deadline d' before the next "
                f"task, got {' '.join(tok)!r}",
                where,
            )
        tasks.append(_JobTask(key, ident, list(dict.fromkeys(preds)), lineno))

    def _mark_line(self, tok: list[str], second: str, where: str) -> None:
        """`name HEAD`, `name TAIL` or `name earliest_start s deadline d` of the task just
        defined; the timing line of the last announced task closes the block."""
        key = tok[0]
        if not self.tasks:
            raise ConfigError(f"expected a task line 'name id preds...' before this "
                              f"{second} line", where)
        last = self.tasks[-1]
        if key != last.name:
            raise ConfigError(
                f"expected this {second} line to name the task just defined, "
                f"{last.name!r}, got {key!r}",
                where,
            )
        if second == "HEAD":
            last.head = True
        elif second == "TAIL":
            last.tail = True
        else:
            need(tok, 5, f"{key} earliest_start s deadline d", where)
            parse_number(tok[2], "earliest_start", where)
            last.deadline = parse_number(tok[4], "deadline", where)
            last.timing = True
            if len(self.tasks) == self.n_tasks:
                self.block_open = False

    def _top_line(self, tok: list[str], lineno: int, where: str) -> None:
        """`job_name`, `add_new_tasks` (opens the task block) or `comm_vol`."""
        key = tok[0]
        if key == "job_name":
            need(tok, 2, "job_name name", where)
            if self.job_name is not None or self.n_tasks is not None:
                raise ConfigError("expected one job_name before add_new_tasks", where)
            self.job_name = tok[1]
        elif key == "add_new_tasks":
            need(tok, 2, "add_new_tasks number_of_tasks", where)
            if self.n_tasks is not None:
                raise ConfigError("expected a single add_new_tasks block per job file", where)
            self.n_tasks = parse_int(tok[1], "number of tasks", where)
            if self.n_tasks < 1:
                raise ConfigError(f"expected add_new_tasks >= 1, got {self.n_tasks}", where)
            self.block_open = True
        elif key == "comm_vol":
            need(tok, 4, "comm_vol source_id destination_id volume", where)
            if self.n_tasks is None:
                raise ConfigError("expected add_new_tasks before comm_vol lines", where)
            src = parse_int(tok[1], "source task id", where)
            dst = parse_int(tok[2], "destination task id", where)
            vol = parse_number(tok[3], "the communication volume", where)
            if vol < 0:
                raise ConfigError(f"expected a volume >= 0, got {vol:g}", where)
            self.volume_lines.append((src, dst, vol, lineno))
        elif self.n_tasks is not None and len(tok) >= 2 and tok[1].lstrip("-").isdigit():
            raise ConfigError(f"add_new_tasks announced {self.n_tasks} tasks, but this line "
                              f"defines another task {key!r}", where)
        else:
            raise ConfigError(f"expected job_name, add_new_tasks or comm_vol, got {key!r}", where)

    def task_count(self) -> int:
        """The announced number of tasks, once the file has been read to its end and the task
        block is complete."""
        if self.n_tasks is None:
            raise ConfigError("expected an 'add_new_tasks N' line; the file defines no tasks",
                              str(self.path))
        if self.block_open:
            raise ConfigError(
                f"add_new_tasks announced {self.n_tasks} tasks but the file ends after "
                f"{len(self.tasks)} (each task needs its 'earliest_start' line)",
                str(self.path),
            )
        return self.n_tasks


def _ordered_tasks(tasks: list[_JobTask], n_tasks: int, path: Path) -> list[_JobTask]:
    """The tasks by ID 0..n-1: IDs in range and unique, predecessors in range and not self."""
    by_id: dict[int, _JobTask] = {}
    for t in tasks:
        where = f"{path}:{t.lineno}"
        if not 0 <= t.ident < n_tasks:
            raise ConfigError(f"expected a task id in 0..{n_tasks - 1}, got {t.ident}", where)
        if t.ident in by_id:
            raise ConfigError(f"duplicate task id {t.ident} (also {by_id[t.ident].name!r})", where)
        by_id[t.ident] = t
    for t in tasks:
        for p in t.preds:
            if not 0 <= p < n_tasks:
                raise InvalidDAGError(
                    f"task {t.name!r} names predecessor id {p}, expected 0..{n_tasks - 1}",
                    f"{path}:{t.lineno}",
                )
            if p == t.ident:
                raise InvalidDAGError(f"task {t.name!r} depends on itself", f"{path}:{t.lineno}")
    return [by_id[i] for i in range(n_tasks)]


def _edge_volumes(ordered: list[_JobTask], edges: set[tuple[int, int]],
                  volume_lines: list[tuple[int, int, float, int]],
                  path: Path) -> dict[tuple[int, int], float]:
    """The `comm_vol` of each DAG edge (last line wins); a line for a non-edge is warned about
    and ignored, as DS3 never reads it."""
    n_tasks = len(ordered)
    volumes: dict[tuple[int, int], float] = {}
    for src, dst, vol, lineno in volume_lines:
        where = f"{path}:{lineno}"
        for x in (src, dst):
            if not 0 <= x < n_tasks:
                raise ConfigError(f"expected a task id in 0..{n_tasks - 1}, got {x}", where)
        if (src, dst) not in edges:
            warnings.warn(
                f"{where}: comm_vol {src} {dst} is not an edge of the DAG ({ordered[dst].name!r} "
                f"does not list {src} as predecessor); DS3 never reads it, dssoc ignores it",
                stacklevel=3,  # the caller of read_ds3_job
            )
            continue
        volumes[(src, dst)] = vol
    return volumes


def _application(name: str, ordered: list[_JobTask], volumes: dict[tuple[int, int], float],
                 path: Path) -> Application:
    """The `Application`, its deadline the latest deadline of its exit tasks (DS3 gives one per
    task); a graph the model refuses (a cycle) is reported against the file."""
    has_pred_of = {p for t in ordered for p in t.preds}
    exit_deadlines = [t.deadline for t in ordered if t.ident not in has_pred_of and t.deadline > 0]
    try:
        return Application(
            name=name,
            tasks=tuple(Task(t.name, tuple(t.preds)) for t in ordered),
            volumes=volumes,
            description=f"Imported from the DS3 job file {path.name} (job_name {name}).",
            deadline_us=max(exit_deadlines) if exit_deadlines else None,
        )
    except InvalidDAGError as e:
        message = str(e)
        if e.where and message.startswith(f"{e.where}: "):
            message = message[len(e.where) + 2:]
        raise InvalidDAGError(message, str(path)) from None


def _check_marks(ordered: list[_JobTask], edges: set[tuple[int, int]], path: Path) -> None:
    """HEAD tasks have no predecessors and TAIL tasks no successors."""
    has_succ = {p for p, _ in edges}
    for t in ordered:
        where = f"{path}:{t.lineno}"
        if t.head and t.preds:
            raise InvalidDAGError(f"task {t.name!r} is marked HEAD but has predecessors {t.preds}",
                                  where)
        if t.tail and t.ident in has_succ:
            raise InvalidDAGError(f"task {t.name!r} is marked TAIL but has successors", where)


def read_ds3_job(path: str | Path) -> Application:
    """Parse a DS3 `job_*.txt` file into an `Application` (task index = task ID).

    Format: `job_name X`, `add_new_tasks N`, then per task `name id pred_ids...`, an optional
    `name HEAD` / `name TAIL`, and `name earliest_start s deadline d ...`; then
    `comm_vol src dst volume` lines (an edge without one has volume 0, as in DS3's zero matrix;
    the last line for an edge wins). HEAD/TAIL marks are checked against the graph and dropped:
    dssoc derives heads and tails from the edges.
    """
    path = Path(path)
    reader = _JobReader(path)
    for lineno, tok in token_lines(path):
        reader.line(lineno, tok)
    ordered = _ordered_tasks(reader.tasks, reader.task_count(), path)
    edges = {(p, t.ident) for t in ordered for p in t.preds}
    volumes = _edge_volumes(ordered, edges, reader.volume_lines, path)
    app = _application(reader.job_name or path.stem, ordered, volumes, path)
    _check_marks(ordered, edges, path)
    return app
