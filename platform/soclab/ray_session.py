"""The one Ray session helper of soclab: sweeps, RL searches and `soclab train` start (or join)
Ray through `init_ray` and stop only a Ray they started with `stop_ray`."""

from __future__ import annotations

import os


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
