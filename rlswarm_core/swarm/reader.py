"""A short-lived DHT reader for commands: look a few keys up in the swarm and leave.

A node runs hivemind's DHT in a process of its own (:mod:`rlswarm_core.swarm.dht_process`) because it
lives for weeks next to a training loop. A command that only reads (``rewards --source dht``) needs
none of that: this reader runs a client-mode ``DHTNode`` in the caller's thread, on its own event loop,
imported without torch (:mod:`rlswarm_core.swarm.light_import`), with a throwaway identity and the
same record validators as a node, so every value it returns had a valid owner signature. Its ``p2pd``
starts without the caller's secret variables and is stopped, with its sockets, when the reader closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rlswarm_core.errors import whole_line
from rlswarm_core.swarm.errors import BootstrapError
from rlswarm_core.swarm.events import EventBus


class DHTReader:
    """Use :func:`open_reader`. ``get_many`` has the shape of :meth:`SwarmNode.get_many`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, node: Any, peer_id: str) -> None:
        self._loop = loop
        self._node = node
        self.peer_id = peer_id
        self.events = EventBus()

    def get_many(
        self, keys: Sequence[str], timeout: float, versions: Mapping[str, float] | None = None
    ) -> dict[str, dict[Any, Any] | None]:
        """Latest value of each key, as ``{subkey: value}``; keys not found within ``timeout`` map to None."""
        return self._get(keys, timeout, versions, with_expiration=False)

    def get_entries(
        self, keys: Sequence[str], timeout: float, versions: Mapping[str, float] | None = None
    ) -> dict[str, dict[Any, tuple[Any, float]] | None]:
        """Like :meth:`get_many`, with each entry's DHT expiration time: ``{subkey: (value, expires)}``."""
        return self._get(keys, timeout, versions, with_expiration=True)

    def _get(
        self, keys: Sequence[str], timeout: float, versions: Mapping[str, float] | None, with_expiration: bool
    ) -> dict[str, Any]:
        from rlswarm_core.swarm.dht import get_latest

        if not keys:
            return {}
        found = get_latest(self._node, list(keys), timeout, versions, with_expiration=with_expiration)
        return self._loop.run_until_complete(found)


@contextlib.contextmanager
def open_reader(initial_peers: Sequence[str], *, timeout: float = 1.5) -> Iterator[DHTReader]:
    """A reader joined to the swarm through ``initial_peers``; one :class:`BootstrapError` line when no
    initial peer answers within ``timeout`` seconds."""
    from rlswarm_core.swarm.dht import _check_initial_peers
    from rlswarm_core.swarm.light_import import dht_node_class

    dht_node = dht_node_class()
    _check_initial_peers(initial_peers)
    _quiet_hivemind_logs()
    loop = asyncio.new_event_loop()
    p2p = node = None
    started, watchers = time.time(), _child_watchers()
    try:
        try:
            p2p = loop.run_until_complete(_start_daemon(list(initial_peers), timeout))
        except BootstrapError:
            _after_failed_daemon(loop, started, watchers)
            raise
        node = loop.run_until_complete(_join(dht_node, p2p, list(initial_peers), timeout))
        yield DHTReader(loop, node, str(node.peer_id))
    finally:
        # the node first (it closes its RPC handlers), then the daemon it runs on
        for closing in (node, p2p):
            if closing is not None:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(closing.shutdown(), timeout=5.0))
        _close_loop(loop)


def _child_watchers() -> set[threading.Thread]:
    # asyncio reaps a subprocess from a "waitpid-N" thread, which then calls back into the loop
    return {t for t in threading.enumerate() if t.name.startswith("waitpid-")}


def _after_failed_daemon(
    loop: asyncio.AbstractEventLoop, started: float, before: set[threading.Thread]
) -> None:
    """A p2pd that exited during start-up (no initial peer answered): let asyncio finish reaping it while
    the loop is open (a reaping thread that finds the loop closed prints a warning), and remove the
    sockets it left in /tmp."""
    from rlswarm_core.swarm.dht_process import remove_dead_daemon_sockets

    for thread in _child_watchers() - before:
        thread.join(timeout=5.0)
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.sleep(0))
    with contextlib.suppress(Exception):
        remove_dead_daemon_sockets(started)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what hivemind left running (its timers, replica caching) and close the loop quietly: a
    task still pending at close is reported on stderr, in the middle of the command's output."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


async def _start_daemon(initial_peers: list[str], timeout: float) -> Any:
    from hivemind.p2p import P2P

    from rlswarm_core.system.environment import secrets_withheld

    with secrets_withheld():  # p2pd gets a copy of the environment as it is now
        try:
            return await P2P.create(
                initial_peers=initial_peers,
                host_maddrs=["/ip4/127.0.0.1/tcp/0"],
                dht_mode="client",
                # a reader is gone in a second: no NAT discovery, port mapping or relays
                auto_nat=False,
                nat_port_map=False,
                use_relay=False,
            )
        except Exception as exc:
            raise _unreachable(initial_peers, exc) from None


async def _join(dht_node: Any, p2p: Any, initial_peers: list[str], timeout: float) -> Any:
    from hivemind.utils.crypto import RSAPrivateKey

    from rlswarm_core.swarm.records import validators

    # a reader never stores: its signing key only completes the validator, which checks others' keys;
    # the process-wide key saves generating an RSA key on every read (``rewards --watch``)
    (validator,) = validators(RSAPrivateKey.process_wide())
    try:
        return await dht_node.create(
            p2p=p2p,
            initial_peers=initial_peers,
            client_mode=True,
            record_validator=validator,
            wait_timeout=timeout,
            bootstrap_timeout=timeout,
            cache_locally=False,
        )
    except Exception as exc:
        raise _unreachable(initial_peers, exc) from None


def _unreachable(initial_peers: list[str], exc: BaseException) -> BootstrapError:
    from rlswarm_core.swarm.dht import daemon_message

    why = daemon_message(str(exc)).splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BootstrapError(
        f"could not reach the swarm through {', '.join(initial_peers)}: {whole_line(why)}",
        "check that the peer is running and its port is open, and that the multiaddr is right",
    )


def _quiet_hivemind_logs() -> None:
    # hivemind's own stderr handler would print its records (shutdown notices among them) into the
    # command's output; they go to the application's logging instead
    from hivemind.utils.logging import use_hivemind_log_handler

    use_hivemind_log_handler("nowhere")
