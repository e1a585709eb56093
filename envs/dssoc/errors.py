"""Error hierarchy for dssoc: every message names the place (file, line or key) and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DssocError(Exception):
    """Base of all errors raised on bad input; the CLI prints them as one line (exit code 2)."""


class ConfigError(DssocError, ValueError):
    """A configuration value or file is malformed; `where` names the file:line or key path."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        self.reason = message  # the message without the place
        super().__init__(f"{where}: {message}" if where else message)


def suggest(name: str, valid: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest valid name (difflib; else the only valid name that
    starts with `name`, so `rate` suggests `rate_jobs_per_ms`), or ''."""
    valid = list(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    if not close and len(str(name)) >= 3:
        close = [v for v in valid if v.startswith(str(name))][:2]
        close = close if len(close) == 1 else []
    return f" Did you mean {close[0]!r}?" if close else ""


class UnknownNameError(ConfigError, KeyError):
    """A name (scheduler, workload, SoC, noise model, keyword, ...) is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str | None = None):
        valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}.{suggest(name, valid)} Valid: {', '.join(valid)}",
                         where)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class InvalidDAGError(ConfigError):
    """An application graph is not a DAG, or references unknown tasks."""


class UnsupportedTaskError(ConfigError):
    """A task type that no PE of the SoC can execute."""


class InvalidActionError(DssocError, ValueError):
    """An environment action outside the action space, or ruled out by the mask in strict mode."""


class SchedulerError(DssocError, RuntimeError):
    """A scheduler returned an impossible decision (unknown task, unsupported PE, ...)."""
