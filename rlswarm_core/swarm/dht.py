"""The node's hivemind DHT: start with the node's identity, bootstrap with retries, call without dying
on pipe hiccups, and shut down leaving no ``p2pd`` behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rlswarm_core.errors import IdentityError, whole_line
from rlswarm_core.identity.keys import load_identity, parse_identity_bytes
from rlswarm_core.swarm.dht_channel import ChannelClosed, DHTChannel
from rlswarm_core.swarm.errors import BootstrapError, SwarmError
from rlswarm_core.swarm.events import EventBus, Joined, Left, SwarmErrorEvent
from rlswarm_core.swarm.records import DEFAULT_EXPIRATION_S, DEFAULT_MAX_VALUE_BYTES, validators
from rlswarm_core.system.processes import terminate_then_kill

DEFAULT_DHT_PORT = 38331
_GO_TIMESTAMP = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? ")
# hivemind's pipe to its DHT process can fail transiently under load; these are retried, never fatal
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    BlockingIOError,
    EOFError,
    BrokenPipeError,
    ConnectionResetError,
)


@dataclass(frozen=True)
class DHTOptions:
    identity_path: Path
    host: str = "0.0.0.0"
    port: int = DEFAULT_DHT_PORT
    announce_maddrs: tuple[str, ...] = ()
    initial_peers: tuple[str, ...] = ()
    startup_timeout: float = 15.0
    client_mode: bool = False
    bootstrap_attempts: int = 3
    bootstrap_backoff_s: float = 1.0
    expiration_s: float = DEFAULT_EXPIRATION_S
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    # a peer that does not answer an RPC within this many seconds is treated as gone for that call
    rpc_timeout_s: float = 3.0
    call_retries: int = 3
    # upper bound on a store or control call into the DHT process
    call_timeout_s: float = 30.0
    # where the DHT process's output and log records go (the instance log); None: inherited stderr
    log_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any, identity_path: Path, **overrides: Any) -> DHTOptions:
        """Options from a resolved ``NodeSettings`` (host, dht_port, initial_peers, announce_maddrs)."""
        base: dict[str, Any] = dict(
            identity_path=Path(identity_path),
            host=settings.host,
            port=settings.dht_port,
            announce_maddrs=tuple(settings.announce_maddrs),
            initial_peers=tuple(settings.initial_peers),
        )
        base.update(overrides)
        return cls(**base)

    def host_maddrs(self) -> list[str]:
        proto = "ip6" if ":" in self.host else "ip4"
        return [f"/{proto}/{self.host}/tcp/{self.port}"]


def identity_signing_key(identity_path: Path) -> Any:
    """The identity's RSA key as hivemind's ``RSAPrivateKey``, so records are signed by the peer id's key
    (hivemind would otherwise sign with a random process-wide key unrelated to the peer id)."""
    from hivemind.utils.crypto import RSAPrivateKey

    try:
        key = parse_identity_bytes(Path(identity_path).read_bytes())
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{identity_path} is not a usable identity: {exc}") from None

    class IdentityKey(RSAPrivateKey):
        def __init__(self) -> None:
            self._private_key = key

    return IdentityKey()


def _check_initial_peers(peers: Sequence[str]) -> None:
    from hivemind.utils.multiaddr import Multiaddr

    for peer in peers:
        try:
            maddr = Multiaddr(peer)
            maddr["p2p"]
        except Exception:
            raise BootstrapError(
                f"initial peer {peer!r} is not a valid multiaddr with a peer id",
                "use the form /ip4/HOST/tcp/PORT/p2p/PEER_ID, as printed by the peer you join",
            ) from None


def _check_port_free(host: str, port: int) -> None:
    """p2pd binds with SO_REUSEPORT, so a second node on a taken port starts anyway and then fails in
    confusing ways (or silently shares the port); a plain bind tells the truth first."""
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise SwarmError(
                f"cannot start the DHT node: the DHT port {host}:{port} is already in use",
                "stop the other node, or give this one its own dht_port (38332, 38333, ...)",
            ) from None


def _p2pd_for_identity(identity_path: Path, since: float) -> list[Any]:
    """p2pd daemons started for this identity since ``since`` (each node's identity is unique)."""
    import psutil

    flag = f"-id={identity_path}"
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
        info = proc.info
        if info["name"] != "p2pd" or not info["cmdline"] or info["create_time"] < since - 1:
            continue
        if flag in info["cmdline"]:
            found.append(proc)
    return found


def _stop_dht_process(dht: Any, started: float, identity_path: Path) -> None:
    """Ask the DHT process to stop (it stops p2pd); SIGTERM makes it end its session (p2pd first)."""
    from rlswarm_core.swarm.dht_process import remove_dead_daemon_sockets, stop_group

    with contextlib.suppress(Exception):
        dht.shutdown()
    with contextlib.suppress(Exception):
        if dht.is_alive():
            dht.terminate()
        dht.join(3)
    stop_group(dht)
    terminate_then_kill(_p2pd_for_identity(identity_path, started), timeout=3.0)
    with contextlib.suppress(Exception):  # litter only: never worth failing the start's own error
        remove_dead_daemon_sockets(started)


def daemon_message(text: str) -> str:
    """p2pd's message without the go-log timestamps that only add noise to the one line."""
    return _GO_TIMESTAMP.sub("", text).strip()


def _failure_hint(exc: BaseException) -> tuple[str, bool]:
    """(why, retryable) for a start failure, from hivemind's message."""
    text = str(exc)
    lowered = text.lower()
    if "already taken" in lowered or "already in use by" in lowered:
        return "this identity is already used by a running node", False
    if "address already in use" in lowered or ("bind" in lowered and "in use" in lowered):
        return "the DHT port is already in use", False
    text = daemon_message(text)
    first = text.splitlines()[0] if text else type(exc).__name__
    return whole_line(first), True


class SwarmNode:
    """A running DHT node. Use :func:`start_node`; call :meth:`shutdown` (or use it as a context manager)."""

    def __init__(self, dht: Any, options: DHTOptions, peer_id: str, events: EventBus, started: float) -> None:
        self.dht = dht
        self.options = options
        self.peer_id = peer_id
        self.events = events
        self._started = started
        self._private_key = None
        self._closed = False
        # the lasting call channel into the DHT process (see dht_channel); None: hivemind's own calls
        self._channel: DHTChannel | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> SwarmNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def public_key(self) -> bytes:
        """The node's RSA public key in the OpenSSH form hivemind's owner subkeys carry."""
        if self._private_key is None:
            self._private_key = identity_signing_key(self.options.identity_path)
        return self._private_key.get_public_key().to_bytes()

    def visible_maddrs(self) -> list[str]:
        return self.run("visible_maddrs", _visible_maddrs, default=[], timeout=self.options.call_timeout_s)

    def daemon_pids(self) -> list[int]:
        return [p.pid for p in _p2pd_for_identity(self.options.identity_path, self._started)]

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._channel is not None:
            self._channel.close()  # calls still waiting end now, not at their timeout
        _stop_dht_process(self.dht, self._started, self.options.identity_path)
        self.events.emit(Left(peer_id=self.peer_id))

    # -- calls -----------------------------------------------------------------------------------
    def call(self, operation: str, fn: Any, default: Any = None, timeout: float | None = None) -> Any:
        """Run ``fn`` (a call into the DHT process); transient pipe errors are retried with backoff and,
        when they persist, reported as an event while ``default`` is returned."""
        last: BaseException | None = None
        for attempt in range(max(1, self.options.call_retries)):
            try:
                return fn()
            except TRANSIENT_ERRORS as exc:
                last = exc
                time.sleep(min(0.05 * 2**attempt, 1.0))
            except TimeoutError as exc:
                last = exc
                break
        self.events.emit(
            SwarmErrorEvent(operation=operation, message=f"{type(last).__name__}: {last}".strip(": "))
        )
        return default

    def expiration(self) -> float:
        from hivemind.utils import get_dht_time

        return get_dht_time() + self.options.expiration_s

    def store_many(
        self, items: Sequence[tuple[str, bytes, bytes]], expiration_s: float | None = None
    ) -> bool:
        """Store ``(key, subkey, value)`` items in one DHT call; True when every item was stored."""
        if not items:
            return True
        from hivemind.utils import get_dht_time

        expiration = get_dht_time() + (
            expiration_s if expiration_s is not None else self.options.expiration_s
        )
        coro = partial(
            _store_many,
            keys=[k for k, _, _ in items],
            subkeys=[s for _, s, _ in items],
            values=[v for _, _, v in items],
            expiration_time=expiration,
        )
        result = self.run("store", coro, default=None, timeout=self.options.call_timeout_s)
        return bool(result) and all(result)

    def get_many(
        self, keys: Sequence[str], timeout: float, versions: Mapping[str, float] | None = None
    ) -> dict[str, dict[Any, Any] | None]:
        """Latest value of each key, as ``{subkey: value}``; keys not found within ``timeout`` map to None.

        The deadline is enforced inside the DHT process, so an unresponsive peer cannot hold the caller.
        ``versions`` (see :func:`get_latest`) lets a read stop at the first replica that holds the
        version it expects instead of asking every replica.
        """
        found = self.get_entries(keys, timeout, versions)
        return {
            key: None if entries is None else {sub: v for sub, (v, _) in entries.items()}
            for key, entries in found.items()
        }

    def get_entries(
        self, keys: Sequence[str], timeout: float, versions: Mapping[str, float] | None = None
    ) -> dict[str, dict[Any, tuple[Any, float]] | None]:
        """Like :meth:`get_many`, with each entry's DHT expiration time: ``{subkey: (value, expires)}``."""
        if not keys:
            return {}
        coro = partial(_get_many_in_process, keys=list(keys), timeout=timeout, versions=dict(versions or {}))
        found = self.run("get", coro, default=None, timeout=timeout + 5.0)
        return found if found is not None else dict.fromkeys(keys)

    def routing_peers(self) -> int:
        return int(self.run("routing_peers", _routing_peers, default=0, timeout=self.options.call_timeout_s))

    def validator_stats(self) -> dict[str, Any]:
        """Accepted/rejected record counts from this node's validators (rejections by reason)."""
        return self.run("validator_stats", _validator_stats, default={}, timeout=self.options.call_timeout_s)

    def run(self, operation: str, coro: Any, default: Any, timeout: float) -> Any:
        """Run ``coro(dht, node)`` in the DHT process, waiting at most ``timeout`` seconds for it.

        A failure (pipe error after retries, timeout, a DHT process that exited) becomes a
        :class:`SwarmErrorEvent` and ``default``: a DHT problem never stops the caller.
        """
        channel = self._channel
        if channel is not None:
            submit = partial(channel.submit, coro)
        else:
            submit = partial(self.dht.run_coroutine, coro, return_future=True)
        try:
            future = self.call(operation, submit, default=None)
        except ChannelClosed as exc:
            self._report(operation, exc)
            return default
        if future is None:
            return default
        try:
            return future.result(timeout=timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                channel.cancel(future) if channel is not None else future.cancel()
            self._report(operation, exc)
            return default

    def _report(self, operation: str, exc: BaseException) -> None:
        # a closed channel says so itself; the process may not be reaped yet when its socket closes
        said = isinstance(exc, ChannelClosed) or self.dht.is_alive()
        alive = "" if said else " (the DHT process has exited)"
        message = f"{type(exc).__name__}: {exc}{alive}"
        self.events.emit(SwarmErrorEvent(operation=operation, message=message))


def harden_pipe(dht: Any) -> None:
    """Make the DHT process read its command pipe in blocking mode.

    hivemind registers that pipe with its event loop, which leaves the descriptor non-blocking; a command
    larger than the pipe buffer (a store of more than about 64 KiB) is then read half-way, raises
    ``BlockingIOError`` and the next read ``EOFError``, which kills the DHT process. A blocking read
    only runs once the loop reports the pipe readable, and the sender is writing the rest, so it
    waits no longer than the transfer itself.
    """
    dht.run_coroutine(_set_pipe_blocking)


async def _set_pipe_blocking(dht: Any, _node: Any) -> None:
    os.set_blocking(dht._inner_pipe.fileno(), True)


async def _store_many(
    _dht: Any, node: Any, keys: list[str], subkeys: list[bytes], values: list[bytes], expiration_time: float
) -> list[bool]:
    result = await node.store_many(keys, values, expiration_time, subkeys=subkeys)
    return [bool(result.get((k, s), False)) for k, s in zip(keys, subkeys, strict=True)]


async def _get_many_in_process(
    _dht: Any, node: Any, keys: list[str], timeout: float, versions: dict[str, float]
) -> dict[str, Any]:
    return await get_latest(node, keys, timeout, versions, with_expiration=True)


async def get_latest(
    node: Any,
    keys: list[str],
    timeout: float,
    versions: Mapping[str, float] | None = None,
    with_expiration: bool = False,
) -> dict[str, Any]:
    """Latest value of each key from a running ``DHTNode``, as ``{subkey: value}`` (None: not found), or
    ``{subkey: (value, expiration time)}`` with ``with_expiration``.

    ``versions`` maps a key to the DHT expiration time of the version the caller expects (a node stores
    its outputs and its reward in one call, so its reward entry's expiration names its outputs'
    version): the search for that key ends at the first replica holding that version or a newer one,
    instead of waiting for every replica. When no replica has it, the search goes on as for any key.
    """
    # A "latest" search merges every replica's subkeys but waits for the slowest replica to answer or
    # time out; a hung peer among the replicas would then eat the whole deadline. So when it is not
    # done by 60% of the deadline, a "first found" search for the same keys runs alongside and its
    # (possibly partial) answer is used for keys the latest search could not finish in time.
    loop = asyncio.get_running_loop()
    ends = loop.time() + timeout
    versions = versions or {}
    by_version: dict[float, list[str]] = {}
    for key in keys:
        by_version.setdefault(versions.get(key, float("inf")), []).append(key)
    latest: dict[str, Any] = {}
    for version, group in by_version.items():
        latest.update(await node.get_many(group, sufficient_expiration_time=version, return_futures=True))
    _, pending = await asyncio.wait(list(latest.values()), timeout=timeout * 0.6)
    fast: dict[str, Any] = {}
    if pending:
        slow_keys = [key for key, fut in latest.items() if fut in pending]
        fast = await node.get_many(slow_keys, return_futures=True)
        waiting = set(pending) | set(fast.values())
        while waiting:
            left = ends - loop.time()
            if left <= 0:
                break
            _, waiting = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            # every slow key has an answer from one of its two searches: stop waiting
            if all(_ok(latest[k]) is not None or _ok(fast[k]) is not None for k in slow_keys):
                break
    out: dict[str, Any] = {}
    for key in keys:
        result = _ok(latest[key])
        if result is None and key in fast:
            result = _ok(fast[key])
        if result is None:
            out[key] = None
        elif isinstance(result.value, dict):
            out[key] = {
                sub: (item.value, item.expiration_time) if with_expiration else item.value
                for sub, item in result.value.items()
            }
        else:
            # a plain value where a dictionary is expected is malformed; the reader counts it
            plain = (result.value, result.expiration_time) if with_expiration else result.value
            out[key] = {None: plain}
    for fut in [*latest.values(), *fast.values()]:
        if not fut.done():
            fut.cancel()
    return out


def _ok(fut: Any) -> Any:
    if not fut.done() or fut.cancelled() or fut.exception() is not None:
        return None
    return fut.result()


async def _visible_maddrs(_dht: Any, node: Any) -> list[str]:
    return [str(m) for m in await node.get_visible_maddrs()]


async def _routing_peers(_dht: Any, node: Any) -> int:
    return len(node.protocol.routing_table.uid_to_peer_id)


async def _validator_stats(_dht: Any, node: Any) -> dict[str, Any]:
    stats: dict[str, Any] = {"accepted": 0, "rejected": {}, "oversized": 0}
    validator = node.protocol.record_validator
    for inner in getattr(validator, "_validators", []):
        counters = getattr(inner, "counters", None)
        if counters is not None:
            stats["accepted"] += counters.accepted
            stats["rejected"].update(counters.rejected)
        if hasattr(inner, "max_value_bytes"):
            stats["oversized"] += inner.rejected
    return stats


def hivemind_dht_class() -> Any:
    """hivemind's ``DHT`` class, without running hivemind's package ``__init__`` when nothing imported
    it yet: that imports the whole library (averaging, mixture of experts, optimizers), about a second
    that a node would spend for nothing (see :mod:`rlswarm_core.swarm.light_import`)."""
    from rlswarm_core.swarm.light_import import lazy_package

    lazy_package("hivemind")
    from hivemind.dht import DHT

    return DHT


def start_node(options: DHTOptions, events: EventBus | None = None) -> SwarmNode:
    """Start the node's DHT and join the swarm; raise one :class:`BootstrapError` line when it cannot."""
    hivemind_dht_class()  # first: the imports below must not run hivemind's whole package __init__
    from hivemind.utils.logging import use_hivemind_log_handler

    from rlswarm_core.swarm.dht_process import note_daemon_sockets, route_hivemind_logs, start_dht

    # hivemind's records go to the application's logging setup instead of its own stderr handler,
    # or to the instance log when there is one (never into a live display on the terminal)
    use_hivemind_log_handler("nowhere")
    route_hivemind_logs(options.log_path)
    events = events or EventBus()
    identity = load_identity(options.identity_path)
    private_key = identity_signing_key(options.identity_path)
    _check_initial_peers(options.initial_peers)
    _check_port_free(options.host, options.port)

    last_reason = ""
    attempts = max(1, options.bootstrap_attempts)
    for attempt in range(attempts):
        started = time.time()
        dht = None
        try:
            dht = start_dht(
                options.log_path,
                initial_peers=list(options.initial_peers) or None,
                host_maddrs=options.host_maddrs(),
                announce_maddrs=list(options.announce_maddrs) or None,
                identity_path=str(options.identity_path),
                startup_timeout=options.startup_timeout,
                client_mode=options.client_mode,
                record_validators=validators(private_key, options.max_value_bytes),
                wait_timeout=options.rpc_timeout_s,
                **options.extra,
            )
            # bounded even if the daemon hangs: startup plus one bootstrap RPC round
            dht.wait_until_ready(timeout=options.startup_timeout + options.rpc_timeout_s + 5)
            harden_pipe(dht)
            note_daemon_sockets(dht)
            channel = DHTChannel(dht, timeout=options.call_timeout_s)
        except Exception as exc:
            if dht is not None:
                _stop_dht_process(dht, started, options.identity_path)
            else:
                terminate_then_kill(_p2pd_for_identity(options.identity_path, started), timeout=3.0)
            last_reason, retryable = _failure_hint(exc)
            if not retryable:
                raise SwarmError(
                    f"cannot start the DHT node: {last_reason}",
                    "give every node its own identity file and DHT port (e.g. 38332, 38333, ...)",
                ) from None
            if attempt + 1 < attempts:
                time.sleep(options.bootstrap_backoff_s * 2**attempt)
            continue
        node = SwarmNode(dht, options, identity.peer_id, events, started)
        node._private_key = private_key
        node._channel = channel
        events.emit(
            Joined(
                peer_id=identity.peer_id,
                maddrs=tuple(node.visible_maddrs()),
                initial_peers=tuple(options.initial_peers),
                client_mode=options.client_mode,
            )
        )
        return node

    peers = ", ".join(options.initial_peers) if options.initial_peers else "(none)"
    raise BootstrapError(
        f"could not join the swarm through {peers} after {attempts} attempt(s): {last_reason}",
        "check that the peer is running and its port is open (firewall, NAT), "
        "and that the multiaddr's host, port and /p2p/ peer id are right",
    )
