"""The dial-back protocol on hivemind's P2P, run inside the DHT process (see
:mod:`rlswarm_core.swarm.reachability`).

Messages are protobuf ``Struct`` (JSON-like maps): no generated code to ship, and a field added later is
ignored by older peers. Request: ``{"v": 1, "peer_id": ..., "maddrs": [...]}``. Answer: ``{"reachable":
true|false|null, "address", "tried", "observed", "announced", "reason"}``; null means the asked peer
could not check (busy, no probe, a request about someone else).
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from hivemind.p2p import P2P, P2PContext, PeerID, ServicerBase
from hivemind.utils.multiaddr import Multiaddr

from rlswarm_core.swarm.reachability import (
    dial_candidates,
    ip_hosts,
    without_peer_id,
)

VERSION = 1
# dial-backs one peer runs at once: each starts a p2pd; more requests are answered "busy"
MAX_PROBES = 2
# the probe only dials: no DHT, no relay (a relayed connection is not a direct dial), no NAT
# traversal, nothing to listen on (so the asker cannot dial it instead); a random identity
PROBE_ARGS: dict[str, Any] = dict(
    dht_mode="client",
    use_relay=False,
    use_auto_relay=False,
    auto_nat=False,
    nat_port_map=False,
    no_listen=True,
    conn_manager=False,
)


def _struct(data: dict[str, Any]) -> Struct:
    message = Struct()
    message.update(data)
    return message


def _dict(message: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _short_error(exc: BaseException) -> str:
    """The daemon's dial errors are long (every address, nested causes): the last cause is the reason."""
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer in time (timeout)"
    text = " ".join(str(exc).split()) or type(exc).__name__
    for marker in ("connection refused", "i/o timeout", "peer id mismatch", "no route to host"):
        if marker in text.lower():
            return marker
    return text[:300]


class ReachabilityService(ServicerBase):
    """Registered on a node's P2P; ``rpc_check`` dials the asking peer back from a fresh probe."""

    def __init__(self, p2p: P2P, probe_start_s: float, dial_timeout_s: float) -> None:
        self.p2p = p2p
        self.probe_start_s = probe_start_s
        self.dial_timeout_s = dial_timeout_s
        self.running = 0

    async def rpc_check(self, request: Struct, context: P2PContext) -> Struct:
        try:
            answer = await self._check(_dict(request), context)
        except Exception as exc:  # an answer, never a broken stream: the asker then asks another peer
            answer = {"reachable": None, "reason": f"the asked peer failed: {_short_error(exc)}"}
        return _struct(answer)

    async def _check(self, request: dict[str, Any], context: P2PContext) -> dict[str, Any]:
        asker = context.remote_id
        # a peer may only ask about itself: no one can make this node dial a third party
        if str(request.get("peer_id", "")) != asker.to_base58():
            return {"reachable": None, "reason": "a peer can only ask to be dialled back itself"}
        announced = [str(m) for m in list(request.get("maddrs", []))[:16]]
        # the remote ends of the asker's connections: the only IPs it may be dialled at
        connections = await self.p2p.list_peers()
        observed = ip_hosts([str(a) for info in connections if info.peer_id == asker for a in info.addrs])
        if not observed:
            return {"reachable": None, "reason": "the asked peer sees no direct connection (relayed?)"}
        candidates = dial_candidates([without_peer_id(m) for m in announced], observed)
        base = {"observed": observed[0], "tried": candidates}
        if not candidates:
            return {**base, "reachable": False, "reason": "this node announces no TCP address"}
        if self.running >= MAX_PROBES:
            return {**base, "reachable": None, "reason": "the asked peer is busy with other checks"}
        self.running += 1
        try:
            return {**base, **await self._dial(asker, candidates, announced)}
        finally:
            self.running -= 1

    async def _dial(self, asker: PeerID, candidates: list[str], announced: list[str]) -> dict[str, Any]:
        try:
            probe = await P2P.create(startup_timeout=self.probe_start_s, **PROBE_ARGS)
        except Exception as exc:
            why = f"the asked peer could not start a probe: {_short_error(exc)}"
            return {"reachable": None, "reason": why}
        try:
            await asyncio.wait_for(
                probe._client.connect(asker, [Multiaddr(c) for c in candidates]), self.dial_timeout_s
            )
            # the connection's remote address is the one that answered
            used = [str(a) for info in await probe.list_peers() if info.peer_id == asker for a in info.addrs]
            address = without_peer_id(used[0]) if used else candidates[0]
            plain = {without_peer_id(m) for m in announced}
            return {"reachable": True, "address": address, "announced": address in plain}
        except Exception as exc:
            return {"reachable": False, "reason": _short_error(exc)}
        finally:
            await probe.shutdown()


async def attach_service(_dht: Any, node: Any, probe_start_s: float, dial_timeout_s: float) -> bool:
    """In the DHT process: register the protocol on the node's P2P (once)."""
    if getattr(node, "_rlswarm_reachability", None) is not None:
        return True
    service = ReachabilityService(node.p2p, probe_start_s, dial_timeout_s)
    await service.add_p2p_handlers(node.p2p)
    node._rlswarm_reachability = service
    return True


async def ask_peers(_dht: Any, node: Any, peers: list[str], timeout_s: float) -> dict[str, Any]:
    """In the DHT process: ask ``peers`` in turn to dial this node back; the first real answer, or
    ``reachable: None`` with every peer's reason. Never raises (the DHT process would log a traceback)."""
    reasons: list[str] = []
    try:
        own = [str(m) for m in await node.p2p.get_visible_maddrs(latest=True)]
        request = _struct({"v": VERSION, "peer_id": node.p2p.peer_id.to_base58(), "maddrs": own})
    except Exception as exc:
        return {"reachable": None, "reason": f"cannot read this node's addresses: {_short_error(exc)}"}
    for peer in peers:
        try:
            stub = ReachabilityService.get_stub(node.p2p, PeerID.from_base58(peer))
            answer = _dict(await stub.rpc_check(request, timeout=timeout_s))
        except Exception as exc:
            reasons.append(f"{peer[-6:]}: {_asker_error(exc)}")
            continue
        if answer.get("reachable") is not None:
            return {**answer, "asked": peer}
        reasons.append(f"{peer[-6:]}: {answer.get('reason', 'no answer')}")
    return {"reachable": None, "reason": "; ".join(reasons) or "no peer to ask"}


def _asker_error(exc: BaseException) -> str:
    text = str(exc).lower()
    if "protocol not supported" in text or "protocols not supported" in text:
        return "does not serve the dial-back check (an older node, or a plain DHT peer)"
    return _short_error(exc)
