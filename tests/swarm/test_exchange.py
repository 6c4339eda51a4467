"""Outputs, rewards, leaderboards and winners exchanged between real DHT nodes."""

from __future__ import annotations

import pytest

from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import EventBus, LeaderboardChanged, PeerCountChanged, drain
from rlswarm_core.swarm.exchange import Exchange, StageOutput
from rlswarm_core.swarm.leaderboard import rank, round_totals, round_winners, top1_vote

from .conftest import Swarm

QUESTIONS = ["What is 2 + 3?", "What is 7 * 6?", "Name a prime above 10."]
RS = RoundStage(100, 0)
RS2 = RoundStage(100, 1)


def outputs_of(i: int) -> list[StageOutput]:
    out = []
    for q in QUESTIONS:
        # two tries per question: only the better one is published
        out.append(StageOutput(q, f"<answer>weak {i}</answer>", reward=0.1))
        out.append(StageOutput(q, f"<answer>node {i} says {q}</answer>", reward=1.0 + i, answer="ref"))
    return out


STAGE0_REWARDS = [2.0, 3.5, 2.0, 0.5]  # nodes 0 and 2 tie
STAGE1_REWARDS = [1.0, 0.0, 4.0, 0.5]


@pytest.fixture(scope="module")
def exchanges(swarm: Swarm) -> list[Exchange]:
    exs = [Exchange(node, events=EventBus()) for node in swarm.nodes]
    for i, ex in enumerate(exs):
        assert ex.publish_outputs(RS, outputs_of(i))
        assert ex.publish_reward(RS, STAGE0_REWARDS[i], steps=20)
        assert ex.publish_reward(RS2, STAGE1_REWARDS[i], steps=20)
    return exs


def test_every_peer_sees_every_peers_rewards(swarm: Swarm, exchanges: list[Exchange]) -> None:
    ids = [n.peer_id for n in swarm.nodes]
    for ex in exchanges:
        events = ex.events.queue()
        view = ex.read_rewards(RS)
        assert view.malformed == 0
        assert view.scores() == dict(zip(ids, STAGE0_REWARDS, strict=True))
        assert all(view.rewards[p].steps == 20 for p in ids)
        counts = [e for e in drain(events) if isinstance(e, PeerCountChanged)]
        assert [(e.peers, e.previous) for e in counts] == [(4, 0)]


def test_every_peer_sees_every_peers_best_outputs(swarm: Swarm, exchanges: list[Exchange]) -> None:
    ids = [n.peer_id for n in swarm.nodes]
    for ex in exchanges:
        got = ex.gather_outputs(RS, deadline_s=10.0)
        assert got.missing == () and got.malformed == 0
        assert sorted(got.outputs) == sorted(ids)
        for i, peer in enumerate(ids):
            by_question = got.outputs[peer]
            assert set(by_question) == {keys.question_hash(q) for q in QUESTIONS}
            for q in QUESTIONS:
                rec = by_question[keys.question_hash(q)]
                assert rec.completion == f"<answer>node {i} says {q}</answer>"
                assert rec.reward == 1.0 + i and rec.answer == "ref" and rec.peer_id == peer


def test_gathered_outputs_are_cached_until_refreshed(swarm: Swarm, exchanges: list[Exchange]) -> None:
    reader, writer = exchanges[0], exchanges[1]
    rs = RoundStage(102, 0)
    peer = swarm.nodes[1].peer_id
    writer.publish_outputs(rs, [StageOutput("q", "first", reward=1.0)])
    first = reader.gather_outputs(rs, deadline_s=10.0, peers=[peer])
    writer.publish_outputs(rs, [StageOutput("q", "second", reward=1.0)])
    cached = reader.gather_outputs(rs, deadline_s=10.0, peers=[peer])
    fresh = reader.gather_outputs(rs, deadline_s=10.0, peers=[peer], refresh=True)
    qh = keys.question_hash("q")
    assert first.outputs[peer][qh].completion == cached.outputs[peer][qh].completion == "first"
    assert fresh.outputs[peer][qh].completion == "second"


def test_leaderboard_order_is_the_same_everywhere(swarm: Swarm, exchanges: list[Exchange]) -> None:
    ids = [n.peer_id for n in swarm.nodes]
    expected = rank(dict(zip(ids, STAGE0_REWARDS, strict=True)))
    assert expected[0].peer_id == ids[1] and expected[-1].peer_id == ids[3]
    for ex in exchanges:
        events = ex.events.queue()
        assert ex.leaderboard(RS) == expected
        assert ex.leaderboard(RS) == expected  # unchanged: no second event
        changed = [e for e in drain(events) if isinstance(e, LeaderboardChanged)]
        assert len(changed) == 1 and changed[0].top[0] == (ids[1], 3.5)

    coordinator = exchanges[0]
    assert coordinator.publish_leaderboard(RS)
    for ex in exchanges[1:]:
        assert ex.read_leaderboard(RS, coordinator_peer_id=ids[0]) == expected
        assert ex.read_leaderboard(RS, coordinator_peer_id=ids[2]) is None  # only the coordinator's counts


