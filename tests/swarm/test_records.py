"""Record models and hivemind validators, exercised in-process on real signed records."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from hivemind.dht.protocol import DHTProtocol
from hivemind.dht.routing import DHTID
from hivemind.dht.validation import CompositeValidator, DHTRecord

from rlswarm_core.identity.keys import create_identity
from rlswarm_core.swarm import keys
from rlswarm_core.swarm.dht import identity_signing_key
from rlswarm_core.swarm.records import (
    DEFAULT_MAX_VALUE_BYTES,
    OutputBundleRecord,
    OutputItem,
    OutputRecord,
    RewardRecord,
    RoundStageRecord,
    bundle_tag,
    check_entry,
    decode_record,
    encode_record,
    owner_subkey,
    peer_id_of_ssh_key,
    validators,
)

ser = DHTProtocol.serializer


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("keys")
    out = []
    for name in ("alice", "mallory"):
        ident = create_identity(Path(base) / f"{name}.key")
        out.append((ident, identity_signing_key(ident.path)))
    return out


def reward(peer_id: str, value: float = 1.0, **kw) -> RewardRecord:
    return RewardRecord(peer_id=peer_id, round=3, stage=1, timestamp=time.time(), reward=value, steps=4, **kw)


def signed(key, dht_key: str, subkey: bytes, value: bytes, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES):
    composite = CompositeValidator(validators(key, max_value_bytes))
    record = DHTRecord(DHTID.generate(source=dht_key).to_bytes(), ser.dumps(subkey), ser.dumps(value), 1e10)
    return composite, DHTRecord(
        record.key, record.subkey, composite.sign_value(record), record.expiration_time
    )


def test_key_names_match_the_reference() -> None:
    assert keys.ROUND_STAGE_KEY == "rl_swarm_rs"
    assert keys.outputs_key("QmX", 2, 1) == "rl_swarm_outputs_QmX_2_1"
    assert keys.rewards_key(2, 1) == "rl_swarm_rewards_2_1"
    assert keys.leaderboard_key(2, 1) == "rl_swarm_leaderboard_2_1"
    assert keys.question_hash("q") == "7694f4a66316e53c8cdd9d9954bd611d"


def test_owner_key_hashes_to_the_identity_peer_id(two_keys) -> None:
    (alice, alice_key), _ = two_keys
    assert peer_id_of_ssh_key(alice_key.get_public_key().to_bytes()) == alice.peer_id


def test_records_round_trip_and_reject_bad_values(two_keys) -> None:
    (alice, _), _ = two_keys
    rec = reward(alice.peer_id, 2.5)
    assert decode_record(encode_record(rec)) == rec
    bad_values = [
        b"not json",
        "a str, not bytes",
        encode_record(rec).replace(b'"steps":4', b'"steps":"4"'),  # no type coercion
        encode_record(rec).replace(b'"steps":4', b'"steps":4,"bonus":1'),  # no unknown fields
        encode_record(rec).replace(b'"reward":2.5', b'"reward":NaN'),
        encode_record(rec).replace(alice.peer_id.encode(), b"not a peer id!"),
    ]
    for raw in bad_values:
        with pytest.raises(ValueError):
            decode_record(raw)
    out = OutputRecord(
        peer_id=alice.peer_id,
        round=0,
        stage=0,
        timestamp=1.0,
        question_hash=keys.question_hash("q"),
        question="other question",
        completion="c",
    )
    with pytest.raises(ValueError, match="md5"):
        decode_record(encode_record(out))
    clock = RoundStageRecord(peer_id=alice.peer_id, round=0, stage=3, stage_count=3, timestamp=1.0)
    with pytest.raises(ValueError, match="outside"):
        decode_record(encode_record(clock))


def test_check_entry_binds_subkey_owner_and_peer_id(two_keys) -> None:
    (alice, alice_key), (mallory, mallory_key) = two_keys
    rec = encode_record(reward(alice.peer_id))
    alice_pub, mallory_pub = alice_key.get_public_key().to_bytes(), mallory_key.get_public_key().to_bytes()
    assert check_entry(owner_subkey(alice.peer_id, alice_pub), rec).peer_id == alice.peer_id
    with pytest.raises(ValueError, match="signing key"):
        check_entry(owner_subkey(alice.peer_id, mallory_pub), rec)
    with pytest.raises(ValueError, match="subkey does not match"):
        check_entry(owner_subkey(mallory.peer_id, alice_pub), rec)
    with pytest.raises(ValueError, match="no owner"):
        check_entry(alice.peer_id.encode(), rec)


def test_validators_accept_signed_records_and_reject_tampering(two_keys) -> None:
    (alice, alice_key), (_, mallory_key) = two_keys
    rec = reward(alice.peer_id, 1.0)
    subkey = owner_subkey(alice.peer_id, alice_key.get_public_key().to_bytes())
    key = keys.rewards_key(3, 1)
    composite, good = signed(alice_key, key, subkey, encode_record(rec))
    assert composite.validate(good)
    assert ser.loads(composite.strip_value(good)) == encode_record(rec)

    # another key cannot produce a valid signature for alice's subkey
    _, by_mallory = signed(mallory_key, key, subkey, encode_record(reward(alice.peer_id, 99.0)))
    assert not composite.validate(by_mallory)
    # the value changed after signing
    forged_value = good.value.replace(b'"reward":1.0', b'"reward":9.0')
    assert forged_value != good.value
    assert not composite.validate(DHTRecord(good.key, good.subkey, forged_value, good.expiration_time))
    # a correctly signed record stored under another key (a replay into another stage)
    other_key = DHTID.generate(source=keys.rewards_key(3, 2)).to_bytes()
    assert not composite.validate(DHTRecord(other_key, good.subkey, good.value, good.expiration_time))


def test_oversized_values_are_rejected_before_anything_else(two_keys) -> None:
    (alice, alice_key), _ = two_keys
    rec = OutputRecord(
        peer_id=alice.peer_id,
        round=0,
        stage=0,
        timestamp=1.0,
        question_hash=keys.question_hash("q"),
        question="q",
        completion="x" * 5000,
    )
    subkey = owner_subkey(rec.question_hash, alice_key.get_public_key().to_bytes())
    key = keys.outputs_key(alice.peer_id, 0, 0)
    composite, record = signed(alice_key, key, subkey, encode_record(rec), max_value_bytes=10_000)
    assert composite.validate(record)
    small, record = signed(alice_key, key, subkey, encode_record(rec), max_value_bytes=4_000)
    assert not small.validate(record)


def test_clock_key_requires_an_owner_subkey(two_keys) -> None:
    (alice, alice_key), _ = two_keys
    clock = encode_record(
        RoundStageRecord(peer_id=alice.peer_id, round=1, stage=0, stage_count=3, timestamp=1.0)
    )
    composite, good = signed(
        alice_key,
        keys.ROUND_STAGE_KEY,
        owner_subkey(alice.peer_id, alice_key.get_public_key().to_bytes()),
        clock,
    )
    assert composite.validate(good)
    _, plain = signed(alice_key, keys.ROUND_STAGE_KEY, alice.peer_id.encode(), clock)
    assert not composite.validate(plain)
    assert math.isfinite(decode_record(clock).timestamp)


def item(question: str, completion: str = "c") -> OutputItem:
    return OutputItem(question_hash=keys.question_hash(question), question=question, completion=completion)


def bundle(peer_id: str, items: list[OutputItem], part: int = 0, parts: int = 1) -> OutputBundleRecord:
    return OutputBundleRecord(
        peer_id=peer_id, round=3, stage=1, timestamp=1.0, part=part, parts=parts, outputs=items
    )


def test_a_bundle_is_checked_like_the_records_it_holds(two_keys) -> None:
    (alice, _), _ = two_keys
    good = bundle(alice.peer_id, [item("q1"), item("q2")], part=1, parts=2)
    assert decode_record(encode_record(good)) == good
    assert [r.question for r in good.expand()] == ["q1", "q2"]
    assert {r.peer_id for r in good.expand()} == {alice.peer_id}
    assert good.dht_key() == keys.outputs_key(alice.peer_id, 3, 1)
    wrong_md5 = item("q1").model_copy(update={"question": "another question"})
    for bad, why in [
        (bundle(alice.peer_id, [item("q1"), item("q1", "again")]), "twice"),
        (bundle(alice.peer_id, [wrong_md5]), "md5"),
        (bundle(alice.peer_id, [item("q1")], part=2, parts=2), "part"),
    ]:
        with pytest.raises(ValueError, match=why):
            decode_record(encode_record(bad))
    with pytest.raises(ValueError):
        decode_record(encode_record(good).replace(b'"outputs":[', b'"outputs":[1,'))


def test_a_bundle_is_signed_once_and_bound_to_its_part_and_owner(two_keys) -> None:
    (alice, alice_key), (_, mallory_key) = two_keys
    value = encode_record(bundle(alice.peer_id, [item(f"q{i}", "x" * 1000) for i in range(8)]))
    key = keys.outputs_key(alice.peer_id, 3, 1)
    alice_pub = alice_key.get_public_key().to_bytes()
    composite, good = signed(alice_key, key, owner_subkey(bundle_tag(0), alice_pub), value)
    assert composite.validate(good)
    assert ser.loads(composite.strip_value(good)) == value
    # the same value under another part's subkey, or signed by a key that is not alice's
    _, other_part = signed(alice_key, key, owner_subkey(bundle_tag(1), alice_pub), value)
    assert not composite.validate(other_part)
    _, by_mallory = signed(mallory_key, key, owner_subkey(bundle_tag(0), alice_pub), value)
    assert not composite.validate(by_mallory)
    tampered = good.value.replace(b"xxxx", b"yyyy", 1)
    assert not composite.validate(DHTRecord(good.key, good.subkey, tampered, good.expiration_time))


def test_a_verdict_is_remembered_per_exact_record(two_keys) -> None:
    """The cache must never let a changed record ride on an earlier verdict."""
    (alice, alice_key), _ = two_keys
    subkey = owner_subkey(alice.peer_id, alice_key.get_public_key().to_bytes())
    composite, good = signed(alice_key, keys.rewards_key(3, 1), subkey, encode_record(reward(alice.peer_id)))
    assert composite.validate(good) and composite.validate(good)
    for changed in [
        DHTRecord(good.key, good.subkey, good.value, good.expiration_time + 1),
        DHTRecord(DHTID.generate(source=keys.rewards_key(3, 2)).to_bytes(), good.subkey, good.value, 1e10),
    ]:
        # a different expiration time is part of what hivemind signs
        assert not composite.validate(changed)


def test_a_signer_judges_its_own_records_by_every_rule_but_the_signature(two_keys) -> None:
    """A node settles the verdict on a record it has just signed without verifying its own signature;
    every other rule still holds, and the verdict is the one any other node reaches."""
    (alice, alice_key), (mallory, _) = two_keys
    subkey = owner_subkey(alice.peer_id, alice_key.get_public_key().to_bytes())
    cases = {
        "valid": (keys.rewards_key(3, 1), encode_record(reward(alice.peer_id))),
        "another peer's id": (keys.rewards_key(3, 1), encode_record(reward(mallory.peer_id))),
        "another stage's key": (keys.rewards_key(3, 2), encode_record(reward(alice.peer_id))),
        "not a record": (keys.rewards_key(3, 1), b"not a record"),
    }
    for name, (dht_key, value) in cases.items():
        signer, record = signed(alice_key, dht_key, subkey, value)
        other = CompositeValidator(validators(alice_key))  # has signed nothing: checks it all
        assert signer.validate(record) == other.validate(record) == (name == "valid"), name
    # too large for the limit once signed
    signer, record = signed(alice_key, *cases["valid"][:1], subkey, cases["valid"][1], max_value_bytes=300)
    assert not signer.validate(record)
