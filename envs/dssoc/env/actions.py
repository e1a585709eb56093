"""Checking an agent's action against a `Discrete` space and its mask: one rule for v0 and v1.

An action outside the action space always raises `InvalidActionError` (Gymnasium users expect an
error, not a silent fix). An action the mask rules out raises too in strict mode (`"raise"`, the
default); with `invalid_action="replace"` it is replaced by the first valid action and reported as
invalid, so callers can count it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dssoc.errors import InvalidActionError, UnknownNameError

#: What happens to an action the mask rules out: raise (strict, the default) or replace it by the
#: first valid action. Out-of-space actions always raise.
INVALID_ACTION_MODES = ("raise", "replace")


def invalid_action_mode(mode: str) -> str:
    """`mode` if it is one of `INVALID_ACTION_MODES`, else an UnknownNameError naming the key."""
    if mode not in INVALID_ACTION_MODES:
        raise UnknownNameError("invalid_action mode", str(mode), INVALID_ACTION_MODES, "invalid_action")
    return mode


def action_index(action: Any, n_actions: int) -> int:
    """`action` as an index of `Discrete(n_actions)`: an int or an integer numpy scalar / 0-d or
    one-element array (as some samplers return); anything else raises InvalidActionError."""
    if isinstance(action, np.ndarray) and action.shape in ((), (1,)):
        action = action.reshape(-1)[0]
    if isinstance(action, bool) or not isinstance(action, int | np.integer) or not 0 <= action < n_actions:
        what = (f"{int(action)}" if isinstance(action, int | np.integer) and not isinstance(action, bool)
                else f"{action!r} ({type(action).__name__})")
        raise InvalidActionError(f"action {what} is outside the action space Discrete({n_actions}): "
                                 f"expected an integer in [0, {n_actions - 1}]")
    return int(action)


def resolve_action(action: Any, mask: np.ndarray, mode: str) -> tuple[int, bool]:
    """The action to execute and whether the agent's own action was valid under `mask`."""
    a = action_index(action, mask.shape[0])
    if mask[a]:
        return a, True
    ok = np.flatnonzero(mask)
    if mode == "raise":
        shown = ", ".join(map(str, ok[:10])) + (", ..." if ok.size > 10 else "")
        raise InvalidActionError(
            f"action {a} is masked out (see obs['action_mask']); valid now: [{shown}]. "
            "Pass invalid_action='replace' to replace it by the first valid action")
    return int(ok[0]), False
