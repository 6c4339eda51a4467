"""Leaderboards and round winners: pure functions anyone can compute from the swarm's rewards."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from rlswarm_core.swarm.records import LeaderEntry

WINNERS_PER_ROUND = 10


def _order(peer_id: str, score: float) -> tuple[float, str, str]:
    # ties are broken by md5 of the peer id (as the reference picks top-k answers), which does not
    # favour any naming pattern, then by the id itself so the order is total
    return (-score, hashlib.md5(peer_id.encode("utf-8")).hexdigest(), peer_id)


def rank(scores: Mapping[str, float]) -> list[LeaderEntry]:
    """Peers sorted by score, highest first, ties broken deterministically."""
    ordered = sorted(scores.items(), key=lambda item: _order(item[0], item[1]))
    return [LeaderEntry(peer_id=peer, reward=float(score)) for peer, score in ordered]


def round_totals(stage_scores: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Sum each peer's scores over a round's stages (a peer missing from a stage scores 0 there)."""
    totals: dict[str, float] = {}
    for scores in stage_scores:
        for peer, score in scores.items():
            totals[peer] = totals.get(peer, 0.0) + float(score)
    return totals


def round_winners(totals: Mapping[str, float], k: int = WINNERS_PER_ROUND) -> list[str]:
    """The round's top ``k`` peers by total (re-scored) reward."""
    return [entry.peer_id for entry in rank(totals)[:k]]


def top1_vote(totals: Mapping[str, float]) -> str | None:
    """The single peer this node votes for (its best-scored peer), or None with nobody to vote for."""
    winners = round_winners(totals, k=1)
    return winners[0] if winners else None
