"""One stage over procedurally generated reasoning-gym tasks, scored by reasoning-gym's own scorers.

Questions are generated locally (no download); each keeps its generator record so that the dataset's
scorer can judge answers that are not plain strings (sets, expressions, moves).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rlswarm_core.training.prompts import Message, chat
from rlswarm_core.training.rewards.text import RewardBreakdown, completion_text, extract_tag
from rlswarm_core.training.tasks.base import TaskDataError, TaskFamily, TaskItem, check_count

DEFAULT_DATASETS: Mapping[str, float] = {
    "basic_arithmetic": 1.0,
    "chain_sum": 1.0,
    "gsm_symbolic": 1.0,
    "leg_counting": 1.0,
}

SOLVE_SYSTEM = """\
Solve the task you are given. Think it through inside <think>, then give only the final answer inside
<answer>, in exactly the form the task asks for.
<think>
[your reasoning]
</think>
<answer>
[the final answer only]
</answer>
"""


def known_datasets() -> list[str]:
    import reasoning_gym

    return sorted(reasoning_gym.factory.DATASETS)


class ReasoningGymTask(TaskFamily):
    name: ClassVar[str] = "reasoning-gym"
    stages: ClassVar[tuple[str, ...]] = ("solve",)

    def __init__(
        self,
        datasets: Mapping[str, float] | Sequence[str] | None = None,
        weight: float = 1.0,
        configs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        mix = dict(DEFAULT_DATASETS) if datasets is None else datasets
        if not isinstance(mix, Mapping):
            mix = dict.fromkeys(mix, 1.0)
        if not mix or any(not isinstance(w, (int, float)) or w <= 0 for w in mix.values()):
            raise TaskDataError(
                "reasoning-gym datasets need positive weights", "for example {'chain_sum': 1.0}"
            )
        self.datasets = dict(mix)
        self.weight = float(weight)
        # per-dataset generator options (difficulty: digits, terms, ...), reasoning-gym's own names
        self.configs = {name: dict(options) for name, options in (configs or {}).items()}

    def load_items(self, count: int, seed: int = 0) -> list[TaskItem]:
        check_count(count)
        import reasoning_gym

        unknown = sorted(set(self.datasets) - set(reasoning_gym.factory.DATASETS))
        if unknown:
            raise TaskDataError(
                f"unknown reasoning-gym dataset {unknown[0]!r}",
                "see reasoning_gym.factory.DATASETS for the names",
            )
        rng = random.Random(seed)
        names = sorted(self.datasets)
        picks = rng.choices(names, weights=[self.datasets[n] for n in names], k=count)
        generated = {
            name: self._create(name, seed, max(picks.count(name), 1)) for name in names if name in picks
        }
        used = dict.fromkeys(generated, 0)
        items = []
        for name in picks:
            entry = generated[name][used[name]]
            used[name] += 1
            items.append(
                TaskItem(question=entry["question"], answer=str(entry["answer"]), entry=entry, source=name)
            )
        return items

    def _create(self, name: str, seed: int, size: int) -> Any:
        import reasoning_gym

        try:
            return reasoning_gym.create_dataset(name, seed=seed, size=size, **self.configs.get(name, {}))
        except (TypeError, AssertionError, ValueError) as exc:
            # reasoning-gym rejects unknown options with TypeError and bad ranges with assertions
            raise TaskDataError(
                f"reasoning-gym dataset {name!r} rejects its options: {exc}",
                "use the option names and ranges of that dataset's config class",
            ) from None

    def messages(self, item: TaskItem) -> list[Message]:
        return chat(SOLVE_SYSTEM, item.question)

    def score(self, completion: object, item: TaskItem) -> RewardBreakdown:
        return RewardBreakdown({"score": self.weight * score_with_reasoning_gym(completion, item)})


def score_with_reasoning_gym(completion: object, item: TaskItem) -> float:
    """The dataset's own score (0..1) for the reply's ``<answer>``; 0 for no answer or a scorer failure."""
    answer = extract_tag(completion_text(completion), "answer")
    entry: Any = item.entry
    if answer is None or not isinstance(entry, Mapping):
        return 0.0
    metadata = entry.get("metadata")
    source = metadata.get("source_dataset") if isinstance(metadata, Mapping) else None
    if not isinstance(source, str):
        return 0.0
    import reasoning_gym

    try:
        scorer = reasoning_gym.get_score_answer_fn(source)
        score = float(scorer(answer, entry))
    except Exception:  # a scorer may choke on garbage; garbage scores zero
        return 0.0
    return min(max(score, 0.0), 1.0)
