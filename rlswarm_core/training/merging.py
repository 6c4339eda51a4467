"""Stage merging: turning the records peers published for one stage into the next stage's prompts.

Records are the reference's DHT values, grouped by the md5 of their question:

- answer stage: ``{"question", "answer", "agent_answers": {peer: reply}}``
- critique stage: ``{"question", "answer", "stage2_prompt", "agent_opinion": {peer: critique}}``
- decide stage: ``{"question", "answer", "stage3_prompt", "final_agent_decision": {peer: decision}}``

Peers are untrusted: a record that is not shaped like this, carries an oversized text, or speaks for a
different peer is treated as missing, and every missing peer gets a placeholder.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rlswarm_core.training.prompts import (
    critic_label,
    critique_prompt,
    decide_prompt,
    neutralize,
    ordered_labels,
    parse_critiques,
    parse_students,
    student_label,
)
from rlswarm_core.training.rewards.answer import score_answer
from rlswarm_core.training.rewards.critique import CritiqueContext, score_critique
from rlswarm_core.training.rewards.decide import DecideContext, score_decision
from rlswarm_core.training.rewards.text import as_text
from rlswarm_core.training.rewards.weights import AnswerWeights, CritiqueWeights, DecideWeights

NO_ANSWER = "No answer received..."
NO_FEEDBACK = "No feedback received..."
ANSWERS_FIELD = "agent_answers"
OPINIONS_FIELD = "agent_opinion"
DECISIONS_FIELD = "final_agent_decision"
CRITIQUE_PROMPT_FIELD = "stage2_prompt"
DECIDE_PROMPT_FIELD = "stage3_prompt"
DEFAULT_TOP_K = 5
DEFAULT_WINNERS = 10
# Larger than any completion a node generates (and than the DHT record limit); bigger is malformed.
MAX_TEXT_CHARS = 65_536
MAX_PROMPT_CHARS = 8 * MAX_TEXT_CHARS


def question_hash(question: str) -> str:
    return hashlib.md5(question.encode("utf-8")).hexdigest()


def _text_ok(value: object, limit: int = MAX_TEXT_CHARS) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _unwrap(value: object) -> object:
    """Accept both a bare record and the DHT's ``(timestamp, record)`` pair."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], Mapping):
        return value[1]
    return value


def group_by_question(outputs_by_peer: Mapping[str, object]) -> dict[str, dict[str, Mapping]]:
    """``{peer: {subkey: record}}`` -> ``{md5(question): {peer: record}}``.

    The hash is recomputed from each record's own question, so a record filed under the wrong subkey
    still lands with its question; values that are not records are dropped.
    """
    groups: dict[str, dict[str, Mapping]] = defaultdict(dict)
    for peer, by_key in outputs_by_peer.items():
        if not isinstance(peer, str) or not isinstance(by_key, Mapping):
            continue
        for value in by_key.values():
            record = _unwrap(value)
            if isinstance(record, Mapping) and _text_ok(record.get("question")) and record["question"]:
                groups[question_hash(record["question"])][peer] = record
    return dict(groups)


@dataclass(frozen=True)
class Merged:
    """One question's records merged: who said what, with placeholders for the silent."""

    question: str
    answer: str
    replies: dict[str, str]
    prompt: str = ""
    missing: tuple[str, ...] = ()


def _own_reply(record: Mapping, peer: str, reply_field: str) -> str | None:
    replies = record.get(reply_field)
    if not isinstance(replies, Mapping):
        return None
    reply = replies.get(peer)
    return reply if _text_ok(reply) else None


def _consensus(records: Mapping[str, Mapping], own_peer: str | None) -> tuple[str, str] | None:
    """The (question, answer) pair to trust: the node's own if it has one, else the most common."""
    pairs: dict[str, tuple[str, str]] = {}
    for peer, record in records.items():
        question, answer = record.get("question"), as_text(record.get("answer"))
        if _text_ok(question) and question:
            pairs[peer] = (question, answer)  # type: ignore[assignment]
    if not pairs:
        return None
    if own_peer in pairs:
        return pairs[own_peer]  # type: ignore[index]
    counts = Counter(pairs.values())
    best = max(counts.values())
    return min(pair for pair, n in counts.items() if n == best)


