"""Ray on one machine listens on loopback only: local sweeps and `soclab cluster local`.

Ray 2.60 turns a loopback node address into the machine's outbound address
(`ray._private.services.resolve_ip_for_localhost`, so that other machines could reach the node)
and derives every listener from that address: GCS, raylets, object managers, core workers, the
dashboard agent (HTTP, gRPC, metrics), the runtime-env agent and the Ray client server then
listen on the external address or on all interfaces, `--node-ip-address=127.0.0.1` notwithstanding.
Given a loopback node address, each of them binds it (Ray PR #59852 behaviour).

- A local Ray (`ray.init()` in the driver): `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` is Ray's own
  switch for "this machine only" (the default on macOS and Windows); with it the node address
  stays 127.0.0.1. `prepare_local_ray` sets it (and, if Ray is already imported, the constant it
  was read into) unless the user set it.
- A driver joining a loopback cluster (`--address 127.0.0.1:P`, or `RAY_ADDRESS` from the
  cluster's env.sh, which also sets the switch) needs the same switch: `init_ray` sets it.
- `ray start` nodes of `soclab cluster local`: that switch makes `ray start --address` refuse to
  start a worker node, so `python -m soclab.loopback start ...` runs the unchanged Ray CLI with
  only `resolve_ip_for_localhost` keeping a loopback address as given.
"""

from __future__ import annotations

import os
import sys

LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def prepare_local_ray() -> bool:
    """Make the next local `ray.init()` of this process bind loopback only (see module doc).
    Returns whether anything changed (then `restore_cluster_mode` undoes it)."""
    if LOCAL_ONLY_ENV in os.environ:
        return False  # the user decided
    os.environ[LOCAL_ONLY_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # read at import time; later ray.init calls look it up here
        constants.ENABLE_RAY_CLUSTER = False
    return True


def is_loopback_address(address: str | None) -> bool:
    """Whether `address` (`host:port` of a GCS) is on this machine's loopback interface; such a
    cluster (`soclab cluster local`) listens on 127.0.0.1 only, and a driver joining it must keep
    the loopback node address too (`prepare_local_ray`), or Ray turns 127.0.0.1 into the external
    address and retries a GCS that does not listen there."""
    import ipaddress

    if not address or "://" in address or address == "auto":
        return False
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def restore_cluster_mode() -> None:
    """Undo `prepare_local_ray` once the local Ray stopped (a later ray.init may join a cluster)."""
    os.environ.pop(LOCAL_ONLY_ENV, None)
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = not constants.IS_WINDOWS_OR_OSX


def main() -> None:
    """`python -m soclab.loopback start ...`: `ray start`, keeping a loopback node address."""
    from ray._common.network_utils import is_localhost
    from ray._private import services
    from ray.scripts.scripts import main as ray_main

    original = services.resolve_ip_for_localhost

    def keep_loopback(host: str) -> str:
        return host if host and is_localhost(host) else original(host)

    services.resolve_ip_for_localhost = keep_loopback
    sys.argv[0] = "ray"
    ray_main()


if __name__ == "__main__":
    main()
