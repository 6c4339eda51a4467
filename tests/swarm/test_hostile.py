"""A hostile peer (a plain hivemind DHT without rlswarm's validators) tries to lie about honest peers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import hivemind
import pytest
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.dht.protocol import DHTProtocol
from hivemind.dht.routing import DHTID
from hivemind.utils import get_dht_time

from rlswarm_core.identity.keys import Identity
from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import DHTCoordinator, RoundStage
from rlswarm_core.swarm.dht import DHTOptions, SwarmNode, harden_pipe, identity_signing_key
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange, StageOutput
from rlswarm_core.swarm.records import (
    OutputRecord,
    RewardRecord,
    RoundStageRecord,
    encode_record,
    owner_subkey,
)

from .conftest import Swarm, new_identity, wait_no_p2pd

RS = RoundStage(300, 0)
QUESTION = "What is 12 + 30?"
LATER = 8 * 3600  # hostile writes expire later than honest ones, so they would win if accepted


class Hostile:
    def __init__(self, swarm: Swarm, sign: bool) -> None:
        self.identity: Identity = new_identity(swarm.id_dir, "hostile")
        self.key = identity_signing_key(self.identity.path)
        self.public_key = self.key.get_public_key().to_bytes()
        self.dht = hivemind.DHT(
            initial_peers=swarm.bootstrap,
            start=True,
            host_maddrs=["/ip4/127.0.0.1/tcp/0"],
            identity_path=str(self.identity.path),
            record_validators=[RSASignatureValidator(self.key)] if sign else [],
            wait_timeout=2.0,
        )
        # without this, the hostile's own DHT process dies on its oversized store (see harden_pipe)
        harden_pipe(self.dht)
        self.peer_id = self.identity.peer_id

    def store(self, key: str, subkey: bytes, value: object) -> None:
        self.dht.store(key, value, get_dht_time() + LATER, subkey=subkey)

    def store_local(self, key: str, subkey: bytes, value: object) -> None:
        """Put a record straight into this node's own storage, as a hostile node may."""
        self.dht.run_coroutine(partial(_store_local, key=key, subkey=subkey, value=value))

    def close(self) -> None:
        self.dht.shutdown()
        with contextlib.suppress(Exception):
            self.dht.join(5)


async def _store_local(_dht: Any, node: Any, key: str, subkey: bytes, value: object) -> None:
    node.protocol.storage.store(
        DHTID.generate(source=key), DHTProtocol.serializer.dumps(value), get_dht_time() + LATER, subkey=subkey
    )


@pytest.fixture(scope="module")
def hostiles(swarm: Swarm) -> Iterator[tuple[Hostile, Hostile]]:
    raw = signer = None
    try:
        raw = Hostile(swarm, sign=False)
        signer = Hostile(swarm, sign=True)
        yield raw, signer
    finally:
        for h in (raw, signer):
            if h is not None:
                h.close()
                assert not wait_no_p2pd(Path(h.identity.path))


@pytest.fixture(scope="module")
def honest(swarm: Swarm) -> list[Exchange]:
    exs = [Exchange(node, events=EventBus()) for node in swarm.nodes]
    for i, ex in enumerate(exs):
        assert ex.publish_reward(RS, 1.0 + i, steps=8)
        assert ex.publish_outputs(RS, [StageOutput(QUESTION, f"honest {i}", reward=1.0)])
    return exs


def views(exs: list[Exchange]) -> list[tuple[dict[str, float], dict[str, str]]]:
    out = []
    for ex in exs:
        rewards = ex.read_rewards(RS)
        assert rewards.malformed == 0  # validators dropped every bad entry before it reached the reader
        gathered = ex.gather_outputs(RS, deadline_s=10.0, refresh=True)
        qh = keys.question_hash(QUESTION)
        out.append((rewards.scores(), {p: o[qh].completion for p, o in gathered.outputs.items()}))
    return out


def test_overwriting_another_peers_reward_or_outputs_is_rejected(
    swarm: Swarm, honest: list[Exchange], hostiles: tuple[Hostile, Hostile]
) -> None:
    before = views(honest)
    victim = swarm.nodes[1]
    now = time.time()
    fake_reward = RewardRecord(
        peer_id=victim.peer_id, round=RS.round, stage=RS.stage, timestamp=now, reward=999.0, steps=8
    )
    victim_reward_subkey = owner_subkey(victim.peer_id, victim.public_key)
    qh = keys.question_hash(QUESTION)
    fake_output = OutputRecord(
        peer_id=victim.peer_id,
        round=RS.round,
        stage=RS.stage,
        timestamp=now,
        question_hash=qh,
        question=QUESTION,
        completion="hijacked",
    )
    for hostile in hostiles:
        # the victim's own subkeys, with values the hostile cannot sign for the victim's key
        hostile.store(keys.rewards_key(RS.round, RS.stage), victim_reward_subkey, encode_record(fake_reward))
        hostile.store(
            keys.outputs_key(victim.peer_id, RS.round, RS.stage),
            owner_subkey(qh, victim.public_key),
            encode_record(fake_output),
        )
    after = views(honest)
    assert after == before
    assert all(v[0][victim.peer_id] == 2.0 for v in after)