def _merge(
    records: Mapping[str, object],
    reply_field: str,
    placeholder: str,
    expected_peers: Iterable[str],
    own_peer: str | None,
    prompt_field: str | None = None,
) -> Merged | None:
    valid = {p: r for p, r in records.items() if isinstance(p, str) and isinstance(r, Mapping)}
    consensus = _consensus(valid, own_peer)
    if consensus is None:
        return None
    question, answer = consensus
    replies: dict[str, str] = {}
    prompts: dict[str, str] = {}
    for peer in sorted(valid):
        record = valid[peer]
        if record.get("question") != question or as_text(record.get("answer")) != answer:
            continue
        reply = _own_reply(record, peer, reply_field)
        if reply is None:
            continue
        replies[peer] = reply
        if prompt_field and _text_ok(record.get(prompt_field), MAX_PROMPT_CHARS) and record[prompt_field]:
            prompts[peer] = record[prompt_field]
    everyone = set(expected_peers) | {p for p in records if isinstance(p, str)}
    missing = tuple(sorted(everyone - set(replies)))
    for peer in missing:
        replies[peer] = placeholder
    prompt = ""
    if prompts:
        prompt = prompts[own_peer] if own_peer in prompts else prompts[min(prompts)]
    return Merged(
        question=question,
        answer=answer,
        replies=dict(sorted(replies.items())),
        prompt=prompt,
        missing=missing,
    )


def merge_answers(
    records: Mapping[str, object], expected_peers: Iterable[str] = (), own_peer: str | None = None
) -> Merged | None:
    """Merge one question's answer-stage records; None when no record is usable at all."""
    return _merge(records, ANSWERS_FIELD, NO_ANSWER, expected_peers, own_peer)


def merge_opinions(
    records: Mapping[str, object], expected_peers: Iterable[str] = (), own_peer: str | None = None
) -> Merged | None:
    """Merge one question's critique-stage records (the critique prompt is the node's own if it has one)."""
    return _merge(records, OPINIONS_FIELD, NO_FEEDBACK, expected_peers, own_peer, CRITIQUE_PROMPT_FIELD)


def _tiebreak(prefix: str, peer: str) -> int:
    return int(hashlib.md5(f"{prefix}{peer}".encode()).hexdigest(), 16)


def top_k(
    scores: Mapping[str, float], k: int = DEFAULT_TOP_K, tiebreak_prefix: str = "agent_answers_"
) -> list[str]:
    """The ``k`` best peers by score, best first; ties go to the larger md5 of ``prefix + peer`` (the
    reference hashes its column name, ``agent_answers_<peer>``), so every node picks the same peers."""
    if k <= 0:
        return []

    def key(peer: str) -> tuple[float, int, str]:
        score = scores[peer]
        usable = isinstance(score, (int, float)) and not isinstance(score, bool) and not math.isnan(score)
        return (float(score) if usable else -math.inf, _tiebreak(tiebreak_prefix, peer), peer)

    return sorted(scores, key=key, reverse=True)[:k]


@dataclass(frozen=True)
class StageItem:
    """One prompt for the next stage, with what its rewards need to know."""

    question: str
    answer: str
    prompt: str
    students: dict[str, str] = field(default_factory=dict)
    critiques: dict[str, str] = field(default_factory=dict)
    peers: dict[str, str] = field(default_factory=dict)

    @property
    def critique_context(self) -> CritiqueContext:
        return CritiqueContext(self.question, self.answer, self.students)

    @property
    def decide_context(self) -> DecideContext:
        return DecideContext(self.question, self.answer, self.students, tuple(self.critiques.values()))


def critique_item(merged: Merged, k: int = DEFAULT_TOP_K, weights: AnswerWeights | None = None) -> StageItem:
    """The critique prompt for a merged answer stage: the top ``k`` answers by answer reward."""
    scores = {
        peer: score_answer(reply, merged.answer, weights).total for peer, reply in merged.replies.items()
    }
    chosen = top_k(scores, k, "agent_answers_")
    labels = ordered_labels(chosen, student_label)
    students = {labels[p]: neutralize(merged.replies[p]) for p in sorted(chosen)}
    return StageItem(
        question=merged.question,
        answer=merged.answer,
        prompt=critique_prompt(merged.question, students),
        students=students,
        peers={label: peer for peer, label in labels.items()},
    )


