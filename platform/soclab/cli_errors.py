"""One line per CLI error, including click's own usage errors.

Click (and typer's rich formatting of it) prints a bad option value as a usage block plus a boxed
message over five or more lines. `OneLineErrorGroup` prints it as the project prints every error:
`error: <what>` on one stderr line (with the hint where help is), exit code 2. Everything else
(help, `Exit` codes, Ctrl-C) behaves as in typer.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click as typer._click; before, it used click itself
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors


def one_line(message: str) -> str:
    """Collapse a possibly multi-line message onto one line."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


class OneLineErrorGroup(TyperGroup):
    """The root command group of `soclab`: click usage errors become `error: ...` lines."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _click_errors.NoArgsIsHelpError as e:
            sys.exit(e.exit_code)  # the help was printed when the error was made (as in typer)
        except _click_errors.ClickException as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"error: {one_line(e.format_message())}{hint}", err=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
