"""Starting, joining, failing to join and stopping real DHT nodes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from rlswarm_core.swarm.dht import DHTOptions, SwarmNode, start_node
from rlswarm_core.swarm.errors import BootstrapError, SwarmError
from rlswarm_core.swarm.events import EventBus, Joined, Left, SwarmErrorEvent, drain

from .conftest import Swarm, new_identity, options, our_p2pd, wait_no_p2pd


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nodes_join_with_their_identity(swarm: Swarm) -> None:
    for node in swarm.nodes:
        maddrs = node.visible_maddrs()
        assert maddrs and all(m.endswith(f"/p2p/{node.peer_id}") for m in maddrs)
        assert all(m.startswith("/ip4/127.0.0.1/tcp/") for m in maddrs)
        assert len(node.daemon_pids()) == 1
    assert swarm.nodes[1].routing_peers() >= 1


def test_start_emits_joined_and_shutdown_leaves_no_daemon(swarm: Swarm, id_dir: Path) -> None:
    bus = EventBus()
    events = bus.queue()
    identity = new_identity(id_dir)
    node = start_node(options(identity, swarm.bootstrap), bus)
    assert len(node.daemon_pids()) == 1
    node.shutdown()
    node.shutdown()  # idempotent
    kinds = [type(e) for e in drain(events)]
    assert kinds == [Joined, Left]
    assert not wait_no_p2pd(identity.path, timeout=0)


def test_bootstrap_to_a_closed_port_fails_in_bounded_time_with_one_line(id_dir: Path) -> None:
    dead_peer = new_identity(id_dir, "dead")
    target = f"/ip4/127.0.0.1/tcp/{closed_port()}/p2p/{dead_peer.peer_id}"
    joining = new_identity(id_dir)
    started = time.monotonic()
    with pytest.raises(BootstrapError) as info:
        start_node(
            options(
                joining,
                [target],
                bootstrap_attempts=2,
                bootstrap_backoff_s=0.2,
                startup_timeout=5.0,
            )
        )
    elapsed = time.monotonic() - started
    assert elapsed < 25, elapsed
    line = str(info.value)
    assert "\n" not in line
    assert target in line and "2 attempt" in line
    assert "port is open" in line and "peer id" in line
    assert not wait_no_p2pd(joining.path)


def test_a_multiaddr_without_peer_id_is_refused_before_starting(id_dir: Path) -> None:
    with pytest.raises(BootstrapError, match="not a valid multiaddr with a peer id"):
        start_node(options(new_identity(id_dir), ["/ip4/127.0.0.1/tcp/38331"]))


def test_an_identity_already_in_use_is_one_clear_error(swarm: Swarm) -> None:
    taken = swarm.nodes[1].options.identity_path
    opts = DHTOptions(
        identity_path=taken, host="127.0.0.1", port=0, initial_peers=tuple(swarm.bootstrap), rpc_timeout_s=2.0
    )
    started = time.monotonic()
    with pytest.raises(SwarmError, match="identity is already used") as info:
        start_node(opts)
    assert "own identity file" in str(info.value)
    assert time.monotonic() - started < 20
    assert len(swarm.nodes[1].daemon_pids()) == 1  # the running node is untouched


def test_pipe_errors_are_retried_and_never_fatal(swarm: Swarm) -> None:
    node: SwarmNode = swarm.nodes[2]
    events = EventBus()
    node_events, node.events = node.events, events
    seen = events.queue()
    try:
        failures = iter([BlockingIOError(11, "busy"), EOFError()])

        def flaky() -> str:
            failure = next(failures, None)
            if failure is not None:
                raise failure
            return node.visible_maddrs()[0]

        assert node.call("flaky", flaky).endswith(node.peer_id)

        def broken() -> None:
            raise EOFError("pipe closed")

        assert node.call("broken", broken, default="fallback") == "fallback"
        errors = [e for e in drain(seen) if isinstance(e, SwarmErrorEvent)]
        assert [(e.operation, e.message) for e in errors] == [("broken", "EOFError: pipe closed")]
    finally:
        node.events = node_events
    assert our_p2pd(swarm.id_dir)  # the node still runs


def test_a_port_already_in_use_is_one_clear_error(swarm: Swarm, id_dir: Path) -> None:
    busy = int(swarm.nodes[0].visible_maddrs()[0].split("/tcp/")[1].split("/")[0])
    identity = new_identity(id_dir)
    started = time.monotonic()
    with pytest.raises(SwarmError, match=f"port 127.0.0.1:{busy} is already in use") as info:
        start_node(options(identity, swarm.bootstrap, port=busy))
    assert "dht_port" in str(info.value) and time.monotonic() - started < 5
    assert not wait_no_p2pd(identity.path)


def test_a_client_mode_node_publishes_and_reads(swarm: Swarm, node_factory) -> None:
    from rlswarm_core.swarm.coordinator import RoundStage
    from rlswarm_core.swarm.exchange import Exchange

    client = node_factory(client_mode=True)
    rs = RoundStage(500, 0)
    assert Exchange(client, events=EventBus()).publish_reward(rs, 1.25, steps=4)
    assert Exchange(swarm.nodes[3], events=EventBus()).read_rewards(rs).scores() == {client.peer_id: 1.25}
    assert Exchange(client, events=EventBus()).read_rewards(rs).scores() == {client.peer_id: 1.25}


def test_options_come_from_node_settings(tmp_path: Path) -> None:
    from rlswarm_core.settings.model import NodeSettings

    settings = NodeSettings(
        initial_peers=["/ip4/10.0.0.1/tcp/38331/p2p/QmPeer"], announce_maddrs=["/ip4/1.2.3.4/tcp/38332"]
    )
    opts = DHTOptions.from_settings(settings, tmp_path / "id.key", client_mode=True)
    assert opts.host_maddrs() == ["/ip4/0.0.0.0/tcp/38331"]
    assert opts.initial_peers == ("/ip4/10.0.0.1/tcp/38331/p2p/QmPeer",)
    assert opts.announce_maddrs == ("/ip4/1.2.3.4/tcp/38332",)
    assert opts.client_mode and opts.expiration_s == 4 * 3600
