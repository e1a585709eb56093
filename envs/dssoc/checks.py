"""Checks of single values read at an edge (CLI option, spec key, API argument, env option).

Every duration, rate, seed, count and window that enters dssoc or soclab goes through one of
these, so the rules are the same everywhere: a number is a real `int`/`float` (not a string, not a
bool), finite (NaN passes every `<= 0` test, so it is refused explicitly), inside its bounds, and an
integer where a count is expected (`2.5` jobs is refused, `3.0` is accepted as 3). The caps keep an
obviously mistyped value (`--max-jobs 1000000000000`, `duration_us: .inf`) from turning into a run
that never ends. Failures raise `ConfigError` naming the place (`where`: option, key path).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from dssoc.errors import ConfigError, UnknownNameError

#: Seeds feed numpy's legacy RandomState (DS3 arrival streams), which takes 0 <= seed < 2**32.
MAX_SEED = 2**32 - 1
#: A run injecting more jobs than this is a typo, not an experiment (the simulator does a few
#: thousand jobs per second: 10 M jobs are over an hour of one core).
MAX_JOBS = 10_000_000
#: Simulated time limit (µs): about 11.6 simulated days.
MAX_DURATION_US = 1e12
#: Seeds of one sweep cell; each one is a full simulation per cell.
MAX_SEEDS = 10_000
#: Jobs in the system at once (the engine preallocates per-job state).
MAX_JOBS_IN_FLIGHT = 100_000


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if isinstance(value, str | bool) else repr(value)


def number(
    value: Any,
    where: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    unit: str = "",
) -> float:
    """`value` as a finite float within (gt, le] or [ge, le]; strings, bools, NaN and inf refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"expected a number{unit and ' of ' + unit}, got {_describe(value)}", where)
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(f"expected a finite number{unit and ' of ' + unit}, got {x}", where)
    if gt is not None and not x > gt:
        raise ConfigError(f"must be > {gt:g}, got {x:g}", where)
    if ge is not None and not x >= ge:
        raise ConfigError(f"must be >= {ge:g}, got {x:g}", where)
    if le is not None and not x <= le:
        raise ConfigError(f"must be <= {le:g}, got {x:g}", where)
    return x


def integer(value: Any, where: str, *, ge: int | None = None, le: int | None = None) -> int:
    """`value` as an int within [ge, le]; a float is accepted only when it is integral (3.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"expected an integer, got {_describe(value)}", where)
    if isinstance(value, numbers.Integral):
        n = int(value)
    else:
        x = float(value)
        if not (math.isfinite(x) and x.is_integer()):
            raise ConfigError(f"expected an integer, got {value!r}", where)
        n = int(x)
    if ge is not None and n < ge:
        raise ConfigError(f"must be >= {ge}, got {n}", where)
    if le is not None and n > le:
        raise ConfigError(f"must be <= {le:,}, got {n:,}", where)
    return n


def seed(value: Any, where: str = "seed") -> int:
    """A simulation seed: an integer in [0, 2**32 - 1]."""
    return integer(value, where, ge=0, le=MAX_SEED)


def window(lo: Any, hi: Any, where: str) -> tuple[float, float]:
    """A time window START < END, both finite and >= 0 (µs)."""
    a, b = number(lo, where, ge=0), number(hi, where, ge=0)
    if not a < b:
        raise ConfigError(f"START must be before END, got {a:g}:{b:g}", where)
    return a, b


def known_keys(given: Mapping[str, Any] | Iterable[str], valid: Iterable[str], where: str,
               what: str = "keyword") -> None:
    """Refuse names not in `valid`, suggesting the closest one (difflib)."""
    valid = list(valid)
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise UnknownNameError(what, unknown[0], valid, where)
