"""The one Ray session helper of soclab: sweeps, RL searches and `soclab train` start (or join)
Ray through `init_ray` and stop only a Ray they started with `stop_ray`."""

from __future__ import annotations

import os


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to `address` or start a quiet local Ray bound to loopback only (soclab.loopback);
    returns True if this call started it (then `stop_ray` stops it)."""
    import ray

    from soclab.interrupts import reinstall

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        from soclab.loopback import prepare_local_ray

        if not os.environ.get("RAY_ADDRESS"):
            prepare_local_ray()
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    reinstall()  # ray.init replaces the SIGTERM handler of a running sweep
    return True


def stop_ray() -> None:
    """Stop the Ray this process started (and forget the loopback-only mode for later inits)."""
    import ray

    from soclab.loopback import restore_cluster_mode

    ray.shutdown()
    restore_cluster_mode()
