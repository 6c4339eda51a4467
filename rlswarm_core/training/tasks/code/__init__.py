"""The ``code`` task family: programming problems scored by running their tests in the sandbox."""

from rlswarm_core.training.tasks.code.family import CODE_SYSTEM, CodeTask
from rlswarm_core.training.tasks.code.problems import CodeProblem, problem_from_row
from rlswarm_core.training.tasks.code.sources import DEFAULT_SOURCE, HUMAN_EVAL, load_problems

__all__ = [
    "CODE_SYSTEM",
    "DEFAULT_SOURCE",
    "HUMAN_EVAL",
    "CodeProblem",
    "CodeTask",
    "load_problems",
    "problem_from_row",
]
