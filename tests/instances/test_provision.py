"""Adding and naming instances (rlswarm_core.instances.provision), without the CLI: roles, ports, capacity."""

from __future__ import annotations

import pytest

from rlswarm_core.instances import provision, registry
from rlswarm_core.instances.planner import CapacityError
from rlswarm_core.instances.registry import InstanceError
from rlswarm_core.settings.resolve import update_user_config
from rlswarm_core.system import hardware
from rlswarm_core.system.paths import app_paths
from tests.instances.ports import free_port_block

BOOT = "/ip4/10.0.0.1/tcp/38331/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"


def test_a_private_swarm_gets_one_coordinator_and_followers_on_loopback() -> None:
    port = free_port_block(3)
    first = provision.add_instances(profile="local-tiny", count=2, port=port, host="127.0.0.1")
    coordinator, follower = first.created
    assert (coordinator.role, follower.role) == ("coordinator", "follower")
    assert follower.settings["initial_peers"] == [
        registry.loopback_maddr(coordinator.port, coordinator.peer_id)
    ]
    assert [r.port for r in first.created] == [port, port + 1]
    later = provision.add_instances(profile="local-tiny", name="extra", port=port)
    (extra,) = later.created
    assert extra.role == "follower" and extra.coordinator_peer_id == coordinator.peer_id
    assert extra.port not in (port, port + 1)  # ports other instances own are skipped
    assert app_paths().identity_file("extra").is_file()


def test_with_bootstrap_peers_every_instance_follows_the_public_swarm() -> None:
    update_user_config(initial_peers=[BOOT])
    added = provision.add_instances(profile="local-tiny", count=2, port=free_port_block(2))
    assert [(r.role, r.coordinator_peer_id) for r in added.created] == [("follower", None)] * 2
    assert "initial_peers" not in registry.load("node-1").settings


def test_capacity_is_refused_unless_forced_and_nothing_is_created() -> None:
    if hardware.detect().gpus:
        pytest.skip("the memory bound is checked on CPU machines")
    machine, plan = provision.plan_for("cpu", 1)
    too_many = plan.recommended * 50
    with pytest.raises(CapacityError, match="--force"):
        provision.add_instances(profile="cpu", count=too_many)
    assert registry.list_records() == []
    assert machine.name == "cpu"


def test_names_resolve_to_existing_instances() -> None:
    with pytest.raises(InstanceError, match="no instances yet"):
        provision.resolve_names(None)
    provision.add_instances(profile="local-tiny", count=2, port=free_port_block(2))
    assert provision.resolve_names(None) == ["node-1", "node-2"]
    assert provision.resolve_names(["node-2"]) == ["node-2"]
    with pytest.raises(InstanceError, match="no instance named 'ghost'"):
        provision.resolve_names(["ghost"])
    with pytest.raises(InstanceError, match="--name names one instance"):
        provision.add_instances(profile="local-tiny", count=2, name="x")


def test_removing_a_stopped_instance_keeps_its_identity_unless_asked() -> None:
    provision.add_instances(profile="local-tiny", count=2, port=free_port_block(2))
    provision.remove_instance("node-1")
    assert app_paths().identity_file("node-1").exists()
    provision.remove_instance("node-2", delete_identity=True)
    assert not app_paths().identity_file("node-2").exists()
    assert registry.list_records() == []
