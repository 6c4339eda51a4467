"""The code family's stage pipeline: the reasoning-gym shape (one solve stage, I local problems plus J
the swarm worked on), with replies scored in parallel sandboxes, pass@1 counted per stage, and round
winners chosen by re-running every peer's published code instead of trusting its reported reward."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.training import merging
from rlswarm_core.training.stages import ENTRY_EXTRA, PeerOutputs, SingleStagePipeline, StagePlan
from rlswarm_core.training.stages import _items_rows as items_rows
from rlswarm_core.training.tasks.base import TaskItem
from rlswarm_core.training.tasks.code.family import CodeTask
from rlswarm_core.training.tasks.sapo import Rollout, mix_rollouts

# sandboxes run at once while scoring (each is one process; the tests inside run one by one)
DEFAULT_PARALLEL = 4
# the most published replies re-run per peer when choosing winners (a peer publishes one per problem)
MAX_RESCORED_PER_PEER = 64
SWARM = "swarm"  # the peer name rollouts from the swarm pool carry in a batch


@dataclass
class PassTally:
    """Replies whose code passed every test, out of replies scored: pass@1 at the sampling temperature."""

    passed: int = 0
    scored: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, passed: Sequence[bool]) -> None:
        with self.lock:
            self.passed += sum(passed)
            self.scored += len(passed)

    @property
    def rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None


@dataclass
class CodeStagePlan(StagePlan):
    tally: PassTally = field(default_factory=PassTally)

    @property
    def pass_at_1(self) -> float | None:
        return self.tally.rate


def _entry_of(record: Any) -> object:
    raw = getattr(record, "extra", {}).get(ENTRY_EXTRA)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class CodePipeline(SingleStagePipeline):
    def __init__(
        self,
        task: CodeTask,
        own_peer: str,
        local_count: int,
        swarm_count: int,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        super().__init__(task, own_peer, local_count, swarm_count)
        self.code_task = task
        self.parallel = max(1, parallel)

    def _evaluate_all(self, pairs: Sequence[tuple[str, TaskItem]]) -> list[Any]:
        if len(pairs) <= 1 or self.parallel == 1:
            return [self.code_task.evaluate(text, item) for text, item in pairs]
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(pairs))) as pool:
            return list(pool.map(lambda pair: self.code_task.evaluate(*pair), pairs))

    def local_seed(self, round_: int) -> int:
        """Each node draws its own problems (seeded by peer and round), so peers' rollouts bring
        problems it did not draw itself."""
        digest = hashlib.md5(f"{self.own_peer}:{round_}".encode()).hexdigest()
        return int(digest[:8], 16)

    def plan(self, round_: int, stage: int, previous: PeerOutputs | None) -> CodeStagePlan:
        draws = self.code_task.load_items(self.local_count + self.swarm_count, seed=self.local_seed(round_))
        local = [Rollout(self.own_peer, item) for item in draws]
        swarm = [Rollout(SWARM, item) for item in self.swarm_pool]
        batch = mix_rollouts(
            local, swarm, self.local_count, self.swarm_count, seed=round_, own_peer=self.own_peer
        )
        tally = PassTally()

        def score(rows: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> list[float]:
            results = self._evaluate_all([(t, r["item"]) for r, t in zip(rows, texts, strict=True)])
            tally.add([r.passed for r in results])
            return [r.total for r in results]

        rows = items_rows(self.task, [r.item for r in batch])
        shared = sum(r.peer == SWARM for r in batch)
        return CodeStagePlan(0, rows, score, shared, tally)

    def remember_swarm(self, outputs: PeerOutputs) -> None:
        """Peers' problems become candidates for the next batch when this node has them too."""
        pool: list[TaskItem] = []
        for peer in sorted(outputs):
            if peer == self.own_peer:
                continue
            for record in outputs[peer].values():
                item = self.code_task.resolve(_entry_of(record))
                if item is not None:
                    pool.append(item)
        self.swarm_pool = pool

    def rescore(self, final_stage: PeerOutputs) -> dict[str, float]:
        """Every peer's total over its published replies, each re-run in this node's sandbox against
        this node's copy of the problem (a problem it lacks scores 0)."""
        jobs: list[tuple[str, str, TaskItem]] = []
        totals: dict[str, float] = {}
        for peer in sorted(final_stage):
            totals[peer] = 0.0
            for record in list(final_stage[peer].values())[:MAX_RESCORED_PER_PEER]:
                item = self.code_task.resolve(_entry_of(record))
                completion = getattr(record, "completion", None)
                if item is not None and isinstance(completion, str):
                    jobs.append((peer, completion, item))
        results = self._evaluate_all([(c, i) for _, c, i in jobs])
        for (peer, _, _), result in zip(jobs, results, strict=True):
            totals[peer] += result.total
        return totals

    def winners(self, final_stage: PeerOutputs) -> list[str]:
        totals = self.rescore(final_stage)
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        return [peer for peer, _ in ranked][: merging.DEFAULT_WINNERS]