def test_round_winners_and_votes(swarm: Swarm, exchanges: list[Exchange]) -> None:
    ids = [n.peer_id for n in swarm.nodes]
    for ex in exchanges:
        totals = round_totals(ex.read_rewards(rs).scores() for rs in (RS, RS2))
        assert totals == {p: a + b for p, a, b in zip(ids, STAGE0_REWARDS, STAGE1_REWARDS, strict=True)}
        assert round_winners(totals) == [ids[2], ids[1], ids[0], ids[3]]
        assert top1_vote(totals) == ids[2]


def test_publishing_happens_every_n_steps(swarm: Swarm, exchanges: list[Exchange]) -> None:
    rs = RoundStage(101, 0)
    ex = Exchange(swarm.nodes[3], publish_every_steps=4, events=EventBus())
    reader = exchanges[0]
    for step in (1, 2, 3):
        assert not ex.on_step(rs, step, reward=float(step), outputs=outputs_of(3))
    assert reader.read_rewards(rs).rewards == {}
    assert ex.on_step(rs, 4, reward=4.0, outputs=outputs_of(3))
    view = reader.read_rewards(rs)
    assert view.scores() == {swarm.nodes[3].peer_id: 4.0}
    assert view.rewards[swarm.nodes[3].peer_id].steps == 4
    got = reader.gather_outputs(rs, deadline_s=10.0)
    assert len(got.outputs[swarm.nodes[3].peer_id]) == len(QUESTIONS)


def test_a_stage_larger_than_the_pipe_buffer_is_published_in_one_call(
    swarm: Swarm, exchanges: list[Exchange]
) -> None:
    """hivemind's DHT process used to die (BlockingIOError, then EOFError) on commands over ~64 KiB."""
    rs = RoundStage(103, 0)
    writer = exchanges[2]
    outputs = [StageOutput(f"question {i}", f"answer {i} " + "x" * 20_000, reward=1.0) for i in range(16)]
    assert writer.publish_outputs(rs, outputs)  # about 330 KB in one store call
    assert writer.node.dht.is_alive()
    got = exchanges[0].gather_outputs(rs, deadline_s=10.0, peers=[writer.node.peer_id])
    assert len(got.outputs[writer.node.peer_id]) == 16
    assert writer.publish_reward(rs, 1.0, steps=4)  # and the node still answers


def test_records_expire_after_their_configured_lifetime(swarm: Swarm, exchanges: list[Exchange]) -> None:
    import time

    from rlswarm_core.swarm.records import RewardRecord, encode_record, owner_subkey

    node = swarm.nodes[3]
    rs = RoundStage(104, 0)
    record = RewardRecord(
        peer_id=node.peer_id, round=rs.round, stage=rs.stage, timestamp=time.time(), reward=1.0, steps=4
    )
    subkey = owner_subkey(node.peer_id, node.public_key)
    assert node.store_many([(record.dht_key(), subkey, encode_record(record))], expiration_s=1.5)
    assert exchanges[0].read_rewards(rs).scores() == {node.peer_id: 1.0}
    time.sleep(2.0)
    assert exchanges[1].read_rewards(rs).scores() == {}
    assert node.options.expiration_s == 4 * 3600  # the default lifetime of everything else


def test_a_republished_stage_replaces_its_earlier_bundle_parts(
    swarm: Swarm, exchanges: list[Exchange]
) -> None:
    """Outputs go out as signed bundles split by the value-size limit; publishing again with fewer parts
    leaves the earlier publish's extra parts on the DHT until they expire, and readers ignore them."""
    rs = RoundStage(104, 0)
    writer = exchanges[1]
    many = [StageOutput(f"question {i}", "x" * 20_000, reward=1.0) for i in range(8)]
    assert writer.publish_outputs(rs, many)
    peer = writer.node.peer_id
    found = exchanges[0].node.get_many([keys.outputs_key(peer, rs.round, rs.stage)], timeout=10.0)
    assert len(next(iter(found.values())) or {}) > 1  # several parts
    assert len(exchanges[0].gather_outputs(rs, deadline_s=10.0, peers=[peer]).outputs[peer]) == 8
    assert writer.publish_outputs(rs, [StageOutput("question 0", "short", reward=2.0)])
    got = exchanges[0].gather_outputs(rs, deadline_s=10.0, peers=[peer], refresh=True).outputs[peer]
    assert [(r.question, r.completion) for r in got.values()] == [("question 0", "short")]


