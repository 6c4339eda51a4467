"""Dial-back reachability on real DHT nodes over loopback: a bootnode that `swarm serve` runs dials a
node back from a fresh probe; a node announcing a closed port is told how to fix it; a plain hivemind
bootnode cannot be asked and nothing breaks; a peer cannot make a bootnode dial a third party."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlswarm_core.hosting.serve import SwarmServer
from rlswarm_core.hosting.swarmfile import ServeSection, SwarmFile, save_swarm_file
from rlswarm_core.swarm.dht import SwarmNode, start_node
from rlswarm_core.swarm.events import EventBus, ReachabilityChecked, drain
from rlswarm_core.swarm.reachability import (
    ReachabilityResult,
    ReachabilityWatch,
    check_reachability,
    dial_candidates,
    fix_for,
    without_peer_id,
)
from tests.helpers import Cli

from .conftest import new_identity, options


def closed_port() -> int:
    """A port nothing listens on (bound and released: the OS will not hand it out again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probes_of(node: SwarmNode) -> list[psutil.Process]:
    """p2pd daemons of the node's DHT process other than its own (the dial-back probes)."""
    own = set(node.daemon_pids())
    children = psutil.Process(node.dht.pid).children(recursive=True)
    return [p for p in children if p.name() == "p2pd" and p.pid not in own and p.status() != "zombie"]


def wait_no_probe(node: SwarmNode, timeout: float = 5.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := probes_of(node)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def served(rlswarm_home: Path) -> Iterator[SwarmServer]:
    """A bootnode the way `rlswarm swarm serve` runs it (no chain), on loopback."""
    swarm = SwarmFile(name="reach", serve=ServeSection(host="127.0.0.1", ports=[0]))
    server = SwarmServer(swarm, private_key=None, events=EventBus()).start()
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def node(id_dir: Path, peers: list[str], **overrides: Any) -> Iterator[SwarmNode]:
    started = start_node(options(new_identity(id_dir), peers, **overrides))
    try:
        yield started
    finally:
        started.shutdown()


def test_a_node_at_its_real_address_is_reachable(served: SwarmServer, id_dir: Path) -> None:
    boot = served.nodes[0]
    with node(id_dir, served.bootnode_maddrs()) as joined:
        own = [without_peer_id(m) for m in joined.visible_maddrs()]
        result = check_reachability(joined)
    assert result.reachable is True, result
    assert result.asked == boot.peer_id
    assert result.address in own and result.announced
    assert result.observed == "127.0.0.1" and result.fix == ""
    assert "reachable from outside" in result.summary
    assert not wait_no_probe(boot), "the probe daemon outlived the check"


def test_a_node_announcing_a_closed_port_is_not_reachable_and_told_the_fix(
    served: SwarmServer, id_dir: Path
) -> None:
    port = closed_port()
    announced = f"/ip4/127.0.0.1/tcp/{port}"
    with node(id_dir, served.bootnode_maddrs(), announce_maddrs=(announced,)) as joined:
        listening = [c.laddr.port for c in psutil.Process(joined.daemon_pids()[0]).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN]  # fmt: skip
        result = check_reachability(joined)
        assert joined.visible_maddrs(), "the node keeps running"
    assert result.reachable is False, result
    assert result.tried == (announced,) and result.reason == "connection refused"
    assert str(port) in result.fix and "announce_maddrs" in result.fix
    # the port the node really listens on is the one to announce
    assert f"rlswarm config set announce_maddrs /ip4/127.0.0.1/tcp/{listening[0]}" in result.fix
    assert "not reachable from outside" in result.summary
    assert not wait_no_probe(served.nodes[0])


def test_a_plain_dht_bootnode_cannot_be_asked_and_the_node_runs_on(id_dir: Path) -> None:
    with node(id_dir, []) as plain, node(id_dir, plain.visible_maddrs()) as joined:
        started = time.monotonic()
        result = check_reachability(joined)
        assert time.monotonic() - started < 10
        assert joined.routing_peers() >= 1 and joined.visible_maddrs(), "the node runs on"
    assert result.reachable is None and result.fix == ""
    assert "does not serve the dial-back check" in result.reason
    assert result.summary.startswith("could not ask a peer to dial back")


def test_a_node_without_bootnodes_has_no_one_to_ask(id_dir: Path) -> None:
    with node(id_dir, []) as alone:
        result = check_reachability(alone)
    assert result.reachable is None and "no bootnode" in result.reason


async def _ask_about(_dht: Any, inner: Any, bootnode: str, about: str, maddrs: list[str]) -> dict[str, Any]:
    """In the asking node's DHT process: a request about another peer than the asker."""
    from hivemind.p2p import PeerID

    from rlswarm_core.swarm.reachability_rpc import ReachabilityService, _dict, _struct

    stub = ReachabilityService.get_stub(inner.p2p, PeerID.from_base58(bootnode))
    request = _struct({"v": 1, "peer_id": about, "maddrs": maddrs})
    return _dict(await stub.rpc_check(request, timeout=20))


def test_a_peer_cannot_make_a_bootnode_dial_someone_else(served: SwarmServer, id_dir: Path) -> None:
    boot = served.nodes[0]
    with node(id_dir, []) as victim, node(id_dir, served.bootnode_maddrs()) as asker:
        victim_maddrs = [without_peer_id(m) for m in victim.visible_maddrs()]
        coro = partial(_ask_about, bootnode=boot.peer_id, about=victim.peer_id, maddrs=victim_maddrs)
        answer = asker.dht.run_coroutine(coro, return_future=True).result(timeout=30)
    assert answer.get("reachable") is None
    assert "only ask to be dialled back itself" in answer["reason"]


def test_the_join_watch_emits_one_event(served: SwarmServer, id_dir: Path) -> None:
    bus = EventBus()
    seen = bus.queue()
    with node(id_dir, served.bootnode_maddrs()) as joined:
        watch = ReachabilityWatch(joined, bus).start()
        checked = seen.get(timeout=60)
        watch.close()
    assert isinstance(checked, ReachabilityChecked), checked
    assert checked.reachable is True and checked.asked == served.nodes[0].peer_id
    assert not drain(seen), "one check, one event"


def test_a_watch_closed_before_the_answer_reports_nothing(served: SwarmServer, id_dir: Path) -> None:
    bus = EventBus()
    seen = bus.queue()
    with node(id_dir, served.bootnode_maddrs()) as joined:
        watch = ReachabilityWatch(joined, bus)
        watch.close()  # the node stops before its check could answer
        watch.start().close(timeout=60)
    assert not drain(seen)


@pytest.mark.slow
def test_doctor_swarm_asks_a_bootnode_to_dial_back(
    served: SwarmServer, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_swarm_file(SwarmFile(name="reach", bootnodes=served.bootnode_maddrs()), tmp_path / "s.yaml")
    port = closed_port()
    monkeypatch.setenv("RLSWARM_HOST", "127.0.0.1")
    monkeypatch.setenv("RLSWARM_DHT_PORT", str(port))
    data = json.loads(cli("--json", "doctor", "--swarm", str(path)).stdout)
    check = next(c for c in data["checks"] if c["name"] == "reachability")
    assert check["status"] == "ok", check
    assert check["details"]["reachable"] is True
    assert check["details"]["address"] == f"/ip4/127.0.0.1/tcp/{port}"

    # a node announcing a port where nothing listens: a warning with the fix (another DHT port: the
    # first one's connections may linger in TIME_WAIT)
    port = closed_port()
    monkeypatch.setenv("RLSWARM_DHT_PORT", str(port))
    monkeypatch.setenv("RLSWARM_ANNOUNCE_MADDRS", f"/ip4/127.0.0.1/tcp/{closed_port()}")
    data = json.loads(cli("--json", "doctor", "--swarm", str(path)).stdout)
    check = next(c for c in data["checks"] if c["name"] == "reachability")
    assert check["status"] == "warning", check
    assert f"announce_maddrs /ip4/127.0.0.1/tcp/{port}" in check["fix"]
    assert not wait_no_probe(served.nodes[0])


def test_doctor_leaves_the_port_of_a_running_node_alone(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootnode = "/ip4/127.0.0.1/tcp/9/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
    path = save_swarm_file(SwarmFile(name="reach", bootnodes=[bootnode]), tmp_path / "s.yaml")
    with socket.socket() as running:
        running.bind(("127.0.0.1", 0))
        running.listen(1)
        monkeypatch.setenv("RLSWARM_HOST", "127.0.0.1")
        monkeypatch.setenv("RLSWARM_DHT_PORT", str(running.getsockname()[1]))
        data = json.loads(cli("--json", "doctor", "--swarm", str(path)).stdout)
    check = next(c for c in data["checks"] if c["name"] == "reachability")
    assert check["status"] == "ok" and "is in use (a running node reports this" in check["summary"]


def test_doctor_without_probe_or_swarm_does_not_dial(cli: Cli) -> None:
    data = json.loads(cli("--json", "doctor", "--offline").stdout)
    check = next(c for c in data["checks"] if c["name"] == "reachability")
    assert check["status"] == "ok" and check["summary"].startswith("not checked")


# --- the rules, without processes --------------------------------------------------------------------


def test_dial_candidates_stay_on_the_askers_ip() -> None:
    announced = ["/ip4/192.168.1.5/tcp/38331", "/ip4/127.0.0.1/tcp/38331", "/ip4/8.8.8.8/tcp/53"]
    # behind a NAT: the router's address with each announced port, never the other hosts named
    assert dial_candidates(announced, ["203.0.113.7"]) == [
        "/ip4/203.0.113.7/tcp/38331",
        "/ip4/203.0.113.7/tcp/53",
    ]
    assert dial_candidates(["/ip4/203.0.113.7/tcp/40000"], ["203.0.113.7"]) == ["/ip4/203.0.113.7/tcp/40000"]
    assert dial_candidates(["/ip6/::1/tcp/7"], ["::1"]) == ["/ip6/::1/tcp/7"]
    assert dial_candidates(["/ip4/1.2.3.4/udp/5/quic"], ["1.2.3.4"]) == []


def test_an_answer_from_a_hostile_peer_is_cleaned_or_refused() -> None:
    from rlswarm_core.swarm.reachability import _from_answer

    odd = _from_answer({"reachable": "yes", "reason": "\x1b[2Jgone\nnext", "tried": "/ip4/1.2.3.4/tcp/1"})
    assert odd.reachable is None and odd.reason == "[2Jgone next" and odd.tried == ()
    with pytest.raises(ValueError):
        _from_answer({"reachable": False, "observed": "not an ip"})


def test_fix_lines_name_the_port_and_what_to_set() -> None:
    def unreachable(reason: str, **kw: Any) -> ReachabilityResult:
        base = dict(reachable=False, tried=("/ip4/203.0.113.7/tcp/38331",), observed="203.0.113.7")
        return ReachabilityResult(**{**base, "reason": reason, **kw})  # type: ignore[arg-type]

    refused = fix_for(unreachable("connection refused"))
    assert refused.startswith("forward TCP port 38331 on the router")
    assert refused.endswith("rlswarm config set announce_maddrs /ip4/203.0.113.7/tcp/38331")
    assert "sudo ufw allow 38331/tcp" in fix_for(unreachable("no answer in time (timeout)"))
    assert "already names" in fix_for(
        unreachable("connection refused"), announced=["/ip4/203.0.113.7/tcp/38331/p2p/Qm"]
    )
    assert "host 0.0.0.0" in fix_for(unreachable("connection refused"), listen_host="127.0.0.1")
    assert "listens on TCP 40000 but announces port 38331" in fix_for(
        unreachable("connection refused"), listen_ports=[40000]
    )
    assert "another machine answers" in fix_for(unreachable("peer id mismatch"))
    hidden = ReachabilityResult(True, address="/ip4/203.0.113.7/tcp/38331", announced=False)
    assert fix_for(hidden).startswith("announce the address peers can dial")
    assert fix_for(ReachabilityResult(None, reason="busy")) == ""
