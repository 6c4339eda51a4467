"""``join`` reports a bad address, a privileged port or a taken port at once: one line, before it imports
torch, transformers, trl, hivemind or web3."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.node.preflight import multiaddr_problem
from tests.helpers import heavy_imports_of, run_rlswarm

PEER = "12D3KooWAbCdEfGhJkLmNpQrStUvWxYz123456789abcdefghijk"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _join_fails(home: Path, *flags: str) -> str:
    env = {"RLSWARM_HOME": str(home)}
    args = ("join", "--profile", "local-tiny", "--host", "127.0.0.1", *flags)
    done = run_rlswarm(*args, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert heavy_imports_of(*args, env=env) == []
    return lines[0]


def test_bad_initial_peer_fails_before_heavy_imports(tmp_path: Path) -> None:
    line = _join_fails(tmp_path, "--port", "0", "--initial-peer", "/ip4/10.0.0.300/tcp/38331/p2p/" + PEER)
    assert "initial peer" in line and "not an ip4 address" in line and "/p2p/PEER_ID" in line


def test_busy_port_fails_before_heavy_imports(tmp_path: Path, busy_port: int) -> None:
    line = _join_fails(tmp_path, "--port", str(busy_port))
    assert f"127.0.0.1:{busy_port} is already in use" in line and "--port" in line


def test_privileged_port_is_refused_unless_allowed(tmp_path: Path) -> None:
    line = _join_fails(tmp_path, "--port", "1")
    assert "privileged" in line and "RLSWARM_ALLOW_PRIVILEGED_PORT" in line


@pytest.mark.parametrize(
    ("maddr", "problem"),
    [
        ("127.0.0.1:38331", "must start with /"),
        ("/ip4/127.0.0.1/tcp/38331", "without /p2p/"),
        ("/ip4/127.0.0.1/tcp/70000/p2p/" + PEER, "port '70000'"),
        ("/ip6/127.0.0.1/tcp/1/p2p/" + PEER, "not an ip6 address"),
        ("/ip4/127.0.0.1/tcp/1/p2p/0OIl", "not a peer id"),
        ("/ip4/127.0.0.1/tcp/38331/p2p/" + PEER, ""),
        ("/dns/node.example/tcp/38331/p2p/" + PEER, ""),
        ("/ip4/127.0.0.1/udp/38331/quic/p2p/" + PEER, ""),
    ],
)
def test_multiaddr_problems_are_named(maddr: str, problem: str) -> None:
    found = multiaddr_problem(maddr, need_peer_id=True)
    assert (problem in found) if problem else found == ""
