"""What a task family is: where questions come from, how many stages a round has, how answers score."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlswarm_core.training.errors import TaskDataError
from rlswarm_core.training.prompts import Message
from rlswarm_core.training.rewards.text import RewardBreakdown


@dataclass(frozen=True)
class TaskItem:
    """One question with its reference answer; ``entry`` is the generator's own record when its scorer
    needs more than the answer (reasoning-gym)."""

    question: str
    answer: str
    entry: Mapping[str, Any] | None = field(default=None, compare=False)
    source: str = ""


class TaskFamily(ABC):
    """A pluggable task family. Stage 0 is always "answer the question"; families with more stages
    (GSM8K's critique and decide) build those from the swarm's merged outputs."""

    name: ClassVar[str]
    stages: ClassVar[tuple[str, ...]]

    @abstractmethod
    def load_items(self, count: int, seed: int = 0) -> list[TaskItem]:
        """``count`` questions, the same ones for the same seed."""

    @abstractmethod
    def messages(self, item: TaskItem) -> list[Message]:
        """The chat prompt for stage 0."""

    @abstractmethod
    def score(self, completion: object, item: TaskItem) -> RewardBreakdown:
        """Stage-0 reward of one reply."""


def check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TaskDataError(f"need a positive number of questions, got {count!r}")
