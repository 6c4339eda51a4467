"""Checks a node's network settings before anything heavy is imported.

Starting a node imports torch, transformers and hivemind (seconds), so a mistyped ``--initial-peer`` or a
taken port would otherwise be reported only after that wait. These checks use the standard library
alone; the DHT repeats its own when it starts.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from rlswarm_core.errors import ConfigError

PRIVILEGED_PORTS = 1024
_BASE58 = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_ADDRESS_PROTOCOLS = {"ip4", "ip6", "dns", "dns4", "dns6"}
_TRANSPORTS = {"tcp", "udp"}
# protocols that may follow the transport and take no value
_FLAGS = {"quic", "quic-v1", "ws", "wss", "tls", "noise"}
_PEER_FORM = "/ip4/HOST/tcp/PORT/p2p/PEER_ID, as printed by the peer you join"


def check_network_settings(settings: Any) -> None:
    """Raise :class:`ConfigError` (one line and a hint) for the first unusable network setting."""
    _check_host(settings.host)
    for peer in settings.initial_peers:
        problem = multiaddr_problem(peer, need_peer_id=True)
        if problem:
            raise ConfigError(
                f"initial peer {peer!r} is not a valid multiaddr: {problem}", f"use {_PEER_FORM}"
            )
    for maddr in settings.announce_maddrs:
        problem = multiaddr_problem(maddr, need_peer_id=False)
        if problem:
            raise ConfigError(
                f"announce address {maddr!r} is not a valid multiaddr: {problem}",
                "use the form /ip4/PUBLIC_IP/tcp/PORT",
            )
    check_port(settings.host, settings.dht_port, allow_privileged=settings.allow_privileged_port)


def multiaddr_problem(text: str, *, need_peer_id: bool) -> str:
    """What is wrong with ``text`` as a peer's multiaddr; empty when nothing is."""
    if not text.startswith("/"):
        return "it must start with /"
    parts = text.strip("/").split("/")
    if len(parts) < 4:
        return "it needs an address and a port, like /ip4/HOST/tcp/PORT"
    proto, value, transport, port = parts[:4]
    if proto not in _ADDRESS_PROTOCOLS:
        return f"unknown address protocol {proto!r} (use ip4, ip6 or dns)"
    if proto in ("ip4", "ip6"):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return f"{value!r} is not an {proto} address"
        if address.version != int(proto[-1]):
            return f"{value!r} is not an {proto} address"
    elif not value:
        return "the host name is empty"
    if transport not in _TRANSPORTS:
        return f"unknown transport {transport!r} (use tcp)"
    if not port.isdigit() or not 0 < int(port) <= 65535:
        return f"port {port!r} is not a number from 1 to 65535"
    rest = parts[4:]
    while rest and rest[0] in _FLAGS:
        rest = rest[1:]
    if not rest:
        return "it ends without /p2p/PEER_ID" if need_peer_id else ""
    if rest[0] != "p2p" or len(rest) != 2:
        return f"unexpected {'/' + '/'.join(rest)!r} after the port (expected /p2p/PEER_ID)"
    peer_id = rest[1]
    if len(peer_id) < 40 or not set(peer_id) <= _BASE58:
        return f"{peer_id!r} is not a peer id (Qm… or 12D3KooW…, base58)"
    return ""


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"host {host!r} is not an IP address",
            "use the address to listen on: 0.0.0.0 (all), 127.0.0.1 (this machine only) or an interface's IP",
        ) from None


def check_port(host: str, port: int, *, allow_privileged: bool = False) -> None:
    """Refuse a privileged port unless allowed (binding one takes root, which a node should not run as)
    and a port another process listens on."""
    if port == 0:
        return
    if port < PRIVILEGED_PORTS and not allow_privileged:
        raise ConfigError(
            f"DHT port {port} is a privileged port (below {PRIVILEGED_PORTS})",
            "use --port 38331 (the default) or another port from 1024 up; to bind it anyway, set "
            "allow_privileged_port: true (RLSWARM_ALLOW_PRIVILEGED_PORT=1)",
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # a port left in TIME_WAIT by a node that just stopped is free to use; a listening one is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except PermissionError:
            raise ConfigError(
                f"DHT port {port} on {host} may not be bound by this user",
                "use --port 38331 (the default) or another port from 1024 up",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"DHT port {host}:{port} is already in use ({exc.strerror or exc})",
                "stop the other node, or give this one its own port: --port 38332 (or 0 to pick a free one)",
            ) from None
