"""One configuration of the sharing benchmark: N agents, one local/swarm mix, one seed.

Each agent is what a reasoning-gym node runs, minus the round clock: its own copy of the model, a
:class:`~rlswarm_core.training.grpo.GrpoStageRunner`, the node's
:class:`~rlswarm_core.training.stages.SingleStagePipeline` (which mixes I local questions with J
questions peers worked on last round, through :func:`~rlswarm_core.training.tasks.sapo.mix_rollouts`)
and an :class:`~rlswarm_core.swarm.exchange.Exchange` on its own hivemind DHT node on 127.0.0.1. The
agents share one process and train one after the other, so every agent gets the same compute whatever
the mix; what they share goes through the real DHT, signed and validated like a node's records.

A round: every agent plans its batch, trains ``steps_per_round`` GRPO steps on it and publishes its
best completion per question with its reward; then every agent gathers its peers' outputs for the
round, which become the swarm pool of its next batch.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rlswarm_core.training.prompts import Message
from rlswarm_core.training.rewards.text import RewardBreakdown
from rlswarm_core.training.tasks.base import TaskFamily, TaskItem

ANSWER_HINT = "\nGive the final answer inside <answer></answer>."
ONE_SHOT_QUESTION = "What is 3 + 4?"
ONE_SHOT_REPLY = "<answer>7</answer>"


@dataclass(frozen=True)
class RunSpec:
    """Everything one configuration needs; plain data so that it crosses a process boundary."""

    local: int
    swarm: int
    seed: int
    agents: int
    rounds: int
    model: str
    datasets: dict[str, dict[str, Any]]
    prompt: str  # "one-shot" (an answered example first) or "task" (the task family's own prompt)
    num_generations: int
    batch_size: int
    steps_per_round: int
    max_prompt_length: int
    max_completion_length: int
    learning_rate: float
    beta: float
    device: str
    dtype: str
    cache_dir: str
    work_dir: str
    threads: int | None = None
    gather_deadline_s: float = 30.0

    @property
    def label(self) -> str:
        return f"{self.local}/{self.swarm}"


@dataclass
class AgentResult:
    peer: str
    rewards: list[float] = field(default_factory=list)
    swarm_used: list[int] = field(default_factory=list)
    peers_heard: list[int] = field(default_factory=list)
    train_seconds: float = 0.0


def question_seed(run_seed: int, agent: int, round_: int) -> int:
    """Each agent draws its own questions each round (as separate nodes do), the same ones for every
    mix: a mix changes only how many of them the agent trains on and what it takes from peers."""
    return (run_seed * 1_000_003 + agent * 10_007 + round_) % (2**31 - 1)


class AgentTask(TaskFamily):
    """A reasoning-gym task family seen by one agent: its own question stream, and the prompt style the
    benchmark asks for (small models follow the answer format only after an answered example)."""

    name: ClassVar[str] = "reasoning-gym"
    stages: ClassVar[tuple[str, ...]] = ("solve",)

    def __init__(self, inner: TaskFamily, run_seed: int, agent: int, prompt: str) -> None:
        self.inner = inner
        self.run_seed = run_seed
        self.agent = agent
        self.prompt = prompt

    def load_items(self, count: int, seed: int = 0) -> list[TaskItem]:
        # the pipeline passes the round number as the seed
        return self.inner.load_items(count, seed=question_seed(self.run_seed, self.agent, seed))

    def messages(self, item: TaskItem) -> list[Message]:
        if self.prompt == "task":
            return self.inner.messages(item)
        return [
            {"role": "user", "content": ONE_SHOT_QUESTION + ANSWER_HINT},
            {"role": "assistant", "content": ONE_SHOT_REPLY},
            {"role": "user", "content": item.question + ANSWER_HINT},
        ]

    def score(self, completion: object, item: TaskItem) -> RewardBreakdown:
        return self.inner.score(completion, item)


def _quiet() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|trl|torch|accelerate)\b")


def _start_dht(count: int, folder: Path) -> list[Any]:
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.swarm.dht import DHTOptions, start_node
    from rlswarm_core.swarm.events import EventBus

    nodes: list[Any] = []
    try:
        for i in range(count):
            ident = create_identity(folder / f"agent-{i}.key")
            peers = tuple(nodes[0].visible_maddrs()) if nodes else ()
            opts = DHTOptions(identity_path=ident.path, host="127.0.0.1", port=0, initial_peers=peers)
            nodes.append(start_node(opts, EventBus()))
    except BaseException:
        for node in nodes:
            node.shutdown()
        raise
    return nodes


def _gather_all(exchange: Any, rs: Any, peers: list[str], deadline_s: float) -> Any:
    """Every peer's outputs for the round; re-read (the DHT is eventually consistent) until all are
    there or the deadline passes, so a slow store never silently shrinks the swarm pool."""
    deadline = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        left = max(0.1, deadline - time.monotonic())
        gathered = exchange.gather_outputs(rs, left, peers=peers, refresh=True)
        if not gathered.missing or time.monotonic() >= deadline:
            return gathered
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def run_configuration(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.agents`` agents for ``spec.rounds`` rounds; their per-round rewards and timings."""
    started = time.monotonic()
    _quiet()
    import torch

    from rlswarm_core.node.engine import freeze_startup_heap
    from rlswarm_core.settings.model import NodeSettings
    from rlswarm_core.swarm.coordinator import RoundStage
    from rlswarm_core.swarm.exchange import Exchange, StageOutput
    from rlswarm_core.training.grpo import GrpoStageRunner
    from rlswarm_core.training.models import load_model
    from rlswarm_core.training.stages import SingleStagePipeline
    from rlswarm_core.training.tasks.reasoning_gym import ReasoningGymTask

    if spec.threads:
        torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    work = Path(spec.work_dir) / f"mix-{spec.local}-{spec.swarm}-seed-{spec.seed}"
    work.mkdir(parents=True, exist_ok=True)
    loaded = load_model(spec.model, spec.device, spec.dtype, cache_dir=Path(spec.cache_dir), seed=0)
    settings = NodeSettings(
        profile="bench-sharing",
        model=spec.model,
        device=loaded.device.device,
        dtype=loaded.device.dtype,
        batch_size=spec.batch_size,
        num_generations=spec.num_generations,
        max_prompt_length=spec.max_prompt_length,
        max_completion_length=spec.max_completion_length,
        learning_rate=spec.learning_rate,
        steps_per_stage=spec.steps_per_round,
        gradient_accumulation_steps=1,
        beta=spec.beta,
        warmup_ratio=0.0,
        task_family="reasoning-gym",
        local_rollouts=spec.local,
        swarm_rollouts=spec.swarm,
    )
    freeze_startup_heap()
    # imports and the first model load are paid once per process: time each configuration without them
    setup_seconds = time.monotonic() - started
    started = time.monotonic()
    nodes = _start_dht(spec.agents, work)
    try:
        agents = []
        for i, node in enumerate(nodes):
            # every agent starts from the same weights; the last one takes the loaded copy itself
            model = loaded.model if i == len(nodes) - 1 else copy.deepcopy(loaded.model)
            inner = ReasoningGymTask(list(spec.datasets), configs=spec.datasets)
            task = AgentTask(inner, spec.seed, i, spec.prompt)
            agents.append(
                {
                    "result": AgentResult(peer=node.peer_id),
                    "runner": GrpoStageRunner(
                        model,
                        loaded.tokenizer,
                        settings,
                        work / f"agent-{i}",
                        device=loaded.device.device,
                        seed=spec.seed * 1000 + i,
                        dtype=loaded.device.dtype,
                    ),
                    "pipeline": SingleStagePipeline(task, node.peer_id, spec.local, spec.swarm),
                    "exchange": Exchange(node, publish_every_steps=spec.steps_per_round),
                }
            )
        peer_ids = [node.peer_id for node in nodes]
        for round_ in range(spec.rounds):
            rs = RoundStage(round_, 0)
            for agent in agents:
                pipeline, result = agent["pipeline"], agent["result"]
                plan = pipeline.plan(round_, 0, None)
                # the rows the mix drew from the swarm pool, counted by the pipeline itself: a peer's
                # question may also be one of the agent's own spare local draws (small question spaces
                # repeat), so comparing question texts would miscount it as local
                result.swarm_used.append(plan.swarm_questions)
                stage = agent["runner"].run_stage(plan.rows, plan.score, spec.steps_per_round)
                progress = stage.progress
                result.rewards.append(progress.mean_reward)
                result.train_seconds += stage.seconds
                outputs = [
                    StageOutput(p.question, p.completion, p.reward, p.answer, p.extra)
                    for p in plan.publishable(progress.best)
                ]
                agent["exchange"].publish(rs, progress.mean_reward, progress.step, outputs)
            for agent in agents:
                others = [p for p in peer_ids if p != agent["result"].peer]
                gathered = _gather_all(agent["exchange"], rs, others, spec.gather_deadline_s)
                agent["result"].peers_heard.append(len(gathered.outputs))
                agent["pipeline"].remember_swarm(gathered.outputs)
    finally:
        for node in nodes:
            with contextlib.suppress(Exception):
                node.shutdown()
    return {
        "local": spec.local,
        "swarm": spec.swarm,
        "seed": spec.seed,
        "seconds": time.monotonic() - started,
        "setup_seconds": setup_seconds,
        "device": loaded.device.device,
        "dtype": loaded.device.dtype,
        "agents": [asdict(a["result"]) for a in agents],
    }
