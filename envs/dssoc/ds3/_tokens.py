"""Reading and tokenising DS3's text files, shared by the SoC, job and config readers.

Every failure is a `ConfigError` naming `where` (`file:line`) and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from dssoc.errors import ConfigError


def read_text(path: Path) -> str:
    """Read a file, turning a missing or unreadable file into a ConfigError."""
    if not path.is_file():
        raise ConfigError("file not found", str(path))
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read file: {e}", str(path)) from None


def token_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, tokens) of the meaningful lines; like DS3, a line whose first token
    contains '#' is a comment, and blank lines are skipped."""
    for lineno, raw in enumerate(read_text(path).splitlines(), start=1):
        tokens = raw.split()
        if not tokens or "#" in tokens[0]:
            continue
        yield lineno, tokens


def parse_int(token: str, what: str, where: str) -> int:
    """Parse an integer token or raise a ConfigError saying what was expected."""
    try:
        return int(token)
    except ValueError:
        raise ConfigError(f"expected an integer {what}, got {token!r}", where) from None


def parse_number(token: str, what: str, where: str) -> float:
    """Parse a finite number token or raise a ConfigError saying what was expected."""
    try:
        value = float(token)
    except ValueError:
        raise ConfigError(f"expected a number for {what}, got {token!r}", where) from None
    if not math.isfinite(value):
        raise ConfigError(f"expected a finite number for {what}, got {token!r}", where)
    return value


def need(tokens: list[str], n: int, form: str, where: str) -> None:
    """Require at least n tokens on a line whose expected form is `form`."""
    if len(tokens) < n:
        raise ConfigError(f"expected '{form}', got {' '.join(tokens)!r}", where)