def test_a_forged_subkey_signed_by_another_key_is_rejected(
    swarm: Swarm, honest: list[Exchange], hostiles: tuple[Hostile, Hostile]
) -> None:
    before = views(honest)
    _, signer = hostiles
    victim = swarm.nodes[2]
    fake = RewardRecord(
        peer_id=victim.peer_id, round=RS.round, stage=RS.stage, timestamp=time.time(), reward=999.0, steps=8
    )
    # a properly signed record whose owner key is the hostile's while it claims the victim's peer id
    signer.store(
        keys.rewards_key(RS.round, RS.stage),
        owner_subkey(victim.peer_id, signer.public_key),
        encode_record(fake),
    )
    # the hostile's own subkey, naming the victim inside the value
    signer.store(
        keys.rewards_key(RS.round, RS.stage),
        owner_subkey(signer.peer_id, signer.public_key),
        encode_record(fake),
    )
    # outputs under the victim's key, signed by the hostile as itself
    qh = keys.question_hash(QUESTION)
    own = OutputRecord(
        peer_id=signer.peer_id,
        round=RS.round,
        stage=RS.stage,
        timestamp=time.time(),
        question_hash=qh,
        question=QUESTION,
        completion="planted",
    )
    signer.store(
        keys.outputs_key(victim.peer_id, RS.round, RS.stage),
        owner_subkey(qh, signer.public_key),
        encode_record(own),
    )
    assert views(honest) == before
    stats = swarm.nodes[0].validator_stats()
    rejected = sum(n.validator_stats()["rejected"].get("invalid", 0) for n in swarm.nodes)
    assert stats["accepted"] > 0 and rejected > 0


def test_malformed_and_oversized_values_are_rejected_and_counted(
    swarm: Swarm, honest: list[Exchange], hostiles: tuple[Hostile, Hostile]
) -> None:
    before = views(honest)
    raw, signer = hostiles
    key = keys.rewards_key(RS.round, RS.stage)
    signer.store(
        key, owner_subkey(signer.peer_id, signer.public_key), b'{"kind": "reward", "reward": "lots"}'
    )
    signer.store(key, owner_subkey(signer.peer_id, signer.public_key), {"not": "bytes"})
    raw.store(key, b"junk subkey", b"junk value")
    big = OutputRecord(
        peer_id=signer.peer_id,
        round=RS.round,
        stage=RS.stage,
        timestamp=time.time(),
        question_hash=keys.question_hash("q" * 16_000),
        question="q" * 16_000,
        completion="c" * 32_000,
        extra={"a": "x" * 16_000, "b": "y" * 16_000},
    )
    assert len(encode_record(big)) > 64 * 1024
    signer.store(
        keys.outputs_key(signer.peer_id, RS.round, RS.stage),
        owner_subkey(big.question_hash, signer.public_key),
        encode_record(big),
    )
    assert views(honest) == before
    gathered = honest[0].gather_outputs(RS, deadline_s=5.0, peers=[signer.peer_id])
    assert gathered.outputs == {} and gathered.missing == (signer.peer_id,)
    assert sum(n.validator_stats()["oversized"] for n in swarm.nodes) > 0

    # a reader that checks signatures but not schemas (an older or third-party node) is handed the
    # junk the hostile keeps locally: the exchange counts it and still returns every honest entry
    signer.store_local(key, b"junk subkey", b"junk value")
    unguarded = SwarmNode(
        signer.dht,
        DHTOptions(identity_path=signer.identity.path, rpc_timeout_s=2.0),
        signer.peer_id,
        EventBus(),
        time.time(),
    )
    view = Exchange(unguarded, events=EventBus()).read_rewards(RS)
    assert view.malformed >= 1
    assert view.scores() == before[0][0]


def test_a_hostile_clock_does_not_move_pinned_followers(
    swarm: Swarm, hostiles: tuple[Hostile, Hostile]
) -> None:
    clock = DHTCoordinator(swarm.coordinator, 3, is_coordinator=True, events=EventBus())
    _, signer = hostiles
    fake = RoundStageRecord(peer_id=signer.peer_id, round=999, stage=2, stage_count=3, timestamp=1.0)
    signer.store(keys.ROUND_STAGE_KEY, owner_subkey(signer.peer_id, signer.public_key), encode_record(fake))
    forged = RoundStageRecord(peer_id=clock.node.peer_id, round=999, stage=2, stage_count=3, timestamp=1.0)
    signer.store(
        keys.ROUND_STAGE_KEY, owner_subkey(clock.node.peer_id, signer.public_key), encode_record(forged)
    )
    follower = DHTCoordinator(
        swarm.nodes[3], 3, coordinator_peer_id=clock.node.peer_id, poll_min_s=0.0, events=EventBus()
    )
    assert follower.current() == clock.current()
