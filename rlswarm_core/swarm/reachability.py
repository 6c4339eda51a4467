"""Is this node's DHT port reachable from outside? A bootnode dials back and says.

A node behind NAT or a firewall can still join (it dials out), but no peer can dial it: its records are
read through others, and a swarm of such nodes falls apart when the bootnode goes. Only a peer outside
the node's machine can tell, so the node asks one it is connected to (a bootnode, or any node that serves
the protocol): the asked peer starts a short-lived probe of its own (no relay, no listening address, so
an existing connection cannot pass for a dial) and tries to connect to the asker at the addresses it
announces. The protocol itself lives in :mod:`rlswarm_core.swarm.reachability_rpc` (hivemind); this
module has no heavy import, so the doctor and the event text can use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# how long the asked peer may take: start its probe daemon and dial (it answers within this)
PROBE_START_S = 10.0
DIAL_TIMEOUT_S = 6.0
# the asker waits for one answer this long, then asks the next peer
ASK_TIMEOUT_S = PROBE_START_S + DIAL_TIMEOUT_S + 5.0
# peers asked in turn until one answers; each dial-back starts a daemon on the asked peer
MAX_ASKED = 3
# addresses one request may make the asked peer dial (it only dials the asker's own IP)
MAX_DIALLED = 4


@dataclass(frozen=True)
class ReachabilityResult:
    """``reachable``: True or False as a peer found by dialling back; None when no peer could be asked
    (``reason`` says why). ``fix`` is one line for the operator, empty when there is nothing to do."""

    reachable: bool | None
    # peer id of the peer that dialled back (empty when none answered)
    asked: str = ""
    # the address the dial succeeded at, or the ones it tried
    address: str = ""
    tried: tuple[str, ...] = ()
    # this node's IP as the asked peer sees it (its public address behind a NAT)
    observed: str = ""
    # the successful address is one this node announces (peers learn it from the DHT)
    announced: bool = True
    reason: str = ""
    fix: str = ""

    @property
    def summary(self) -> str:
        if self.reachable is None:
            return f"could not ask a peer to dial back: {self.reason}"
        if self.reachable:
            note = "" if self.announced else " (an address this node does not announce)"
            return f"reachable from outside: {_short(self.asked)} dialled {self.address}{note}"
        tried = ", ".join(self.tried) or "no address"
        return f"not reachable from outside: {_short(self.asked)} could not dial {tried}: {self.reason}"


def _short(peer_id: str) -> str:
    return f"…{peer_id[-6:]}" if len(peer_id) > 8 else peer_id or "a peer"


# --- which addresses the asked peer dials ---------------------------------------------------------


def _split(maddr: str) -> tuple[str, str, int] | None:
    """(protocol, host, tcp port) of ``/ip4|ip6|dns*/HOST/tcp/PORT[/...]``; None for anything else."""
    parts = maddr.strip().split("/")
    if len(parts) < 5 or parts[0] or parts[3] != "tcp" or not parts[4].isdigit():
        return None
    if parts[1] not in ("ip4", "ip6", "dns", "dns4", "dns6"):
        return None
    port = int(parts[4])
    return (parts[1], parts[2], port) if 0 < port <= 65535 else None


def without_peer_id(maddr: str) -> str:
    return maddr.split("/p2p/")[0]


def peer_id_of(maddr: str) -> str:
    tail = maddr.rsplit("/p2p/", 1)
    return tail[1].split("/")[0] if len(tail) == 2 else ""


def ip_hosts(maddrs: Sequence[str]) -> list[str]:
    """The IP hosts of ``maddrs`` (normalised), e.g. the remote ends of a peer's connections."""
    hosts: list[str] = []
    for maddr in maddrs:
        split = _split(maddr)
        if split is None or split[0] not in ("ip4", "ip6"):
            continue
        with contextlib.suppress(ValueError):
            host = str(ipaddress.ip_address(split[1]))
            if host not in hosts:
                hosts.append(host)
    return hosts


