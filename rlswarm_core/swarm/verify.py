"""Rewards the swarm can trust: each peer's claims checked against what its outputs earn.

A peer claims a running reward per stage (its reward record) and a reward per published output. The
node recomputes the output rewards from the published data (see
:mod:`rlswarm_core.training.rescore`) and

* ranks every peer by its **recomputed** reward (the mean over its published outputs; 0 without any),
  so no claim can move the leaderboard;
* flags a peer whose claim disagrees beyond ``ABS_TOLERANCE`` + ``REL_TOLERANCE`` × |value|: an
  output claimed above or below its recomputed reward, or a stage reward above the best reward its
  outputs earn (a mean over a stage's completions cannot exceed the best of them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ABS_TOLERANCE = 1e-3
REL_TOLERANCE = 1e-3

# peer -> question md5 -> reward
Rescored = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Flag:
    peer_id: str
    claimed: float
    recomputed: float
    what: str  # "output" | "stage"


@dataclass(frozen=True)
class Verified:
    scores: dict[str, float]
    flagged: dict[str, Flag] = field(default_factory=dict)


def disagrees(claimed: float, recomputed: float) -> bool:
    return abs(claimed - recomputed) > ABS_TOLERANCE + REL_TOLERANCE * abs(recomputed)


def verify(
    claims: Mapping[str, float], outputs: Mapping[str, Mapping[str, Any]], rescored: Rescored
) -> Verified:
    """Recomputed scores for every peer that claimed a reward or published outputs, and the flags.

    ``claims`` are the stage rewards peers published, ``outputs`` their records (``.reward`` is the
    claim per output), ``rescored`` the rewards recomputed from those records.
    """
    scores: dict[str, float] = {}
    flagged: dict[str, Flag] = {}
    for peer in sorted(set(claims) | set(outputs)):
        values = rescored.get(peer) or {}
        scores[peer] = sum(values.values()) / len(values) if values else 0.0
        records = outputs.get(peer) or {}
        for qhash in sorted(values):
            record = records.get(qhash)
            if record is not None and disagrees(float(record.reward), values[qhash]):
                flagged[peer] = Flag(peer, float(record.reward), values[qhash], "output")
                break
        stage_claim = claims.get(peer)
        if peer not in flagged and values and stage_claim is not None:
            best = max(values.values())
            if stage_claim > best and disagrees(stage_claim, best):
                flagged[peer] = Flag(peer, float(stage_claim), best, "stage")
    return Verified(scores, flagged)


def verified_leaderboard(
    exchange: Any,
    rs: Any,
    rescore: Callable[[int, Mapping[str, Mapping[str, Any]]], Rescored] | None,
    deadline_s: float,
    claims: Any = None,
) -> Verified:
    """Read the stage's claims and outputs, recompute, rank by the recomputed rewards and publish the
    leaderboard with the flagged peers (the clock's node does this once per stage); emits
    :class:`~rlswarm_core.swarm.events.ClaimFlagged` for each flagged peer.

    ``claims`` (a ``RewardsView``) are the stage's reward records when the caller just read them (the
    clock's node, as it closed the stage); they are read here otherwise."""
    from rlswarm_core.swarm.events import ClaimFlagged

    claims = claims if claims is not None else exchange.read_rewards(rs)
    gathered = exchange.gather_outputs(rs, deadline_s, claims=claims)
    rescored = rescore(rs.stage, gathered.outputs) if rescore is not None else {}
    if rescore is None:
        # nothing to recompute with: the claims stand, unchecked
        verified = Verified(dict(claims.scores()))
    else:
        verified = verify(claims.scores(), gathered.outputs, rescored)
    for flag in verified.flagged.values():
        exchange.events.emit(
            ClaimFlagged(
                round=rs.round,
                stage=rs.stage,
                peer_id=flag.peer_id,
                claimed=flag.claimed,
                recomputed=flag.recomputed,
                what=flag.what,
            )
        )
    entries = exchange.leaderboard(rs, scores=verified.scores)
    exchange.publish_leaderboard(rs, entries, flagged=sorted(verified.flagged))
    return verified
