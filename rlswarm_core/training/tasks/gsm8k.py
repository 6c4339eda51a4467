"""GSM8K in three stages (answer, critique, decide), as the original RL Swarm.

Questions come from one of three sources:

- a Hugging Face dataset name (default ``openai/gsm8k``, config ``main``), loaded through ``datasets``
  and read from the local cache only when ``HF_HUB_OFFLINE=1``;
- a local JSONL file of ``{"question": ..., "answer": ...}`` rows (GSM8K's ``#### 42`` answers work);
- ``reasoning-gym:gsm_symbolic``: GSM-style problems generated offline by reasoning-gym.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, ClassVar

from rlswarm_core.training.prompts import Message, answer_messages
from rlswarm_core.training.rewards.answer import score_answer
from rlswarm_core.training.rewards.text import RewardBreakdown, as_text
from rlswarm_core.training.rewards.weights import AnswerWeights
from rlswarm_core.training.tasks.base import TaskDataError, TaskFamily, TaskItem, check_count

DEFAULT_SOURCE = "openai/gsm8k"
GENERATED_SOURCE = "reasoning-gym:gsm_symbolic"
_OFFLINE_HINT = f"use a local JSONL file or {GENERATED_SOURCE!r}, which work offline"


def gsm8k_final_answer(text: object) -> str:
    """The final answer of a GSM8K solution (after ``####``), or the whole value when there is none."""
    value = as_text(text)
    if "####" in value:
        value = value.split("####")[-1].strip()
    return value.replace(",", "")


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class Gsm8kTask(TaskFamily):
    name: ClassVar[str] = "gsm8k"
    stages: ClassVar[tuple[str, ...]] = ("answer", "critique", "decide")

    def __init__(
        self,
        source: str = DEFAULT_SOURCE,
        split: str = "train",
        subset: str | None = "main",
        weights: AnswerWeights | None = None,
    ) -> None:
        self.source = source
        self.split = split
        self.subset = subset
        self.weights = weights or AnswerWeights()

    def load_items(self, count: int, seed: int = 0) -> list[TaskItem]:
        check_count(count)
        if self.source == GENERATED_SOURCE:
            return self._generated(count, seed)
        path = Path(self.source).expanduser()
        if self.source.endswith((".jsonl", ".json")) or path.exists():
            rows = self._local_rows(path)
        else:
            rows = self._hub_rows()
        if not rows:
            raise TaskDataError(f"no questions in {self.source}", "the data needs question and answer fields")
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        # Fewer rows than asked for: go round again, in the same shuffled order.
        indices = (order * (count // len(order) + 1))[:count]
        return [self._item(rows[i], i) for i in indices]

    def _item(self, row: Any, index: int) -> TaskItem:
        if not isinstance(row, dict):
            raise TaskDataError(f"{self.source}: row {index + 1} is not an object")
        question, answer = row.get("question"), gsm8k_final_answer(row.get("answer"))
        if not isinstance(question, str) or not question.strip() or not answer:
            raise TaskDataError(
                f"{self.source}: row {index + 1} needs a non-empty 'question' and 'answer'",
                'each line must look like {"question": "...", "answer": "... #### 42"}',
            )
        return TaskItem(question=question.strip(), answer=answer, source=self.source)

    def _local_rows(self, path: Path) -> list[Any]:
        if not path.is_file():
            raise TaskDataError(f"GSM8K data file {path} does not exist", "check the path")
        import datasets

        from rlswarm_core.system.paths import app_paths

        # Progress bars would print from a library; the Arrow cache stays under rlswarm's own data folder.
        datasets.disable_progress_bars()
        try:
            data = datasets.load_dataset(
                "json", data_files=str(path), split="train", cache_dir=str(app_paths().data / "datasets")
            )
        except Exception as exc:  # datasets raises many types for a malformed file
            raise TaskDataError(
                f"cannot read {path} as JSON lines: {type(exc).__name__}",
                "each line must be one JSON object with question and answer",
            ) from None
        return list(data)

    def _hub_rows(self) -> list[Any]:
        if _hub_offline():
            from huggingface_hub import scan_cache_dir

            try:
                cached = {repo.repo_id for repo in scan_cache_dir().repos if repo.repo_type == "dataset"}
            except Exception:
                cached = set()
            if self.source not in cached:
                raise TaskDataError(
                    f"dataset {self.source} is not in the local cache and HF_HUB_OFFLINE=1", _OFFLINE_HINT
                )
        from datasets import load_dataset

        try:
            data = load_dataset(self.source, self.subset, split=self.split)
        except Exception as exc:
            raise TaskDataError(
                f"cannot load dataset {self.source}: {type(exc).__name__}", _OFFLINE_HINT
            ) from None
        return list(data)

    def _generated(self, count: int, seed: int) -> list[TaskItem]:
        import reasoning_gym

        data = reasoning_gym.create_dataset("gsm_symbolic", seed=seed, size=count)
        return [
            TaskItem(
                question=e["question"], answer=gsm8k_final_answer(e["answer"]), entry=e, source=self.source
            )
            for e in data
        ]

    def messages(self, item: TaskItem) -> list[Message]:
        return answer_messages(item.question)

    def score(self, completion: object, item: TaskItem) -> RewardBreakdown:
        return score_answer(completion, item.answer, self.weights)
