"""`rlswarm join` asks a peer to dial it back once it has joined: a follower that announces a port where
nothing listens is warned (event, instance log line) with the fix, and trains on; the first node, with no
one to ask, asks no one."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from tests.node.procs import NodeProcess, loopback_maddr

pytestmark = pytest.mark.slow

COMMON = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0", "--stage-timeout", "120"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_follower_nobody_can_dial_is_warned_and_trains_on(tmp_path: Path) -> None:
    port = closed_port()
    announced = f"/ip4/127.0.0.1/tcp/{port}"
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess("coord", tmp_path / "coord", [*COMMON, "--role", "coordinator"])
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=180)
        follower = NodeProcess(
            "follower",
            tmp_path / "follower",
            [*COMMON, "--role", "follower", "--initial-peer", loopback_maddr(started)],
            env={"RLSWARM_ANNOUNCE_MADDRS": announced},
        )
        nodes.append(follower)
        checked = follower.wait_for(lambda e: e["kind"] == "ReachabilityChecked", timeout=180)
        assert checked["reachable"] is False, checked
        assert checked["asked"] == started["peer_id"]  # the coordinator dialled back
        assert checked["tried"] == [announced] and checked["reason"] == "connection refused"
        assert str(port) in checked["fix"] and "announce_maddrs" in checked["fix"]
        # training goes on either way
        follower.wait_for(lambda e: e["kind"] == "StageStarted", timeout=180)
        log = (tmp_path / "follower" / "logs" / "default.log").read_text()
        assert f"warning: peers cannot dial this node ({announced}: connection refused); " in log
        assert not coord.of("ReachabilityChecked"), "the first node has no one to ask"
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"
