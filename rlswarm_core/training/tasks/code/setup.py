"""Building the code family's pipeline from a node's settings, sandbox first: a node that cannot run
model-written code safely stops before it loads a model or joins the swarm."""

from __future__ import annotations

from typing import Any

from rlswarm_core.sandbox import SandboxLimits, open_sandbox
from rlswarm_core.training.rewards.code import CodeWeights
from rlswarm_core.training.tasks.code.family import CodeTask
from rlswarm_core.training.tasks.code.pipeline import CodePipeline


def sandbox_limits(settings: Any) -> SandboxLimits:
    timeout = settings.code_test_timeout_s
    # a run stops after two timed-out tests; the whole run gets room for those and the rest
    wall = max(SandboxLimits.wall_s, 3 * timeout + 10)
    return SandboxLimits(test_timeout_s=timeout, wall_s=wall, memory_mb=settings.code_memory_mb)


def code_pipeline(settings: Any, own_peer: str) -> CodePipeline:
    weights = CodeWeights.from_mapping(settings.code_reward_weights)
    sandbox = open_sandbox(settings.code_sandbox, sandbox_limits(settings))
    task = CodeTask(source=settings.task_source, sandbox=sandbox, weights=weights)
    task.problems()  # a missing or malformed source fails here, as one line
    return CodePipeline(task, own_peer, settings.local_rollouts, settings.swarm_rollouts)