def tcp_address(host: str, port: int) -> str:
    return f"/{'ip6' if ':' in host else 'ip4'}/{host}/tcp/{port}"


def dial_candidates(announced: Sequence[str], observed: Sequence[str]) -> list[str]:
    """What the asked peer dials: the asker's announced TCP addresses at an IP it connects from, and
    that IP with each announced port (a NATed node announces its private IP; the router's public one
    with the same port is what a forwarded port would answer at).

    Never any other host: a request must not make a bootnode connect to third parties."""
    seen: set[str] = set(observed)
    found: list[str] = []
    ports: list[int] = []
    for maddr in announced:
        split = _split(maddr)
        if split is None:
            continue
        proto, host, port = split
        if port not in ports:
            ports.append(port)
        with contextlib.suppress(ValueError):
            host = str(ipaddress.ip_address(host)) if proto in ("ip4", "ip6") else host
        if host in seen:
            found.append(tcp_address(host, port))
    for host in observed:
        found.extend(tcp_address(host, port) for port in ports)
    return list(dict.fromkeys(found))[:MAX_DIALLED]


# --- what to do about it --------------------------------------------------------------------------


def fix_for(
    result: ReachabilityResult,
    listen_host: str = "0.0.0.0",
    announced: Sequence[str] = (),
    listen_ports: Sequence[int] = (),
) -> str:
    """One line telling the operator how to become reachable (empty when nothing needs doing).

    ``listen_ports`` are the TCP ports the node's daemon really listens on, when known: an announced
    port that is none of them is the first thing to fix."""
    split = _split(result.address or (result.tried[0] if result.tried else ""))
    if result.reachable is None or split is None:
        return ""
    port = split[2]

    def public(at: int) -> str:
        return tcp_address(result.observed, at) if result.observed else f"/ip4/PUBLIC_IP/tcp/{at}"

    def announce(at: int) -> str:
        return f"rlswarm config set announce_maddrs {public(at)}"

    if result.reachable:
        return "" if result.announced else f"announce the address peers can dial: {announce(port)}"
    if listen_ports and port not in listen_ports:
        real = listen_ports[0]
        return (
            f"this node listens on TCP {real} but announces port {port}, where nothing answers: "
            f"{announce(real)}, or forward TCP port {port} on the router to port {real}"
        )
    observed_remote = result.observed and not ipaddress.ip_address(result.observed).is_loopback
    if listen_host in ("127.0.0.1", "::1", "localhost") and observed_remote:
        return f"the DHT listens on {listen_host} only: rlswarm config set host 0.0.0.0; {announce(port)}"
    reason = result.reason.lower()
    if "peer id" in reason or "mismatch" in reason:
        return (
            f"another machine answers at {public(port)}: forward TCP port {port} on the router to this "
            "machine, or give this node a free port and forward that one"
        )
    if "timeout" in reason or "timed out" in reason or "no answer" in reason:
        first = f"open TCP port {port} in the firewall (e.g. sudo ufw allow {port}/tcp), forward it"
    else:
        first = f"forward TCP port {port} on the router to this machine, open it in the firewall"
    if any(without_peer_id(a) == public(port) for a in announced):
        return f"{first} (announce_maddrs already names {public(port)})"
    return f"{first}, and announce the public address: {announce(port)}"


def listen_ports(node: Any) -> list[int]:
    """TCP ports the node's p2pd listens on (its configured port first); empty when the OS hides them."""
    import psutil

    found: list[int] = []
    with contextlib.suppress(Exception):
        for pid in node.daemon_pids():
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port not in found:
                    found.append(conn.laddr.port)
    configured = node.options.port
    return sorted(found, key=lambda p: p != configured)


# --- asking and serving (in the DHT process) -------------------------------------------------------


