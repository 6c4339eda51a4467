"""The planner's arithmetic for several machines, port allocation against real sockets, and the records."""

from __future__ import annotations

import socket

import pytest

from rlswarm_core.identity.keys import load_identity
from rlswarm_core.instances import planner, registry
from rlswarm_core.settings.model import load_yaml_mapping
from rlswarm_core.system.hardware import Gpu, Hardware
from rlswarm_core.system.paths import app_paths
from tests.instances.ports import free_port_block

TINY = {"memory_budget_gb": 1, "threads": 1}


def machine(cores: int = 8, memory: float = 32.0, gpus: tuple[Gpu, ...] = ()) -> Hardware:
    return Hardware(
        accelerator="cuda" if gpus else "cpu",
        system="Linux",
        machine="x86_64",
        chip="test",
        cpu_cores_logical=cores,
        cpu_cores_physical=cores,
        memory_gb=memory,
        memory_available_gb=memory * 0.8,
        gpus=gpus,
    )


def test_threads_are_shared_and_n_is_recommended_from_cores_and_memory() -> None:
    hw = machine(cores=8, memory=32)
    result = planner.plan(hw, TINY, 2)
    assert result.fits and result.threads == 4 and result.memory_budget_gb == 1
    assert result.recommended == 8  # cores bound it: 8 cores / 1 thread, memory would allow 16
    assert planner.recommend(machine(cores=64, memory=16), {"memory_budget_gb": 6}) == 2


def test_a_machine_too_small_is_refused_with_numbers() -> None:
    result = planner.plan(machine(cores=4, memory=16), {"memory_budget_gb": 6}, 3)
    assert not result.fits
    assert "3 instance(s) need about 20.2 GB" in result.warnings[0]
    assert "14.4 GB usable of 16 GB; at most 2 fit" in result.warnings[0]


def test_more_instances_than_cores_is_a_warning() -> None:
    result = planner.plan(machine(cores=2, memory=64), TINY, 2, existing=1)
    assert result.fits and result.threads == 1
    assert any("3 instance(s) on 2 core(s)" in w for w in result.warnings)
    assert any("2 instance(s) is the recommended number" in w for w in result.warnings)


def test_gpus_are_assigned_round_robin_or_pinned() -> None:
    hw = machine(gpus=(Gpu("A", 24.0), Gpu("B", 24.0)))
    assert planner.plan(hw, {"memory_budget_gb": 20}, 3, existing=1).gpus == [1, 0, 1]
    assert planner.plan(hw, {"memory_budget_gb": 20}, 2, gpu=1).gpus == [1, 1]
    with pytest.raises(planner.CapacityError, match="there is no GPU 5"):
        planner.plan(hw, TINY, 1, gpu=5)
    with pytest.raises(planner.CapacityError, match="no CUDA GPU"):
        planner.plan(machine(), TINY, 1, gpu=0)


def test_ports_skip_busy_and_owned_ones() -> None:
    base = free_port_block(5)
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", base + 1))
        busy.listen()
        assert not planner.port_is_free(base + 1)
        assert planner.allocate_ports(3, taken=[base + 2], start=base) == [base, base + 3, base + 4]


def test_a_follower_record_points_at_the_coordinator_it_can_compute_offline() -> None:
    base = free_port_block(2)
    first = registry.create("a", profile="local-tiny", port=base, threads=1, memory_budget_gb=1.0)
    registry.create(
        "b", profile="local-tiny", port=base + 1, threads=1, memory_budget_gb=1.0, gpu=0, coordinator=first
    )
    peer = load_identity(app_paths().identities / "a.pem").peer_id
    assert first.peer_id == peer and first.role == "coordinator"
    layer = load_yaml_mapping(app_paths().instances / "b" / "settings.yaml", "instance settings")
    assert layer["initial_peers"] == [f"/ip4/127.0.0.1/tcp/{base}/p2p/{peer}"]
    assert layer["dht_port"] == base + 1
    assert layer["env"] == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "0"}
    loaded = registry.load("b")
    assert (loaded.role, loaded.coordinator_peer_id, loaded.gpu) == ("follower", peer, 0)
    assert [r.name for r in registry.list_records()] == ["a", "b"]
    assert registry.next_names(2, {"node-1", "node-3"}) == ["node-2", "node-4"]
    with pytest.raises(registry.InstanceError, match="already exists"):
        registry.create("a", profile="local-tiny", port=base, threads=1, memory_budget_gb=1.0)


def test_the_settings_layer_is_what_join_resolves() -> None:
    from rlswarm_core.settings.resolve import resolve_node_settings

    base = free_port_block(1)
    registry.create(
        "solo", profile="local-tiny", port=base, threads=1, memory_budget_gb=1.0, host="127.0.0.1"
    )
    layer = load_yaml_mapping(app_paths().instances / "solo" / "settings.yaml", "instance settings")
    settings = resolve_node_settings({}, instance=layer).settings
    assert (settings.profile, settings.dht_port, settings.threads, settings.host) == (
        "local-tiny",
        base,
        1,
        "127.0.0.1",
    )


def test_bad_names_and_broken_records_are_one_line_errors() -> None:
    from rlswarm_core.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid instance name"):
        registry.check_name("../x")
    folder = app_paths().instances / "broken"
    folder.mkdir(parents=True)
    (folder / "instance.yaml").write_text("name: broken\n")
    with pytest.raises(ConfigError, match="is incomplete"):
        registry.load("broken")
    with pytest.raises(registry.InstanceError, match="no instance named 'ghost'"):
        registry.load("ghost")
