"""Real hivemind DHT nodes on 127.0.0.1 for the swarm tests, and a session-end check for leaked p2pd."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlswarm_core.identity.keys import Identity, create_identity
from rlswarm_core.swarm.dht import DHTOptions, SwarmNode, start_node
from rlswarm_core.swarm.events import EventBus

RPC_TIMEOUT_S = 2.0


def our_p2pd(base: Path, descendants: bool = True) -> list[psutil.Process]:
    """Running p2pd daemons whose identity file lies under ``base`` (this catches orphans of killed
    nodes) and, with ``descendants``, every p2pd this process started."""
    children = {p.pid for p in psutil.Process().children(recursive=True)} if descendants else set()
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        if proc.info["name"] != "p2pd" or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.pid in children or f"-id={base}" in cmdline:
            found.append(proc)
    return found


def wait_no_p2pd(base: Path, timeout: float = 5.0, descendants: bool = False) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        left = our_p2pd(base, descendants)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(scope="session", autouse=True)
def no_leaked_p2pd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    base = tmp_path_factory.getbasetemp()
    yield
    leaked = wait_no_p2pd(base, descendants=True)
    if leaked:
        details = [f"{p.pid} {' '.join(p.cmdline())[:160]}" for p in leaked if p.is_running()]
        for proc in leaked:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        pytest.fail(f"p2pd processes left running after the swarm tests: {details}")


@pytest.fixture(scope="session")
def id_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("identities")


_counter = iter(range(10**6))


def new_identity(id_dir: Path, name: str = "node") -> Identity:
    return create_identity(id_dir / f"{name}-{next(_counter)}.key")


def options(identity: Identity, initial_peers: Sequence[str] = (), **overrides: Any) -> DHTOptions:
    base: dict[str, Any] = dict(
        identity_path=identity.path,
        host="127.0.0.1",
        port=0,  # a free ephemeral port chosen by the OS
        initial_peers=tuple(initial_peers),
        rpc_timeout_s=RPC_TIMEOUT_S,
        startup_timeout=15.0,
    )
    base.update(overrides)
    return DHTOptions(**base)


@dataclass
class Swarm:
    nodes: list[SwarmNode]
    buses: list[EventBus]
    bootstrap: list[str]
    id_dir: Path

    @property
    def coordinator(self) -> SwarmNode:
        return self.nodes[0]


@pytest.fixture(scope="session")
def swarm(id_dir: Path) -> Iterator[Swarm]:
    """Four honest nodes: node 0 is the bootstrap peer (and the clock's coordinator)."""
    nodes: list[SwarmNode] = []
    buses: list[EventBus] = []
    try:
        bus = EventBus()
        first = start_node(options(new_identity(id_dir, "boot")), bus)
        nodes.append(first)
        buses.append(bus)
        bootstrap = first.visible_maddrs()
        for i in range(3):
            bus = EventBus()
            nodes.append(start_node(options(new_identity(id_dir, f"peer{i}"), bootstrap), bus))
            buses.append(bus)
        yield Swarm(nodes=nodes, buses=buses, bootstrap=bootstrap, id_dir=id_dir)
    finally:
        for node in nodes:
            node.shutdown()


@pytest.fixture
def node_factory(swarm: Swarm) -> Iterator[Callable[..., SwarmNode]]:
    """Extra honest nodes joined to the session swarm, shut down after the test."""
    started: list[SwarmNode] = []

    def make(events: EventBus | None = None, **overrides: Any) -> SwarmNode:
        node = start_node(options(new_identity(swarm.id_dir, "extra"), swarm.bootstrap, **overrides), events)
        started.append(node)
        return node

    yield make
    for node in started:
        node.shutdown()