def serve_reachability(node: Any) -> bool:
    """Answer other peers' dial-back requests on ``node`` (a :class:`SwarmNode`); False when the
    protocol could not be registered (the node runs on without it)."""
    from functools import partial

    from rlswarm_core.swarm.reachability_rpc import attach_service

    try:
        future = node.dht.run_coroutine(
            partial(attach_service, probe_start_s=PROBE_START_S, dial_timeout_s=DIAL_TIMEOUT_S),
            return_future=True,
        )
        return bool(future.result(timeout=node.options.call_timeout_s))
    except Exception:
        return False


def check_reachability(
    node: Any,
    peers: Sequence[str] | None = None,
    *,
    timeout_s: float = ASK_TIMEOUT_S,
    stop: threading.Event | None = None,
) -> ReachabilityResult:
    """Ask the first of ``peers`` (multiaddrs with a peer id; default: the node's initial peers) that
    answers to dial ``node`` back. Never raises: any failure is ``reachable=None`` with a reason.
    ``stop`` ends the wait early (the node is stopping)."""
    from functools import partial

    targets = list(dict.fromkeys(p for p in map(peer_id_of, peers or node.options.initial_peers) if p))
    if not targets:
        return ReachabilityResult(None, reason="no bootnode to ask (this node starts the swarm)")
    targets = targets[:MAX_ASKED]
    try:
        from rlswarm_core.swarm.reachability_rpc import ask_peers

        future = node.dht.run_coroutine(
            partial(ask_peers, peers=targets, timeout_s=timeout_s), return_future=True
        )
        answer = _wait(future, timeout_s * len(targets) + 10.0, stop or threading.Event())
        result = _from_answer(answer)
        fix = fix_for(result, node.options.host, node.options.announce_maddrs, listen_ports(node))
    except Exception as exc:
        return ReachabilityResult(None, reason=_one_line(exc))
    return dataclasses.replace(result, fix=fix)


def _from_answer(answer: dict[str, Any]) -> ReachabilityResult:
    """The asked peer's answer, checked: a peer may be buggy or hostile, and its answer reaches the
    operator's terminal and the journal."""
    reachable = answer.get("reachable")
    observed = _clean(answer.get("observed"), 50)
    if observed:
        observed = str(ipaddress.ip_address(observed))  # ValueError: not an answer to trust
    tried = answer.get("tried")
    return ReachabilityResult(
        reachable=reachable if isinstance(reachable, bool) else None,
        asked=_clean(answer.get("asked"), 100),
        address=_clean(answer.get("address"), 200),
        tried=tuple(_clean(a, 200) for a in tried[:MAX_DIALLED]) if isinstance(tried, list) else (),
        observed=observed,
        announced=answer.get("announced", True) is not False,
        reason=_clean(answer.get("reason"), 300),
    )


def _clean(value: Any, limit: int) -> str:
    """One line of printable text (no terminal escapes), at most ``limit`` characters."""
    text = " ".join(str(value or "").split())
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def _wait(future: Any, timeout_s: float, stop: threading.Event) -> Any:
    """The future's result, waited for in short slices so that a stopping node is not held."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            if stop.is_set() or time.monotonic() >= deadline:
                future.cancel()
                raise TimeoutError("stopped waiting" if stop.is_set() else "no answer in time") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class ReachabilityWatch:
    """The join's one background check: ask once, emit :class:`ReachabilityChecked`; training never
    waits for it, and a node stopping first drops the answer (no event after the node's end)."""

    def __init__(self, node: Any, events: Any) -> None:
        self.node = node
        self.events = events
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reachability", daemon=True)

    def start(self) -> ReachabilityWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        from rlswarm_core.swarm.events import ReachabilityChecked

        result = check_reachability(self.node, stop=self._closed)
        if self._closed.is_set():
            return
        self.events.emit(
            ReachabilityChecked(
                reachable=result.reachable,
                asked=result.asked,
                address=result.address,
                tried=result.tried,
                observed=result.observed,
                reason=result.reason,
                fix=result.fix,
            )
        )

    def close(self, timeout: float = 2.0) -> None:
        """Before the DHT shuts down: a check in flight stops waiting and is not reported."""
        self._closed.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)
