"""The one Ray session helper of soclab: sweeps, RL searches and `soclab train` start (or join)
Ray through `init_ray` and stop only a Ray they started with `stop_ray`."""

from __future__ import annotations

import logging
import os

#: the logger of Ray's token-auth notice, and the notice itself (Ray 2.59+)
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
RAY_AUTH_NOTICE = "Token authentication is enabled for this Ray cluster"


class _DefaultTokenAuthNotice(logging.Filter):
    """Drops Ray's "token authentication is enabled ... set RAY_AUTH_MODE=disabled to opt out"
    notice for the local Ray that soclab starts itself: that Ray listens on loopback only and
    token auth (Ray's default, kept) is what it should run with, so the only action the notice
    offers, opting out, would make it less safe. Ray's other messages pass, among them the
    warning that auth is *disabled* when a user sets RAY_AUTH_MODE=disabled."""

    def filter(self, record: logging.LogRecord) -> bool:
        return RAY_AUTH_NOTICE not in record.getMessage()


_AUTH_FILTER = _DefaultTokenAuthNotice()


def quiet_default_token_auth_notice() -> None:
    """Install the filter on Ray's auth logger (idempotent)."""
    logger = logging.getLogger(RAY_AUTH_LOGGER)
    if _AUTH_FILTER not in logger.filters:
        logger.addFilter(_AUTH_FILTER)


def init_ray(address: str | None = None, num_cpus: int | None = None, show_progress: bool = True) -> bool:
    """Connect to `address` or start a quiet local Ray bound to loopback only (soclab.loopback),
    a spinner meanwhile; returns True if this call started it (then `stop_ray` stops it)."""
    import ray

    from soclab.interrupts import reinstall
    from soclab.ui import apply_verbosity, ray_logging_level, step

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    with step(f"connecting to Ray at {address}" if address else "starting Ray", show_progress):
        from soclab.loopback import is_loopback_address, prepare_local_ray

        target = address or os.environ.get("RAY_ADDRESS")
        if target is None or is_loopback_address(target):  # a local Ray, or a loopback cluster
            prepare_local_ray()
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=ray_logging_level())
        else:
            quiet_default_token_auth_notice()
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     logging_level=ray_logging_level())
    apply_verbosity()  # ray.init resets the log levels of the loggers it owns
    reinstall()  # ray.init replaces the SIGTERM handler of a running sweep
    return True


def stop_ray() -> None:
    """Stop the Ray this process started (and forget the loopback-only mode for later inits)."""
    import ray

    from soclab.loopback import restore_cluster_mode

    ray.shutdown()
    restore_cluster_mode()
