"""Publishing a node's outputs and rewards, and gathering its peers', with deadlines and a local cache."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import (
    EventBus,
    LeaderboardChanged,
    MalformedRecords,
    OutputsDropped,
    OutputsGathered,
    OutputsPublished,
    PeerCountChanged,
    RewardsPublished,
)
from rlswarm_core.swarm.leaderboard import rank
from rlswarm_core.swarm.records import (
    DEFAULT_MAX_VALUE_BYTES,
    MAX_BUNDLE_PARTS,
    SIGNATURE_ROOM_BYTES,
    LeaderboardRecord,
    LeaderEntry,
    OutputBundleRecord,
    OutputItem,
    OutputRecord,
    RewardRecord,
    bundle_tag,
    check_entry,
    encode_record,
    owner_subkey,
    split_subkey,
)

# What a node reads of one peer's outputs for one stage; an honest node publishes one record per
# question of its stage (a handful), so the caps only bound what a hostile peer can make others hold.
MAX_OUTPUTS_PER_PEER = 256
MAX_OUTPUT_BYTES_PER_PEER = 4 * 1024 * 1024
# a bundle's fields besides its outputs (peer id, round, stage, part, ...), generously
_BUNDLE_HEADER_BYTES = 512


@dataclass(frozen=True)
class StageOutput:
    """One completion a node produced for a question in the current stage."""

    question: str
    completion: str
    reward: float = 0.0
    answer: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RewardsView:
    rewards: dict[str, RewardRecord]
    malformed: int = 0
    # each peer's reward entry's DHT expiration: a node stores its outputs and reward in one call, so
    # this also names the version of its outputs that goes with the claim
    versions: dict[str, float] = field(default_factory=dict)

    def scores(self) -> dict[str, float]:
        return {peer: rec.reward for peer, rec in self.rewards.items()}


@dataclass(frozen=True)
class Gathered:
    """Peers' outputs for a stage: ``outputs[peer][question md5]``; ``missing`` peers gave nothing in time."""

    outputs: dict[str, dict[str, OutputRecord]]
    missing: tuple[str, ...]
    malformed: int
    seconds: float


def best_per_question(outputs: Iterable[StageOutput]) -> dict[str, StageOutput]:
    """The highest-reward completion per question (ties: the smaller md5 of the completion)."""
    best: dict[str, StageOutput] = {}
    for out in outputs:
        qhash = keys.question_hash(out.question)
        current = best.get(qhash)
        if current is None or (
            (-out.reward, hashlib.md5(out.completion.encode()).hexdigest())
            < (-current.reward, hashlib.md5(current.completion.encode()).hexdigest())
        ):
            best[qhash] = out
    return best


