"""The swarm's leaderboard, from the DHT (as the local nodes last read it) or from the coordinator contract.

The DHT view costs nothing: every node journals the coordinator's leaderboard when it changes, so the
newest such event across the local instances is the swarm's current board. The chain view calls the
contract's views; web3 is imported only then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlswarm_core.dashboard.tail import last_events
from rlswarm_core.identity.names import animal_name
from rlswarm_core.rewards.view import local_journals

SOURCES = ("dht", "chain")
CHAIN_TOP = 10


@dataclass(frozen=True)
class ChainTarget:
    network: str | None = None
    rpc_url: str | None = None
    contract: str | None = None


def _entry(rank: int, peer: str, mine: dict[str, str], **values: Any) -> dict[str, Any]:
    return {
        "rank": rank,
        "peer_id": peer,
        "animal_name": animal_name(peer),
        "local": mine.get(peer),
        **values,
    }


def local_peers() -> dict[str, str]:
    """Peer id -> instance name, for every local instance that knows its peer id."""
    from rlswarm_core.instances import registry

    return {r.peer_id: r.name for r in registry.list_records() if r.peer_id}


def dht_leaderboard() -> dict[str, Any]:
    mine = local_peers()
    newest: dict[str, Any] | None = None
    for path in local_journals().values():
        for event in last_events(path, "LeaderboardChanged", 1):
            if newest is None or float(event.get("at") or 0) > float(newest.get("at") or 0):
                newest = event
    if newest is None:
        return {"source": "dht", "round": None, "stage": None, "at": None, "entries": [], "warning": None}
    entries = [
        _entry(i + 1, str(item[0]), mine, reward=float(item[1]))
        for i, item in enumerate(newest.get("top") or [])
        if isinstance(item, (list, tuple)) and len(item) >= 2
    ]
    return {
        "source": "dht",
        "round": newest.get("round"),
        "stage": newest.get("stage"),
        "at": newest.get("at"),
        "entries": entries,
        "warning": None,
    }


def chain_leaderboard(target: ChainTarget) -> dict[str, Any]:
    """Top peers by wins on the contract, with their total rewards; local peers are always included."""
    from rlswarm_core.chain.networks import resolve_network
    from rlswarm_core.chain.reader import CoordinatorReader

    net = resolve_network(
        target.network or "devnet", rpc_url=target.rpc_url, contract=target.contract
    ).require_chain()
    reader = CoordinatorReader(net.rpc_url or "", net.contract or "", net.chain_id, timeout_s=5.0)
    round_number, stage = reader.round_and_stage()
    board = reader.winner_leaderboard(0, CHAIN_TOP)
    mine = local_peers()
    peers = [e.peer_id for e in board] + [p for p in mine if p not in {e.peer_id for e in board}]
    totals = reader.total_rewards(peers) if peers else []
    wins = {e.peer_id: e.count for e in board}
    entries = []
    for i, (peer, total) in enumerate(zip(peers, totals, strict=True)):
        count = wins[peer] if peer in wins else int(reader.total_wins(peer))
        entries.append(_entry(i + 1 if peer in wins else 0, peer, mine, wins=count, reward=float(total)))
    return {"source": "chain", "round": round_number, "stage": stage, "at": None, "entries": entries}