def decide_item(merged: Merged, k: int = DEFAULT_TOP_K, weights: CritiqueWeights | None = None) -> StageItem:
    """The decide prompt for a merged critique stage: the top ``k`` critiques by critique reward."""
    students = parse_students(merged.prompt)
    context = CritiqueContext(merged.question, merged.answer, students)
    scores = {peer: score_critique(reply, context, weights).total for peer, reply in merged.replies.items()}
    chosen = top_k(scores, k, "agent_opinion_")
    labels = ordered_labels(chosen, critic_label)
    critiques = {labels[p]: neutralize(merged.replies[p]) for p in sorted(chosen)}
    return StageItem(
        question=merged.question,
        answer=merged.answer,
        prompt=decide_prompt(merged.prompt, critiques),
        students=students,
        critiques=critiques,
        peers={label: peer for peer, label in labels.items()},
    )


def best_completion(completions: Sequence[str], rewards: Sequence[float]) -> tuple[str, float] | None:
    """The reply a node publishes for a question: its highest-reward completion (the first on ties)."""
    pairs = [(c, float(r)) for c, r in zip(completions, rewards, strict=True) if isinstance(c, str)]
    if not pairs:
        return None
    best = max(range(len(pairs)), key=lambda i: (pairs[i][1], -i))
    return pairs[best]


def answer_record(question: str, answer: str, peer: str, reply: str) -> dict[str, object]:
    return {"question": question, "answer": answer, ANSWERS_FIELD: {peer: reply}}


def opinion_record(item: StageItem, peer: str, reply: str) -> dict[str, object]:
    return {
        "question": item.question,
        "answer": item.answer,
        CRITIQUE_PROMPT_FIELD: item.prompt,
        OPINIONS_FIELD: {peer: reply},
    }


def decision_record(item: StageItem, peer: str, reply: str) -> dict[str, object]:
    return {
        "question": item.question,
        "answer": item.answer,
        DECIDE_PROMPT_FIELD: item.prompt,
        DECISIONS_FIELD: {peer: reply},
    }


def decision_scores(
    groups: Mapping[str, Mapping[str, object]],
    weights: DecideWeights | None = None,
    own_peer: str | None = None,
) -> dict[str, float]:
    """Every peer's decide-stage total over all questions, re-scored from the records it published.

    Question and answer come from the swarm's consensus for each question, not from the record being
    scored, so a peer cannot raise its score by publishing a different reference answer.
    """
    totals: dict[str, float] = defaultdict(float)
    for records in groups.values():
        if not isinstance(records, Mapping):
            continue
        valid = {p: r for p, r in records.items() if isinstance(p, str) and isinstance(r, Mapping)}
        consensus = _consensus(valid, own_peer)
        if consensus is None:
            continue
        question, answer = consensus
        for peer, record in valid.items():
            decision = _own_reply(record, peer, DECISIONS_FIELD)
            prompt = record.get(DECIDE_PROMPT_FIELD)
            if decision is None or not _text_ok(prompt, MAX_PROMPT_CHARS):
                continue
            context = DecideContext(
                question=question,
                answer=answer,
                students=parse_students(prompt),
                critiques=tuple(parse_critiques(prompt).values()),
            )
            totals[peer] += score_decision(decision, context, weights).total
    return dict(totals)


def round_winners(
    groups: Mapping[str, Mapping[str, object]],
    limit: int = DEFAULT_WINNERS,
    weights: DecideWeights | None = None,
    own_peer: str | None = None,
) -> list[str]:
    """The round's best peers by re-scored decisions, best first (ties by peer id), at most ``limit``."""
    totals = decision_scores(groups, weights, own_peer)
    return [peer for peer, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))][: max(limit, 0)]


def winner_vote(winners: Sequence[str]) -> list[str]:
    """The winners a node submits on chain: its single best."""
    return list(winners[:1])