def test_a_claim_names_the_version_of_the_outputs_published_with_it(
    swarm: Swarm, exchanges: list[Exchange]
) -> None:
    """A node stores its outputs (every bundle part) and its reward in one call: the reward entry's DHT
    expiration is the version a reader asks for, so a gather can end at the first replica holding it."""
    rs = RoundStage(105, 0)
    writer = exchanges[1]
    peer = writer.node.peer_id
    many = [StageOutput(f"question {i}", "y" * 20_000, reward=1.0) for i in range(6)]
    assert writer.publish(rs, 1.5, 4, many)
    claims = exchanges[2].read_rewards(rs)
    version = claims.versions[peer]
    entries = exchanges[2].node.get_entries([keys.outputs_key(peer, rs.round, rs.stage)], timeout=10.0)
    parts = next(iter(entries.values())) or {}
    assert len(parts) > 1 and {expires for _, expires in parts.values()} == {version}


def test_a_gather_returns_the_version_each_claim_names(swarm: Swarm, exchanges: list[Exchange]) -> None:
    """A reader that saw an earlier publish of the stage still gets the outputs that go with each peer's
    final claim, in every peer's copy of the swarm."""
    rs = RoundStage(106, 0)
    writer = exchanges[1]
    peer = writer.node.peer_id
    assert writer.publish(rs, 0.5, 4, [StageOutput(QUESTIONS[0], "<answer>early</answer>", reward=0.5)])
    for reader in (exchanges[0], exchanges[2], exchanges[3]):
        early = Exchange(reader.node, events=EventBus()).gather_outputs(rs, deadline_s=10.0)
        assert [r.completion for r in early.outputs[peer].values()] == ["<answer>early</answer>"]
    assert writer.publish(rs, 2.0, 8, [StageOutput(QUESTIONS[0], "<answer>final</answer>", reward=1.0)])
    for reader in (exchanges[0], exchanges[2], exchanges[3]):
        fresh = Exchange(reader.node, events=EventBus())
        claims = fresh.read_rewards(rs)
        assert claims.scores() == {peer: 2.0}
        got = fresh.gather_outputs(rs, deadline_s=10.0, claims=claims)
        assert got.missing == ()
        assert [r.completion for r in got.outputs[peer].values()] == ["<answer>final</answer>"]


def test_a_version_no_replica_holds_falls_back_to_the_latest_value(
    swarm: Swarm, exchanges: list[Exchange]
) -> None:
    """A claim whose outputs never reached any replica (or a reward stored alone, later than its outputs)
    names a version nobody has: the read asks every replica, as without a version, and returns the
    newest value there is."""
    rs = RoundStage(107, 0)
    writer = exchanges[1]
    peer = writer.node.peer_id
    assert writer.publish(rs, 1.0, 4, [StageOutput(QUESTIONS[1], "<answer>only</answer>", reward=1.0)])
    key = keys.outputs_key(peer, rs.round, rs.stage)
    later = exchanges[3].read_rewards(rs).versions[peer] + 3600.0
    found = exchanges[3].node.get_many([key], timeout=10.0, versions={key: later})
    assert len(found[key] or {}) == 1


def test_a_nodes_own_outputs_gathered_equal_what_the_swarm_reads(
    swarm: Swarm, exchanges: list[Exchange]
) -> None:
    """A node gathers its own outputs from what it last published (no read back from the DHT); they are
    the records every other reader gets, and a later publish of the stage replaces them."""
    rs = RoundStage(108, 0)
    writer = exchanges[2]
    peer = writer.node.peer_id
    many = [StageOutput(f"question {i}", f"<answer>{i}</answer>" + "z" * 9_000, reward=0.5) for i in range(5)]
    for outputs in (many, many[:2]):
        assert writer.publish(rs, 0.5, 4, outputs)
        own = writer.gather_outputs(rs, deadline_s=10.0).outputs[peer]
        read_back = Exchange(writer.node, events=EventBus()).gather_outputs(rs, deadline_s=10.0)
        elsewhere = Exchange(exchanges[0].node, events=EventBus()).gather_outputs(rs, deadline_s=10.0)
        assert len(own) == len(outputs)
        assert own == read_back.outputs[peer] == elsewhere.outputs[peer]


def test_several_stages_rewards_in_one_read(swarm: Swarm, exchanges: list[Exchange]) -> None:
    reader = exchanges[3]
    both = reader.read_rewards_of([RS, RS2, RoundStage(999, 0)])
    assert both[RS].scores() == reader.read_rewards(RS).scores()
    assert both[RS2].scores() == reader.read_rewards(RS2).scores()
    assert both[RS].versions == reader.read_rewards(RS).versions
    assert both[RoundStage(999, 0)].rewards == {}
