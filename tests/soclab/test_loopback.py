"""Which addresses are loopback clusters (a driver joining one keeps its loopback node address)."""

from __future__ import annotations

import pytest

from soclab.loopback import LOCAL_ONLY_ENV, is_loopback_address


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1:6379", True), ("127.3.4.5:1", True), ("localhost:6379", True), ("[::1]:6379", True),
    ("10.0.0.7:6379", False), ("head.example:6379", False), ("ray://127.0.0.1:10001", False),
    ("auto", False), (None, False), ("", False),
])
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_cluster_env_makes_drivers_keep_the_loopback_address(tmp_path) -> None:
    from soclab.cluster import ClusterState

    state = ClusterState(state_dir=str(tmp_path), address="127.0.0.1:6379", token_file="t",
                         temp_root=str(tmp_path), created_at=0.0)
    env = state.client_env()
    assert env[LOCAL_ONLY_ENV] == "0" and env["RAY_ADDRESS"] == "127.0.0.1:6379"
