"""``rewards --source dht`` reads only the pinned coordinator's clock and leaderboard, walks back a
bounded number of stages, and marks the peers the coordinator flagged; a hostile signer's clock at
round 10^12 and its leaderboard change nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.rewards.remote import MAX_DHT_LOOKUPS, RewardsSourceError, dht_rewards, walk
from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import DHTCoordinator, RoundStage
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange
from rlswarm_core.swarm.records import (
    LeaderboardRecord,
    LeaderEntry,
    RoundStageRecord,
    encode_record,
    owner_subkey,
)

from .conftest import Swarm, wait_no_p2pd
from .test_hostile import Hostile

NOW = RoundStage(612, 1)


def test_the_walk_back_is_bounded_whatever_the_clock_says() -> None:
    assert walk(1, 1, 3, rounds=8) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    huge = walk(10**12, 999, 1000, rounds=8)
    assert len(huge) == MAX_DHT_LOOKUPS and huge[-1] == (10**12, 999)
    assert walk(5, 7, 3, rounds=1) == [(5, 0), (5, 1), (5, 2)]  # a stage beyond the count is clamped


@pytest.fixture(scope="module")
def forger(swarm: Swarm) -> Iterator[Hostile]:
    hostile = Hostile(swarm, sign=True)
    yield hostile
    hostile.close()
    assert not wait_no_p2pd(Path(hostile.identity.path))


@pytest.mark.slow
def test_only_the_pinned_clock_and_board_count(swarm: Swarm, forger: Hostile) -> None:
    coordinator = swarm.nodes[0]
    honest, flagged_peer = swarm.nodes[1], swarm.nodes[2]
    clock = DHTCoordinator(coordinator, 3, is_coordinator=True, start=NOW, events=EventBus())
    assert clock.current() == NOW
    for node, reward in ((honest, 2.0), (flagged_peer, 5.0)):
        ex = Exchange(node, events=EventBus())
        for rs in (RoundStage(NOW.round, 0), NOW):
            assert ex.publish_reward(rs, reward, steps=4)
    board = [
        LeaderEntry(peer_id=honest.peer_id, reward=2.0),
        LeaderEntry(peer_id=flagged_peer.peer_id, reward=0.1),
    ]
    assert Exchange(coordinator, events=EventBus()).publish_leaderboard(
        RoundStage(NOW.round, 0), board, flagged=[flagged_peer.peer_id]
    )
    # the forger's clock is far ahead and newer; its board puts it first and flags no one
    fake_clock = RoundStageRecord(
        peer_id=forger.peer_id, round=10**12, stage=999, stage_count=1000, timestamp=time.time() + 3600
    )
    forger.store(
        keys.ROUND_STAGE_KEY, owner_subkey(forger.peer_id, forger.public_key), encode_record(fake_clock)
    )
    fake_board = LeaderboardRecord(
        peer_id=forger.peer_id,
        round=NOW.round,
        stage=0,
        timestamp=time.time() + 3600,
        entries=[LeaderEntry(peer_id=forger.peer_id, reward=1e9), *board],
    )
    forger.store(
        keys.leaderboard_key(NOW.round, 0),
        owner_subkey(forger.peer_id, forger.public_key),
        encode_record(fake_board),
    )

    peers = [honest.peer_id, flagged_peer.peer_id]
    read = {r.peer_id: r for r in dht_rewards(peers, swarm.bootstrap, coordinator=coordinator.peer_id)}
    for item in read.values():
        assert (item.round, item.stage) == (NOW.round, NOW.stage)
        assert [(s.round, s.stage) for s in item.stages] == [(NOW.round, 0), (NOW.round, 1)]
        assert item.leaderboard_size == 2
    assert (read[honest.peer_id].rank, read[honest.peer_id].flagged) == (1, False)
    assert (read[flagged_peer.peer_id].rank, read[flagged_peer.peer_id].flagged) == (2, True)
    assert "flagged" in (read[flagged_peer.peer_id].warning or "")

    with pytest.raises(RewardsSourceError, match="no coordinator to trust"):
        dht_rewards(peers, swarm.bootstrap, coordinator=None)
    with pytest.raises(RewardsSourceError, match="has published no round/stage clock"):
        dht_rewards(peers, swarm.bootstrap, coordinator=honest.peer_id)
