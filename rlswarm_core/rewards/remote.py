"""Rewards read from the swarm itself: the DHT's reward records, or the coordinator contract's views.

hivemind and web3 are imported only inside these functions, so ``rlswarm rewards`` stays light when it
reads the local journals (the default).
"""

from __future__ import annotations

from rlswarm_core.errors import RlswarmError
from rlswarm_core.identity.names import animal_name
from rlswarm_core.rewards.view import HISTORY, Rewards, StageReward

DHT_ROUNDS = 8
# the most reward keys one read looks up, whatever the clock claims (rounds x stages)
MAX_DHT_LOOKUPS = 48
DHT_TIMEOUT_S = 1.5


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


def pinned_coordinator(explicit: str | None = None) -> str | None:
    """The clock peer to trust: the one given, else the configured ``coordinator_peer_id`` (config or
    ``RLSWARM_COORDINATOR_PEER_ID``), else the local instances' coordinator (when they agree on one)."""
    import os

    from rlswarm_core.instances import registry
    from rlswarm_core.settings.resolve import load_user_config

    if explicit:
        return explicit
    configured = os.environ.get("RLSWARM_COORDINATOR_PEER_ID") or load_user_config().get(
        "coordinator_peer_id"
    )
    if isinstance(configured, str) and configured:
        return configured
    candidates = set()
    for record in registry.list_records():
        if record.role == "coordinator" and record.peer_id:
            candidates.add(record.peer_id)
        elif record.coordinator_peer_id:
            candidates.add(record.coordinator_peer_id)
    return candidates.pop() if len(candidates) == 1 else None


def walk(round_: int, stage: int, stage_count: int, rounds: int = DHT_ROUNDS) -> list[tuple[int, int]]:
    """The (round, stage) pairs to read, newest last: at most ``rounds`` rounds back from the clock and
    never more than ``MAX_DHT_LOOKUPS`` pairs, however large the clock's numbers are."""
    stage_count = max(1, stage_count)
    stage = min(stage, stage_count - 1)
    pairs: list[tuple[int, int]] = []
    r, s = round_, stage
    while len(pairs) < min(MAX_DHT_LOOKUPS, rounds * stage_count) and r >= 0 and r > round_ - rounds:
        pairs.append((r, s))
        s -= 1
        if s < 0:
            r, s = r - 1, stage_count - 1
    return pairs[::-1]


def dht_rewards(
    peers: list[str],
    initial_peers: list[str],
    *,
    coordinator: str | None = None,
    rounds: int = DHT_ROUNDS,
    timeout: float = DHT_TIMEOUT_S,
) -> list[Rewards]:
    """Each peer's published stage rewards for the last ``rounds`` rounds, via a client-mode DHT node.

    Only the clock signed by ``coordinator`` (see :func:`pinned_coordinator`) is trusted: any other
    signer's round/stage record is ignored, and so is its leaderboard. The walk back is bounded
    (:func:`walk`) and every reward key is read in one DHT call, so the answer comes in about two
    lookups however many peers the swarm has. Peers the coordinator flagged (their claims disagree with
    what their outputs earn) are marked. The reader is a short-lived client in this process
    (:mod:`rlswarm_core.swarm.reader`), not a node.
    """
    from rlswarm_core.swarm import keys
    from rlswarm_core.swarm.exchange import Exchange
    from rlswarm_core.swarm.reader import open_reader
    from rlswarm_core.swarm.records import LeaderboardRecord, RewardRecord, RoundStageRecord

    if not initial_peers:
        raise RewardsSourceError(
            "no peer to reach the swarm through", "pass --initial-peer or create instances first"
        )
    if not coordinator:
        raise RewardsSourceError(
            "no coordinator to trust for the swarm's round and stage",
            "pass --coordinator-peer-id (the peer that runs the swarm's clock), or read --source chain",
        )
    with open_reader(initial_peers, timeout=timeout) as node:
        exchange = Exchange(node)
        found = node.get_many([keys.ROUND_STAGE_KEY], timeout=timeout).get(keys.ROUND_STAGE_KEY)
        clocks, _ = exchange._entries(keys.ROUND_STAGE_KEY, found, RoundStageRecord)
        clock = next((c for c in clocks if c.peer_id == coordinator), None)
        if clock is None:
            raise RewardsSourceError(
                f"the coordinator {coordinator} has published no round/stage clock this node can see",
                "check --coordinator-peer-id and that the coordinator is running",
            )
        pairs = walk(clock.round, clock.stage, clock.stage_count, rounds)
        reward_keys = {keys.rewards_key(r, s): (r, s) for r, s in pairs}
        # the current stage's board appears when it ends: read the previous one's as well
        board_keys = [keys.leaderboard_key(r, s) for r, s in pairs[-2:]]
        values = node.get_many([*reward_keys, *board_keys], timeout=timeout)
        results = {
            p: Rewards(name=p[:12], peer_id=p, animal_name=animal_name(p), source="dht") for p in peers
        }
        for key, (r, s) in reward_keys.items():
            records, _ = exchange._entries(key, values.get(key), RewardRecord)
            for record in records:
                if record.peer_id in results:
                    item = results[record.peer_id]
                    item.stages.append(StageReward(r, s, float(record.reward), record.timestamp))
                    item.last_active_round = r
        board: LeaderboardRecord | None = None
        for key in board_keys[::-1]:
            boards, _ = exchange._entries(key, values.get(key), LeaderboardRecord)
            board = next((b for b in boards if b.peer_id == coordinator), None)
            if board is not None:
                break
        ranked = [e.peer_id for e in board.entries] if board is not None else []
        flagged = set(board.flagged) if board is not None else set()
        for item in results.values():
            item.round, item.stage = clock.round, clock.stage
            item.stages = item.stages[-HISTORY * 3 :]
            item.total = round(sum(s.reward for s in item.stages), 6)
            item.leaderboard_size = len(ranked)
            item.rank = ranked.index(item.peer_id) + 1 if item.peer_id in ranked else None
            item.flagged = item.peer_id in flagged
            if item.flagged:
                item.warning = (
                    f"{item.name}: the coordinator flagged its claimed reward (it disagrees with what "
                    "its published outputs earn); it is ranked by the recomputed value"
                )
        return list(results.values())


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
