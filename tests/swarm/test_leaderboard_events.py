from __future__ import annotations

import hashlib

from rlswarm_core.swarm.events import EventBus, RewardsPublished, StageStarted, drain
from rlswarm_core.swarm.exchange import StageOutput, best_per_question
from rlswarm_core.swarm.leaderboard import rank, round_totals, round_winners, top1_vote

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def pid(i: int) -> str:
    """A well-formed (base58, 46 characters) peer id for peer number ``i``."""
    return "Qm" + _B58[i] * 44


def test_rank_sorts_by_reward_then_md5_of_peer_id() -> None:
    a, b, c, d = pid(1), pid(2), pid(3), pid(4)
    scores = {a: 1.0, b: 3.0, c: 1.0, d: 2.0}
    ranked = [e.peer_id for e in rank(scores)]
    tied = sorted([a, c], key=lambda p: hashlib.md5(p.encode()).hexdigest())
    assert ranked == [b, d, *tied]
    assert [e.peer_id for e in rank(dict(reversed(list(scores.items()))))] == ranked


def test_winners_are_the_top_ten_totals_and_the_vote_is_the_first() -> None:
    stages = [{pid(i): float(i) for i in range(15)}, {pid(0): 100.0, pid(14): -20.0}]
    totals = round_totals(stages)
    assert totals[pid(0)] == 100.0 and totals[pid(14)] == -6.0
    winners = round_winners(totals)
    assert winners == [pid(i) for i in (0, 13, 12, 11, 10, 9, 8, 7, 6, 5)]
    assert top1_vote(totals) == pid(0)
    assert top1_vote({}) is None


def test_best_completion_per_question() -> None:
    outs = [
        StageOutput("q1", "a", reward=1.0),
        StageOutput("q1", "b", reward=2.0),
        StageOutput("q2", "c", reward=0.5),
        StageOutput("q2", "d", reward=0.5),
    ]
    best = best_per_question(outs)
    assert len(best) == 2
    assert best[hashlib.md5(b"q1").hexdigest()].completion == "b"
    tie = min(["c", "d"], key=lambda c: hashlib.md5(c.encode()).hexdigest())
    assert best[hashlib.md5(b"q2").hexdigest()].completion == tie


def test_event_bus_survives_broken_subscribers() -> None:
    bus = EventBus()
    seen = []

    def broken(_event: object) -> None:
        raise RuntimeError("ui crashed")

    bus.subscribe(broken)
    unsubscribe = bus.subscribe(seen.append)
    queue = bus.queue()
    bus.emit(StageStarted(round=1, stage=0))
    unsubscribe()
    bus.emit(RewardsPublished(round=1, stage=0, reward=1.0, steps=4))
    assert [e.kind for e in seen] == ["StageStarted"]
    assert [e.kind for e in drain(queue)] == ["StageStarted", "RewardsPublished"]
    assert bus.subscriber_errors == 2
