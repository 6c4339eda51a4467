"""Rewards read from the swarm itself: the DHT's reward records, or the coordinator contract's views.

hivemind and web3 are imported only inside these functions, so ``rlswarm rewards`` stays light when it
reads the local journals (the default).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rlswarm_core.errors import RlswarmError
from rlswarm_core.identity.names import animal_name
from rlswarm_core.rewards.view import HISTORY, Rewards, StageReward

DHT_ROUNDS = 8


class RewardsSourceError(RlswarmError):
    """The DHT or chain could not be read."""


def local_bootstrap() -> list[str]:
    """Peers to bootstrap from when none are given: the local instances' coordinator and their own peers."""
    from rlswarm_core.instances import registry

    found: list[str] = []
    for record in registry.list_records():
        if record.role == "coordinator" and record.peer_id:
            found.append(registry.loopback_maddr(record.port, record.peer_id))
        found += [p for p in record.settings.get("initial_peers") or [] if p not in found]
    return found


def dht_rewards(
    peers: list[str], initial_peers: list[str], *, rounds: int = DHT_ROUNDS, timeout: float = 5.0
) -> list[Rewards]:
    """Each peer's published stage rewards for the last ``rounds`` rounds, via a client-mode DHT node."""
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.swarm import keys
    from rlswarm_core.swarm.dht import DHTOptions, start_node
    from rlswarm_core.swarm.events import EventBus
    from rlswarm_core.swarm.exchange import Exchange
    from rlswarm_core.swarm.records import LeaderboardRecord, RoundStageRecord, check_entry

    if not initial_peers:
        raise RewardsSourceError(
            "no peer to reach the swarm through", "pass --initial-peer or create instances first"
        )
    with tempfile.TemporaryDirectory(prefix="rlswarm-reader-") as tmp:
        # a throwaway identity: reading must never take the name of a running node
        id_path = Path(tmp) / "reader.pem"
        create_identity(id_path)
        options = DHTOptions(
            identity_path=id_path,
            host="127.0.0.1",
            port=0,
            initial_peers=tuple(initial_peers),
            client_mode=True,
            rpc_timeout_s=timeout,
        )
        node = start_node(options, EventBus())
        try:
            found = node.get_many([keys.ROUND_STAGE_KEY], timeout=timeout).get(keys.ROUND_STAGE_KEY) or {}
            clocks = []
            for subkey, raw in found.items():
                try:
                    record = check_entry(subkey, raw)
                except ValueError:
                    continue
                if isinstance(record, RoundStageRecord):
                    clocks.append(record)
            if not clocks:
                raise RewardsSourceError(
                    "the swarm has published no round yet", "try again once a stage started"
                )
            clock = max(clocks, key=lambda c: c.timestamp)
            exchange = Exchange(node)
            results = {
                p: Rewards(name=p[:12], peer_id=p, animal_name=animal_name(p), source="dht") for p in peers
            }
            first = max(0, clock.round - rounds + 1)
            stages = [(r, s) for r in range(first, clock.round + 1) for s in range(clock.stage_count)]
            stages = [(r, s) for r, s in stages if (r, s) <= (clock.round, clock.stage)]
            from rlswarm_core.swarm.coordinator import RoundStage

            for r, s in stages:
                view = exchange.read_rewards(RoundStage(r, s), timeout=timeout)
                for peer, record in view.rewards.items():
                    if peer in results:
                        results[peer].stages.append(StageReward(r, s, float(record.reward), record.timestamp))
                        results[peer].last_active_round = r
            board_key = keys.leaderboard_key(clock.round, clock.stage)
            board_raw = node.get_many([board_key], timeout=timeout).get(board_key) or {}
            board: list[str] = []
            for subkey, raw in board_raw.items():
                try:
                    record = check_entry(subkey, raw)
                except ValueError:
                    continue
                if isinstance(record, LeaderboardRecord) and record.peer_id == clock.peer_id:
                    board = [e.peer_id for e in record.entries]
            for item in results.values():
                item.round, item.stage = clock.round, clock.stage
                item.stages = item.stages[-HISTORY * 3 :]
                item.total = round(sum(s.reward for s in item.stages), 6)
                item.leaderboard_size = len(board)
                item.rank = board.index(item.peer_id) + 1 if item.peer_id in board else None
            return list(results.values())
        finally:
            node.shutdown()


def chain_rewards(
    peers: list[str], *, network: str | None = None, rpc_url: str | None = None, contract: str | None = None
) -> list[Rewards]:
    """Totals, wins and votes per peer from the coordinator contract.

    The network and its chain come from the settings, like ``join``'s (these arguments are flags over
    ``RLSWARM_*``, config.yaml, ...); where no network is named at all, the devnet is read.
    """
    from rlswarm_core.chain.networks import network_of
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.settings.resolve import resolve_node_settings

    if not peers:
        raise RewardsSourceError("no peer to look up", "pass --peer ID or create instances first")
    resolved = resolve_node_settings({"network": network, "rpc_url": rpc_url, "contract": contract})
    settings = resolved.settings
    if resolved.sources.get("network", "default") == "default":
        settings = settings.model_copy(update={"network": "devnet"})
    net = network_of(settings).require_chain()
    reader = CoordinatorReader(net.rpc_url or "", net.contract or "", net.chain_id)
    round_number, stage = reader.round_and_stage()
    totals = reader.total_rewards(peers)
    results = []
    for peer, total in zip(peers, totals, strict=True):
        item = Rewards(name=peer[:12], peer_id=peer, animal_name=animal_name(peer), source="chain")
        item.total = float(total)
        item.wins = int(reader.total_wins(peer))
        item.votes = int(reader.voter_vote_count(peer))
        item.round, item.stage = round_number, stage
        results.append(item)
    return results
