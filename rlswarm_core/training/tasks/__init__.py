"""Task families: ``gsm8k`` (three stages); ``reasoning-gym`` and ``code`` (one stage, rollout sharing)."""

from __future__ import annotations

from typing import Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.tasks.base import TaskDataError, TaskFamily, TaskItem

FAMILIES = ("gsm8k", "reasoning-gym", "code")


def get_task_family(name: str, **options: Any) -> TaskFamily:
    """The task family called ``name``; options go to its constructor (``source=`` for gsm8k,
    ``datasets=`` for reasoning-gym, ``source=``, ``sandbox_mode=``, ``limits=``, ``weights=`` for code)."""
    if name == "gsm8k":
        from rlswarm_core.training.tasks.gsm8k import Gsm8kTask

        return Gsm8kTask(**options)
    if name == "reasoning-gym":
        from rlswarm_core.training.tasks.reasoning_gym import ReasoningGymTask

        return ReasoningGymTask(**options)
    if name == "code":
        from rlswarm_core.training.tasks.code import CodeTask

        return CodeTask(**options)
    raise ConfigError(f"unknown task family {name!r}", f"use one of: {', '.join(FAMILIES)}")


__all__ = ["FAMILIES", "TaskDataError", "TaskFamily", "TaskItem", "get_task_family"]
