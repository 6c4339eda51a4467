"""The ``code`` task family: one solve stage over programming problems, rewarded by running the
problem's tests on the reply's code in the sandbox.

Problems travel between peers by reference (``{"source", "task_id"}``), never with their tests: a node
trains on a peer's problem only when its own copy of the same source has it, so a peer cannot hand it
tests that reward whatever it likes.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from rlswarm_core.training.prompts import Message, chat
from rlswarm_core.training.rewards.code import CodeScore, CodeWeights, score_code
from rlswarm_core.training.rewards.text import RewardBreakdown
from rlswarm_core.training.tasks.base import TaskFamily, TaskItem, check_count
from rlswarm_core.training.tasks.code.problems import CodeProblem
from rlswarm_core.training.tasks.code.sources import DEFAULT_SOURCE, load_problems

CODE_SYSTEM = """\
You are an expert Python programmer. Solve the programming problem you are given.
Reply with exactly one fenced Python code block holding the complete solution (imports, helper
functions and the requested function or program), and nothing after it:
```python
[your code]
```
"""


class CodeTask(TaskFamily):
    name: ClassVar[str] = "code"
    stages: ClassVar[tuple[str, ...]] = ("solve",)

    def __init__(
        self,
        source: str | None = None,
        sandbox: Any = None,
        sandbox_mode: str = "auto",
        limits: Any = None,
        weights: CodeWeights | Mapping[str, Any] | None = None,
    ) -> None:
        self.source = source or DEFAULT_SOURCE
        self.weights = weights if isinstance(weights, CodeWeights) else CodeWeights.from_mapping(weights)
        self._sandbox = sandbox
        self._sandbox_mode = sandbox_mode
        self._limits = limits
        self._lock = threading.Lock()
        self._index: dict[str, CodeProblem] | None = None

    @property
    def sandbox(self) -> Any:
        """The sandbox, opened on first use (it refuses to open without isolation unless opted in)."""
        with self._lock:
            if self._sandbox is None:
                from rlswarm_core.sandbox import open_sandbox

                self._sandbox = open_sandbox(self._sandbox_mode, self._limits)
            return self._sandbox

    def problems(self) -> tuple[CodeProblem, ...]:
        return load_problems(self.source)

    def _by_id(self) -> dict[str, CodeProblem]:
        if self._index is None:
            self._index = {p.task_id: p for p in self.problems()}
        return self._index

    def _item(self, problem: CodeProblem) -> TaskItem:
        return TaskItem(
            question=problem.prompt,
            answer=problem.task_id,
            entry={"source": self.source, "task_id": problem.task_id},
            source=self.source,
        )

    def load_items(self, count: int, seed: int = 0) -> list[TaskItem]:
        check_count(count)
        problems = self.problems()
        order = list(range(len(problems)))
        random.Random(seed).shuffle(order)
        indices = (order * (count // len(order) + 1))[:count]
        return [self._item(problems[i]) for i in indices]

    def resolve(self, entry: object) -> TaskItem | None:
        """The local item for a peer's problem reference; None when this node's source lacks it."""
        if not isinstance(entry, Mapping) or entry.get("source") != self.source:
            return None
        problem = self._by_id().get(str(entry.get("task_id")))
        return self._item(problem) if problem is not None else None

    def problem(self, item: TaskItem) -> CodeProblem | None:
        entry = item.entry
        if isinstance(entry, Mapping) and entry.get("source") == self.source:
            return self._by_id().get(str(entry.get("task_id")))
        return None

    def messages(self, item: TaskItem) -> list[Message]:
        return chat(CODE_SYSTEM, item.question)

    def evaluate(self, completion: object, item: TaskItem) -> CodeScore:
        """The reward of one reply and the sandbox's test report behind it."""
        problem = self.problem(item)
        if problem is None:
            return CodeScore(RewardBreakdown({"tests": 0.0, "format": 0.0, "length": 0.0}), None)
        return score_code(completion, problem.job, self.sandbox, self.weights)

    def score(self, completion: object, item: TaskItem) -> RewardBreakdown:
        return self.evaluate(completion, item).breakdown
