"""Rollout sharing (SAPO): each training batch mixes I of the node's own rollouts with J of the swarm's.

Pure functions of their inputs: the node passes its own rollouts and the ones peers published, and gets
the batch back; the same inputs and seed always give the same batch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.tasks.base import TaskItem

MAX_ROLLOUT_TEXT = 65_536


@dataclass(frozen=True)
class Rollout:
    """A question some peer generated replies for."""

    peer: str
    item: TaskItem
    completions: tuple[str, ...] = field(default_factory=tuple)


def rollout_from_record(peer: object, record: object) -> Rollout | None:
    """A peer's published rollout ``{"question", "answer", "completions", "entry"?}``; None when malformed."""
    if not isinstance(peer, str) or not peer or not isinstance(record, Mapping):
        return None
    question, answer = record.get("question"), record.get("answer")
    completions = record.get("completions", [])
    entry = record.get("entry")
    if not isinstance(question, str) or not question.strip() or len(question) > MAX_ROLLOUT_TEXT:
        return None
    if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
        return None
    if not isinstance(completions, (list, tuple)) or not all(
        isinstance(c, str) and len(c) <= MAX_ROLLOUT_TEXT for c in completions
    ):
        return None
    item = TaskItem(
        question=question, answer=str(answer), entry=entry if isinstance(entry, Mapping) else None
    )
    return Rollout(peer=peer, item=item, completions=tuple(completions))


def rollout_record(rollout: Rollout) -> dict[str, Any]:
    record: dict[str, Any] = {
        "question": rollout.item.question,
        "answer": rollout.item.answer,
        "completions": list(rollout.completions),
    }
    if rollout.item.entry is not None:
        record["entry"] = dict(rollout.item.entry)
    return record


def mix_rollouts(
    local: Sequence[Rollout],
    swarm: Sequence[Rollout],
    local_count: int,
    swarm_count: int,
    seed: int = 0,
    own_peer: str | None = None,
) -> list[Rollout]:
    """``local_count`` of the node's rollouts, then ``swarm_count`` sampled from peers' rollouts.

    Peers' rollouts of the node itself and repeats of a question already in the batch are skipped. When
    the swarm has too few, the batch is topped up with more local rollouts, so it keeps its size when it
    can.
    """
    for name, value in (("local rollouts", local_count), ("swarm rollouts", swarm_count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"the number of {name} per batch must be 0 or more, got {value!r}")
    batch = list(local[:local_count])
    seen = {r.item.question for r in batch}
    candidates: list[Rollout] = []
    for rollout in swarm:
        if not isinstance(rollout, Rollout) or rollout.peer == own_peer or rollout.item.question in seen:
            continue
        seen.add(rollout.item.question)
        candidates.append(rollout)
    taken = random.Random(seed).sample(candidates, min(swarm_count, len(candidates)))
    batch.extend(taken)
    shortfall = swarm_count - len(taken)
    if shortfall > 0:
        batch.extend(local[local_count : local_count + shortfall])
    return batch


def group_swarm_rollouts(records: Mapping[str, Sequence[object]]) -> list[Rollout]:
    """Peers' published rollouts, ``{peer: [record, ...]}``, with malformed ones dropped (sorted by peer
    so the mix does not depend on the order the DHT answered in)."""
    rollouts = []
    for peer in sorted(p for p in records if isinstance(p, str)):
        values = records[peer]
        if not isinstance(values, (list, tuple)):
            continue
        for record in values:
            rollout = rollout_from_record(peer, record)
            if rollout is not None:
                rollouts.append(rollout)
    return rollouts
