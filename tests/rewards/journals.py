"""Journals written by the real event journal, as a node would write them."""

from __future__ import annotations

from pathlib import Path

from rlswarm_core.identity.keys import create_identity
from rlswarm_core.node.events import (
    ChainSubmitted,
    NodeStarted,
    NodeStopped,
    RoundFinished,
    StageFinished,
    StepDone,
)
from rlswarm_core.node.journal import JOURNAL_NAME, EventJournal
from rlswarm_core.swarm.events import LeaderboardChanged, PeerCountChanged, RewardsPublished, StageStarted
from rlswarm_core.system.paths import app_paths


def peer_of(name: str) -> str:
    path = app_paths().identity_file(name)
    from rlswarm_core.identity.keys import load_identity

    return (load_identity(path) if path.exists() else create_identity(path)).peer_id


def write_journal(
    name: str,
    rounds: int,
    *,
    rewards: dict[tuple[int, int], float] | None = None,
    steps: int = 2,
    stopped: bool = False,
    win_rounds: tuple[int, ...] = (),
    others: tuple[str, ...] = ("QmOther",),
    earn_until: int | None = None,
) -> tuple[Path, str]:
    """``rounds`` rounds of three stages; the reward of (round, stage) is ``rewards`` or round + stage/10."""
    peer = peer_of(name)
    path = app_paths().instances / name / JOURNAL_NAME
    journal = EventJournal(path)
    at = 1_700_000_000.0
    journal(NodeStarted(peer_id=peer, animal_name="a b c", model="m", profile="local-tiny", device="cpu",
                        dtype="float32", role="coordinator", at=at))  # fmt: skip
    for r in range(rounds):
        for s in range(3):
            at += 1
            journal(StageStarted(round=r, stage=s, at=at))
            reward = (rewards or {}).get((r, s), r + s / 10)
            if earn_until is not None and r > earn_until:
                reward = 0.0
            for step in range(1, steps + 1):
                journal(
                    StepDone(
                        round=r, stage=s, step=step, steps=steps, reward=reward, tokens_per_second=50.0, at=at
                    )
                )
            journal(PeerCountChanged(round=r, stage=s, peers=len(others) + 1, previous=0, at=at))
            if reward > 0:
                journal(RewardsPublished(round=r, stage=s, reward=reward, steps=steps, at=at))
            journal(
                StageFinished(round=r, stage=s, reward=reward, steps=steps, seconds=1.0, questions=4, at=at)
            )
            board = sorted([(peer, reward), *((o, 0.5) for o in others)], key=lambda x: -x[1])
            journal(LeaderboardChanged(round=r, stage=s, top=tuple(board), at=at))
        winners = (peer, *others) if r in win_rounds else others
        journal(RoundFinished(round=r, reward=1.0, winners=winners, vote=winners[:1], at=at))
        journal(ChainSubmitted(what="winners", round=r, stage=2, status="sent", at=at))
    if stopped:
        journal(NodeStopped(reason="stopped", rounds=rounds, at=at + 1))
    journal.close()
    return path, peer
