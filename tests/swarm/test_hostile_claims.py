"""A hostile peer (a plain hivemind DHT process signing its own records) that claims rewards it did not
earn, or floods a stage with outputs: it is flagged and ranked by what its outputs earn, it never
enters the critique stage's top-k on its claim, and what a node reads of it is capped and counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import ClaimFlagged, EventBus, OutputsDropped, drain
from rlswarm_core.swarm.exchange import Exchange, StageOutput
from rlswarm_core.swarm.records import OutputRecord, RewardRecord, encode_record, owner_subkey
from rlswarm_core.swarm.verify import verified_leaderboard
from rlswarm_core.training.stages import Gsm8kPipeline
from rlswarm_core.training.tasks import get_task_family

from .conftest import Swarm, wait_no_p2pd
from .test_hostile import Hostile

RS = RoundStage(520, 0)
FLOOD = RoundStage(521, 0)
GOOD = "<think>\nadd them\n</think>\n<answer>\n{}\n</answer>\n"


@pytest.fixture(scope="module")
def liar(swarm: Swarm) -> Iterator[Hostile]:
    hostile = Hostile(swarm, sign=True)
    yield hostile
    hostile.close()
    assert not wait_no_p2pd(Path(hostile.identity.path))


def _pipeline(peer: str) -> Gsm8kPipeline:
    return Gsm8kPipeline(get_task_family("gsm8k", source="reasoning-gym:gsm_symbolic"), peer, 2, top_k=2)


def _honest_outputs(pipeline: Gsm8kPipeline, wrong: bool) -> tuple[list[StageOutput], float]:
    plan = pipeline.plan(RS.round, 0, None)
    outputs = []
    for row in plan.rows:
        text = GOOD.format("-3" if wrong else row["answer"])
        (reward,) = plan.score([row], [text])
        outputs.append(StageOutput(row["question"], text, reward=reward, answer=row["answer"]))
    return outputs, sum(o.reward for o in outputs) / len(outputs)


def test_an_unearned_claim_is_flagged_and_ranked_by_its_outputs(swarm: Swarm, liar: Hostile) -> None:
    buses = [EventBus() for _ in swarm.nodes]
    flagged_events = buses[0].queue()
    exs = [Exchange(node, events=bus) for node, bus in zip(swarm.nodes, buses, strict=True)]
    pipelines = [_pipeline(node.peer_id) for node in swarm.nodes]
    for i, (ex, pipeline) in enumerate(zip(exs, pipelines, strict=True)):
        outputs, mean = _honest_outputs(pipeline, wrong=i == 3)
        assert ex.publish(RS, mean, 4, outputs)
    # the liar publishes garbage, signed with its own key, and claims the schema's maximum for all of it
    now = time.time()
    for row in pipelines[0].plan(RS.round, 0, None).rows:
        record = OutputRecord(
            peer_id=liar.peer_id,
            round=RS.round,
            stage=RS.stage,
            timestamp=now,
            question_hash=keys.question_hash(row["question"]),
            question=row["question"],
            answer=row["answer"],
            completion="I win",
            reward=1e9,
        )
        liar.store(
            keys.outputs_key(liar.peer_id, RS.round, RS.stage),
            owner_subkey(record.question_hash, liar.public_key),
            encode_record(record),
        )
    claim = RewardRecord(
        peer_id=liar.peer_id, round=RS.round, stage=RS.stage, timestamp=now, reward=1e9, steps=4
    )
    liar.store(
        keys.rewards_key(RS.round, RS.stage),
        owner_subkey(liar.peer_id, liar.public_key),
        encode_record(claim),
    )
    assert exs[0].read_rewards(RS).scores()[liar.peer_id] == 1e9  # the claim itself is well-formed

    verified = verified_leaderboard(exs[0], RS, pipelines[0].rescore, deadline_s=10.0)
    assert set(verified.flagged) == {liar.peer_id}
    flag = verified.flagged[liar.peer_id]
    assert flag.claimed == 1e9 and flag.recomputed < 1.0
    honest = {n.peer_id for n in swarm.nodes}
    assert not set(verified.flagged) & honest
    (event,) = [e for e in drain(flagged_events) if isinstance(e, ClaimFlagged)]
    assert event.peer_id == liar.peer_id and event.what == "output"
    # every node reads the coordinator's leaderboard: the liar is last, marked, the honest on top
    record = exs[1].leaderboard_record(RS, swarm.nodes[0].peer_id)
    assert record is not None and record.flagged == [liar.peer_id]
    assert record.entries[-1].peer_id == liar.peer_id
    assert record.entries[0].peer_id in {n.peer_id for n in swarm.nodes[:3]}

    # the critique stage's top-k (k=2) on a node that gathered everyone, the liar included
    gathered = exs[3].gather_outputs(RS, deadline_s=10.0, refresh=True)
    assert liar.peer_id in gathered.outputs
    plan = pipelines[3].plan(RS.round, 1, gathered.outputs)
    students = [s for row in plan.rows for s in row["context"].students.values()]
    assert students and not any("I win" in s for s in students)


def test_a_flood_of_outputs_is_capped_and_counted(swarm: Swarm, liar: Hostile) -> None:
    now = time.time()
    sent = 40
    for i in range(sent):
        question = f"flood question {i}"
        record = OutputRecord(
            peer_id=liar.peer_id,
            round=FLOOD.round,
            stage=FLOOD.stage,
            timestamp=now,
            question_hash=keys.question_hash(question),
            question=question,
            completion="x" * 10_000,
            reward=1.0,
        )
        liar.store(
            keys.outputs_key(liar.peer_id, FLOOD.round, FLOOD.stage),
            owner_subkey(record.question_hash, liar.public_key),
            encode_record(record),
        )
    bus = EventBus()
    seen = bus.queue()
    reader = Exchange(swarm.nodes[1], events=bus, max_outputs_per_peer=16, max_output_bytes_per_peer=100_000)
    gathered = reader.gather_outputs(FLOOD, deadline_s=10.0, peers=[liar.peer_id])
    kept = gathered.outputs[liar.peer_id]
    assert 0 < len(kept) <= 16
    assert sum(len(encode_record(r)) for r in kept.values()) <= 100_000
    (dropped,) = [e for e in drain(seen) if isinstance(e, OutputsDropped)]
    assert dropped.peer_id == liar.peer_id and dropped.dropped == sent - len(kept) > 0
    assert reader.dropped_total == dropped.dropped