class Exchange:
    """A node's view of the swarm's records for each stage.

    ``node`` is a :class:`~rlswarm_core.swarm.dht.SwarmNode` (anything with its ``store_many``,
    ``get_many``, ``peer_id``, ``public_key`` and ``options``).
    """

    def __init__(
        self,
        node: Any,
        *,
        publish_every_steps: int = 4,
        cache_stages: int = 4,
        events: EventBus | None = None,
        max_outputs_per_peer: int = MAX_OUTPUTS_PER_PEER,
        max_output_bytes_per_peer: int = MAX_OUTPUT_BYTES_PER_PEER,
    ) -> None:
        self.node = node
        self.max_outputs_per_peer = max_outputs_per_peer
        self.max_output_bytes_per_peer = max_output_bytes_per_peer
        self.dropped_total = 0
        self.publish_every_steps = max(1, publish_every_steps)
        self.events = events or node.events
        self.cache_stages = cache_stages
        # (round, stage) -> peer -> {qhash: OutputRecord}; only complete reads are cached
        self._cache: OrderedDict[RoundStage, dict[str, dict[str, OutputRecord]]] = OrderedDict()
        self._peer_counts: dict[RoundStage, int] = {}
        self._leaderboards: dict[RoundStage, tuple[tuple[str, float], ...]] = {}
        # this node's own last published outputs per stage (the publishing thread writes, gathers read)
        self._own_outputs: OrderedDict[RoundStage, dict[str, OutputRecord]] = OrderedDict()
        self._own_lock = threading.Lock()
        self.malformed_total = 0

    # -- publishing ----------------------------------------------------------------------------------
    def _output_bundles(self, rs: RoundStage, outputs: Iterable[StageOutput]) -> list[OutputBundleRecord]:
        """The best output per question, packed into as few bundles as the value-size limit allows
        (questions in md5 order, so a republished stage keeps each question in the same part)."""
        best = sorted(best_per_question(outputs).items())[: self.max_outputs_per_peer]
        items = [
            OutputItem(
                question_hash=qhash,
                question=out.question,
                answer=out.answer,
                completion=out.completion,
                reward=float(out.reward),
                extra=dict(out.extra),
            )
            for qhash, out in best
        ]
        max_value = getattr(getattr(self.node, "options", None), "max_value_bytes", DEFAULT_MAX_VALUE_BYTES)
        chunks = _pack(items, max_value - SIGNATURE_ROOM_BYTES - _BUNDLE_HEADER_BYTES)
        now = time.time()
        bundles: list[OutputBundleRecord] = []
        for part, chunk in enumerate(chunks):
            record = OutputBundleRecord(
                peer_id=self.node.peer_id,
                round=rs.round,
                stage=rs.stage,
                timestamp=now,
                part=part,
                parts=len(chunks),
                outputs=chunk,
            )
            bundles.append(record)
        return bundles

    def _bundle_items(self, bundles: list[OutputBundleRecord]) -> list[tuple[str, bytes, bytes]]:
        """The DHT items, one per bundle, under this node's owner subkeys (the DHT signs them on store)."""
        return [
            (b.dht_key(), owner_subkey(bundle_tag(b.part), self.node.public_key), encode_record(b))
            for b in bundles
        ]

    def _sent(self, rs: RoundStage, bundles: list[OutputBundleRecord]) -> None:
        """The outputs just stored are this node's outputs for the stage: a gather takes them from here,
        as they were published, instead of reading them back from the DHT."""
        own = {out.question_hash: out for bundle in bundles for out in bundle.expand()}
        with self._own_lock:
            if not own:  # as read back: a peer without outputs is missing from a gather
                self._own_outputs.pop(rs, None)
                return
            self._own_outputs[rs] = own
            self._own_outputs.move_to_end(rs)
            while len(self._own_outputs) > self.cache_stages:
                self._own_outputs.popitem(last=False)

    def _reward_item(self, rs: RoundStage, reward: float, steps: int) -> tuple[str, bytes, bytes]:
        record = RewardRecord(
            peer_id=self.node.peer_id,
            round=rs.round,
            stage=rs.stage,
            timestamp=time.time(),
            reward=float(reward),
            steps=steps,
        )
        return record.dht_key(), owner_subkey(self.node.peer_id, self.node.public_key), encode_record(record)

    def publish_outputs(self, rs: RoundStage, outputs: Iterable[StageOutput]) -> bool:
        outputs = list(outputs)
        """Publish the best completion per question (signed bundles of many questions each)."""
        bundles = self._output_bundles(rs, outputs)
        ok = self.node.store_many(self._bundle_items(bundles))
        if ok:
            self._sent(rs, bundles)
            self.events.emit(
                OutputsPublished(
                    round=rs.round,
                    stage=rs.stage,
                    questions=min(_questions(outputs), self.max_outputs_per_peer),
                )
            )
        return ok

    def publish_reward(self, rs: RoundStage, reward: float, steps: int) -> bool:
        """Publish this node's running reward for the stage."""
        ok = self.node.store_many([self._reward_item(rs, reward, steps)])
        if ok:
            self.events.emit(
                RewardsPublished(round=rs.round, stage=rs.stage, reward=float(reward), steps=steps)
            )
        return ok

    def publish(self, rs: RoundStage, reward: float, steps: int, outputs: Iterable[StageOutput]) -> bool:
        """Outputs and reward together, in a single DHT call."""
        outputs = list(outputs)
        bundles = self._output_bundles(rs, outputs)
        ok = self.node.store_many([*self._bundle_items(bundles), self._reward_item(rs, reward, steps)])
        if ok:
            self._sent(rs, bundles)
            self.events.emit(
                OutputsPublished(
                    round=rs.round,
                    stage=rs.stage,
                    questions=min(_questions(outputs), self.max_outputs_per_peer),
                )
            )
            self.events.emit(
                RewardsPublished(round=rs.round, stage=rs.stage, reward=float(reward), steps=steps)
            )
        return ok

    def on_step(self, rs: RoundStage, step: int, reward: float, outputs: Iterable[StageOutput]) -> bool:
        """Call after each optimizer step (counted from 1); publishes every ``publish_every_steps``."""
        if step <= 0 or step % self.publish_every_steps:
            return False
        return self.publish(rs, reward, step, outputs)

    # -- reading -------------------------------------------------------------------------------------
    def _entries(self, key: str, found: Mapping[Any, Any] | None, kind: type) -> tuple[list[Any], int]:
        records, bad = [], 0
        for subkey, raw in (found or {}).items():
            try:
                record = check_entry(subkey, raw)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, kind) and record.dht_key() == key:
                records.append(record)
            else:
                bad += 1
        if bad:
            self.malformed_total += bad
            self.events.emit(MalformedRecords(key=key, count=bad))
        return records, bad

    def _peer_outputs(
        self, rs: RoundStage, peer: str, key: str, found: Mapping[Any, Any] | None
    ) -> tuple[dict[str, OutputRecord], int]:
        """One peer's outputs for a stage, from per-question records and bundles alike, and the number of
        malformed entries.

        At most ``max_output_bytes_per_peer`` bytes of entries are read, in subkey order (so every node
        keeps the same ones), and at most ``max_outputs_per_peer`` outputs kept; what is left out is
        counted (an entry left unread counts as one output) and reported as ``OutputsDropped``.
        A question found twice (a bundle part still on a replica from an earlier publish) keeps its
        newest output; parts beyond the newest bundle's part count are left over from an earlier publish.
        """
        records: list[OutputRecord | OutputBundleRecord] = []
        taken = used = bad = dropped = dropped_bytes = 0
        for subkey, raw in sorted((found or {}).items(), key=lambda item: repr(item[0])):
            size = len(raw) if isinstance(raw, (bytes, str)) else 0
            if taken >= self.max_outputs_per_peer or used + size > self.max_output_bytes_per_peer:
                dropped += 1
                dropped_bytes += size
                continue
            taken += 1
            used += size
            try:
                record = check_entry(subkey, raw)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, (OutputRecord, OutputBundleRecord)) and record.dht_key() == key:
                records.append(record)
            else:
                bad += 1
        bundles = [r for r in records if isinstance(r, OutputBundleRecord)]
        parts = max(bundles, key=lambda b: (b.timestamp, b.part)).parts if bundles else 0
        candidates = [r for r in records if isinstance(r, OutputRecord)]
        candidates += [out for b in bundles if b.part < parts for out in b.expand()]
        newest: dict[str, OutputRecord] = {}
        for rec in candidates:
            current = newest.get(rec.question_hash)
            if current is None or rec.timestamp > current.timestamp:
                newest[rec.question_hash] = rec
        ordered = sorted(newest.items())
        for _, rec in ordered[self.max_outputs_per_peer :]:
            dropped += 1
            dropped_bytes += len(encode_record(rec))
        if dropped:
            self.dropped_total += dropped
            self.events.emit(
                OutputsDropped(
                    round=rs.round, stage=rs.stage, peer_id=peer, dropped=dropped, dropped_bytes=dropped_bytes
                )
            )
        if bad:
            self.malformed_total += bad
            self.events.emit(MalformedRecords(key=key, count=bad))
        return dict(ordered[: self.max_outputs_per_peer]), bad

    def read_rewards(self, rs: RoundStage, timeout: float | None = None) -> RewardsView:
        return self.read_rewards_of([rs], timeout)[rs]

    def read_rewards_of(
        self, stages: Iterable[RoundStage], timeout: float | None = None
    ) -> dict[RoundStage, RewardsView]:
        """The reward records of several stages, read in one DHT call."""
        key_of = {rs: keys.rewards_key(rs.round, rs.stage) for rs in stages}
        timeout = timeout if timeout is not None else self.node.options.rpc_timeout_s
        found_all = self.node.get_entries(list(key_of.values()), timeout=timeout)
        views = {}
        for rs, key in key_of.items():
            entries = found_all.get(key)
            found = None if entries is None else {sub: value for sub, (value, _) in entries.items()}
            records, bad = self._entries(key, found, RewardRecord)
            rewards = {r.peer_id: r for r in records}
            view = RewardsView(rewards=rewards, malformed=bad, versions=_versions(entries, rewards))
            previous = self._peer_counts.get(rs, 0)
            if len(view.rewards) != previous:
                self._peer_counts[rs] = len(view.rewards)
                self.events.emit(
                    PeerCountChanged(
                        round=rs.round, stage=rs.stage, peers=len(view.rewards), previous=previous
                    )
                )
            views[rs] = view
        return views

    def gather_outputs(
        self,
        rs: RoundStage,
        deadline_s: float,
        peers: Iterable[str] | None = None,
        refresh: bool = False,
        claims: RewardsView | None = None,
    ) -> Gathered:
        """Every peer's outputs for ``rs`` (normally the stage just finished), within ``deadline_s``.

        Peers default to those that published a reward for ``rs`` (``claims``, read when not given). A
        peer that is gone or slow is reported in ``missing``; it never holds the caller past the
        deadline. With the claims, each peer's outputs are read in the version published with its
        reward: the read ends at the first replica that holds it, not after asking every replica.
        """
        started = time.monotonic()
        if peers is None:
            claims = claims or self.read_rewards(
                rs, timeout=max(0.1, min(self.node.options.rpc_timeout_s, deadline_s / 2))
            )
            peers = list(claims.rewards)
        versions = claims.versions if claims is not None else {}
        wanted = sorted(set(peers))
        cached = dict(self._cache.get(rs, {})) if not refresh else {}
        with self._own_lock:
            own = self._own_outputs.get(rs)
        if own is not None:
            cached[self.node.peer_id] = own
        to_read = [peer for peer in wanted if peer not in cached]
        result: dict[str, dict[str, OutputRecord]] = {peer: cached[peer] for peer in wanted if peer in cached}
        bad_total = 0
        if to_read:
            left = max(0.05, deadline_s - (time.monotonic() - started))
            key_of = {keys.outputs_key(peer, rs.round, rs.stage): peer for peer in to_read}
            expected = {key: versions[peer] for key, peer in key_of.items() if peer in versions}
            found = self.node.get_many(list(key_of), timeout=left, versions=expected)
            for key, peer in key_of.items():
                outputs, bad = self._peer_outputs(rs, peer, key, found.get(key))
                bad_total += bad
                if outputs:
                    result[peer] = outputs
        stage_cache = self._cache.setdefault(rs, {})
        stage_cache.update(result)
        self._cache.move_to_end(rs)
        while len(self._cache) > self.cache_stages:
            self._cache.popitem(last=False)
        missing = tuple(peer for peer in wanted if peer not in result)
        gathered = Gathered(
            outputs=result, missing=missing, malformed=bad_total, seconds=time.monotonic() - started
        )
        self.events.emit(
            OutputsGathered(
                round=rs.round,
                stage=rs.stage,
                peers=len(result),
                missing=missing,
                malformed=bad_total,
                seconds=gathered.seconds,
            )
        )
        return gathered

    # -- leaderboard ---------------------------------------------------------------------------------
    def leaderboard(
        self, rs: RoundStage, rewards: RewardsView | None = None, scores: Mapping[str, float] | None = None
    ) -> list[LeaderEntry]:
        """The stage's leaderboard from ``scores`` (the recomputed rewards, see
        :mod:`rlswarm_core.swarm.verify`), else from the published claims; emits when it changed."""
        if scores is None:
            scores = (rewards or self.read_rewards(rs)).scores()
        entries = rank(scores)
        snapshot = tuple((e.peer_id, e.reward) for e in entries)
        if self._leaderboards.get(rs) != snapshot:
            self._leaderboards[rs] = snapshot
            self.events.emit(LeaderboardChanged(round=rs.round, stage=rs.stage, top=snapshot[:10]))
        return entries

    def publish_leaderboard(
        self, rs: RoundStage, entries: list[LeaderEntry] | None = None, flagged: Iterable[str] = ()
    ) -> bool:
        """The coordinator's signed copy of the stage leaderboard, with the peers whose claims it flagged."""
        entries = entries if entries is not None else self.leaderboard(rs)
        record = LeaderboardRecord(
            peer_id=self.node.peer_id,
            round=rs.round,
            stage=rs.stage,
            timestamp=time.time(),
            entries=entries,
            flagged=list(flagged),
        )
        subkey = owner_subkey(self.node.peer_id, self.node.public_key)
        return self.node.store_many([(record.dht_key(), subkey, encode_record(record))])

    def read_leaderboard(self, rs: RoundStage, coordinator_peer_id: str) -> list[LeaderEntry] | None:
        """The leaderboard the coordinator published for ``rs``, or None if it has not (yet)."""
        record = self.leaderboard_record(rs, coordinator_peer_id)
        return list(record.entries) if record is not None else None

    def leaderboard_record(self, rs: RoundStage, coordinator_peer_id: str) -> LeaderboardRecord | None:
        """The coordinator's whole leaderboard record for ``rs`` (entries and flagged peers), or None."""
        key = keys.leaderboard_key(rs.round, rs.stage)
        found = self.node.get_many([key], timeout=self.node.options.rpc_timeout_s).get(key)
        records, _ = self._entries(key, found, LeaderboardRecord)
        for record in records:
            if record.peer_id == coordinator_peer_id:
                return record
        return None


def _versions(
    entries: Mapping[Any, tuple[Any, float]] | None, rewards: Mapping[str, Any]
) -> dict[str, float]:
    """Each valid reward's DHT expiration by peer (a reward subkey's tag is its peer id)."""
    versions: dict[str, float] = {}
    for subkey, (_, expires) in (entries or {}).items():
        try:
            tag, _ = split_subkey(subkey)
        except ValueError:
            continue
        if tag in rewards:
            versions[tag] = float(expires)
    return versions


def _questions(outputs: Iterable[StageOutput]) -> int:
    return len({keys.question_hash(out.question) for out in outputs})


def _pack(items: list[OutputItem], budget: int) -> list[list[OutputItem]]:
    """Items in order, in as few chunks of at most ``budget`` JSON bytes as fit (an item over the budget
    alone gets a chunk of its own, which the size validator then refuses, as it would any record)."""
    chunks: list[list[OutputItem]] = []
    size = 0
    for item in items:
        item_size = len(item.model_dump_json().encode("utf-8")) + 1
        if not chunks or (size + item_size > budget and chunks[-1]):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return chunks[:MAX_BUNDLE_PARTS]
