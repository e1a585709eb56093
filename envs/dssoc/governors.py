"""DVFS governor names (DS3's `DVFS_mode`): parsing and the checks against a cluster's operating
points. The governors' behaviour is in `dssoc.dvfs`; the names live here so that the platform
model (`dssoc.model`) can check them without importing the controller."""

from __future__ import annotations

from collections.abc import Sequence

from dssoc.errors import ConfigError

GOVERNOR_FORMS = "performance, powersave, ondemand or constant-<MHz>"


def parse_governor(text: str, where: str = "governor") -> str:
    """Normalise a governor name; DS3's `none` (no DVFS) runs at f_max, i.e. `performance`."""
    t = str(text).strip().lower()
    if t == "none":
        return "performance"
    if t in ("performance", "powersave", "ondemand"):
        return t
    if t.startswith("constant-"):
        mhz = t[len("constant-"):]
        if mhz.isdigit() and int(mhz) > 0:
            return f"constant-{int(mhz)}"
    raise ConfigError(f"unknown governor {text!r}; expected {GOVERNOR_FORMS}", where)


def check_governor(text: str, opps: Sequence[tuple[int, float]], where: str) -> str:
    """`parse_governor`, plus the checks DS3 makes against a cluster's operating points
    ((MHz, V) pairs)."""
    g = parse_governor(text, where)
    if g == "performance":
        return g
    if not opps:
        raise ConfigError(f"governor {g!r} needs operating points (power.opps), and this cluster "
                          "has none", where)
    if g.startswith("constant-"):
        mhz = int(g.split("-")[1])
        if mhz not in {f for f, _ in opps}:
            raise ConfigError(f"{g}: {mhz} MHz is not an operating point of this cluster "
                              f"({', '.join(str(f) for f, _ in opps)} MHz)", where)
    return g
