"""One object that runs an RL Swarm node end to end: DHT, round/stage clock, GRPO training per stage,
publishing to the swarm, winners, checkpoints and resume.

``Node(config).run(stop)`` is what ``rlswarm join`` and the tests call. The node never prints; it emits
events on its bus (``node.events``), which the event journal, the live panel and metrics subscribe to.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlswarm_core.identity.keys import load_identity
from rlswarm_core.node.events import (
    ChainSubmitted,
    CheckpointFailed,
    CheckpointSaved,
    NodeStarted,
    NodeStopped,
    Resumed,
    RoundFinished,
    StageFinished,
    StepDone,
)
from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.swarm.events import EventBus, SwarmErrorEvent
from rlswarm_core.system.paths import AppPaths, app_paths

_log = logging.getLogger(__name__)

Role = Literal["coordinator", "follower"]
# Chain rewards are integers; the node's mean stage reward is scaled so two decimals survive.
CHAIN_REWARD_SCALE = 100
# the shortest first interval between looks at the clock or at peers' rewards (see Node._first_poll_s)
MIN_POLL_S = 0.02


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Exempt what is alive once the node has started (modules, model, tokenizer) from the cyclic
    garbage collector, once per process.

    transformers' Trainer runs a full ``gc.collect()`` when it starts training, which here is every
    stage; walking the millions of objects that torch, transformers, trl and hivemind leave after
    start-up cost a local-tiny node about half of each stage. Objects made later (each stage's
    trainer, optimizer and batches) are collected as before.
    """
    global _heap_frozen
    if _heap_frozen:
        return
    import gc

    # what every stage imports anyway, so that its modules are among the frozen objects
    import datasets  # noqa: F401
    from trl import GRPOTrainer  # noqa: F401

    gc.collect()
    gc.freeze()
    _heap_frozen = True


@dataclass
class NodeConfig:
    settings: NodeSettings
    identity_path: Path
    role: Role = "follower"
    # followers trust only this clock when it is given (pin it in production)
    coordinator_peer_id: str | None = None
    # stop once the swarm reaches this round (absolute round number); None runs until stopped
    max_rounds: int | None = None
    # how long the coordinator waits for peers' rewards, and a follower for the clock, per stage
    stage_timeout_s: float = 600.0
    # how long gathering peers' outputs of the previous stage may take
    gather_deadline_s: float = 15.0
    # the clock's poll interval for followers
    poll_s: float = 0.5
    # the clock's node does not leave a stage before this many peers (itself included) published for
    # it, or the stage timeout passed: a local swarm can wait for its members before it starts
    min_peers: int = 1
    seed: int = 0
    instance: str = "default"
    # optional chain submitter with submit_reward(round, stage, reward:int, peer_id) and
    # submit_winners(round, winners, peer_id), e.g. rlswarm_core.chain.queue.SubmissionQueue
    chain: Any = None
    # a Coordinator to use instead of the DHT clock (the chain clock, for instance)
    clock_factory: Callable[[Any, int], Any] | None = None
    save_optimizer: bool = False
    # a custom task pipeline (settings, own peer id) -> StagePipeline; default: from task_family
    pipeline_factory: Callable[[NodeSettings, str], Any] | None = None


@dataclass
class NodeSummary:
    peer_id: str
    rounds_completed: list[int] = field(default_factory=list)
    stages_trained: int = 0
    resumed_from: int | None = None
    last_winners: tuple[str, ...] = ()
    reason: str = ""


class _Publisher:
    """Publishes a stage's latest outputs and reward from a worker thread, so training never waits on
    the DHT; a newer snapshot replaces one not yet sent (only the latest state matters to peers)."""

    def __init__(self, exchange: Any, events: EventBus) -> None:
        self.exchange = exchange
        self.events = events
        self._cond = threading.Condition()
        self._pending: tuple[Any, list[Any], float, int] | None = None
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="swarm-publish", daemon=True)
        self._thread.start()

    def submit(self, rs: Any, outputs: list[Any], reward: float, step: int) -> None:
        with self._cond:
            self._pending = (rs, outputs, reward, step)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closing:
                    self._cond.wait()
                if self._pending is None:
                    return
                rs, outputs, reward, step = self._pending
                self._pending = None
                self._busy = True
            try:
                self.exchange.publish_outputs(rs, outputs)
                self.exchange.publish_reward(rs, reward, step)
            except Exception as exc:  # a DHT hiccup must not kill training; the next snapshot retries
                self.events.emit(SwarmErrorEvent(operation="publish", message=str(exc)))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class Node:
    def __init__(
        self, config: NodeConfig, events: EventBus | None = None, paths: AppPaths | None = None
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.events = events or EventBus()
        self.paths = (paths or app_paths()).ensure()
        self.identity = load_identity(config.identity_path)
        self.peer_id = self.identity.peer_id
        self.summary = NodeSummary(peer_id=self.peer_id)
        # the last stage's training time, which sets how often the node polls the clock and its peers
        self._stage_seconds: float | None = None

    # -- set-up ------------------------------------------------------------------------------------
    def checkpoint_dir(self) -> Path:
        return self.paths.checkpoints / self.peer_id

    def _apply_process_settings(self) -> None:
        import os
        import warnings

        # Library deprecation chatter (transformers renaming its own arguments) is not the operator's
        # business; real problems still arrive as events and errors.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|accelerate)\b")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(transformers|trl|torch)\b")

        for key, value in self.settings.env.items():
            os.environ.setdefault(key, value)
        if self.settings.threads:
            import torch

            torch.set_num_threads(self.settings.threads)

    @staticmethod
    def _remove_dead_sockets() -> None:
        """Nodes killed hard (OOM, SIGKILL) leave hivemind's unix sockets in /tmp; a starting node
        clears this user's dead ones so they do not pile up over crash-restarts."""
        from rlswarm_core.doctor.p2pd import remove_stale_sockets

        try:
            removed = remove_stale_sockets()
        except OSError:
            return
        if removed:
            _log.info("removed %d dead hivemind socket(s) left by stopped nodes", len(removed))

    def _load_model(self, checkpoint: Any) -> Any:
        from rlswarm_core.training.models import load_model

        spec = str(checkpoint.path) if checkpoint is not None else self.settings.model
        return load_model(spec, self.settings.device, self.settings.dtype, seed=self.config.seed)

    # -- the run -----------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> NodeSummary:
        from rlswarm_core.swarm.coordinator import DHTCoordinator
        from rlswarm_core.swarm.dht import DHTOptions, start_node
        from rlswarm_core.swarm.exchange import Exchange
        from rlswarm_core.training.checkpoints import CheckpointStore
        from rlswarm_core.training.grpo import GrpoStageRunner
        from rlswarm_core.training.stages import make_pipeline

        stop = stop or threading.Event()
        self._apply_process_settings()
        store = CheckpointStore(self.checkpoint_dir(), keep=self.settings.checkpoints_keep)
        latest = store.latest()
        # Load the model before joining, so a slow first load does not hold a stage open.
        loaded = self._load_model(latest)
        factory = self.config.pipeline_factory or make_pipeline
        pipeline = factory(self.settings, self.peer_id)
        freeze_startup_heap()
        options = DHTOptions.from_settings(
            self.settings,
            self.config.identity_path,
            client_mode=self.settings.dht_client_mode,
            startup_timeout=self.settings.dht_startup_timeout,
            expiration_s=self.settings.dht_expiration_s,
        )
        self._remove_dead_sockets()
        swarm = start_node(options, self.events)
        try:
            resume_round = latest.round + 1 if latest is not None else 0
            if latest is not None:
                self.summary.resumed_from = latest.round
                self.events.emit(Resumed(round=latest.round, checkpoint=str(latest.path)))
            if self.config.clock_factory is not None:
                clock = self.config.clock_factory(swarm, pipeline.stage_count)
            else:
                from rlswarm_core.swarm.coordinator import RoundStage

                clock = DHTCoordinator(
                    swarm,
                    pipeline.stage_count,
                    is_coordinator=self.config.role == "coordinator",
                    coordinator_peer_id=self.config.coordinator_peer_id or self.settings.coordinator_peer_id,
                    start=RoundStage(resume_round, 0) if self.config.role == "coordinator" else None,
                    poll_min_s=self.config.poll_s,
                    join_timeout_s=max(30.0, self.config.stage_timeout_s),
                    events=self.events,
                )
            exchange = Exchange(
                swarm, publish_every_steps=self.settings.publish_every_steps, events=self.events
            )
            subscribe = getattr(self.config.chain, "subscribe", None)
            if callable(subscribe):
                # queued submissions settle later, on the queue's retry thread
                subscribe(self._on_chain_outcome)
            runner = GrpoStageRunner(
                loaded.model,
                loaded.tokenizer,
                self.settings,
                self.paths.state / "work" / self.peer_id,
                device=loaded.device.device,
                seed=self.config.seed,
            )
            self.events.emit(
                NodeStarted(
                    peer_id=self.peer_id,
                    animal_name=self.identity.animal_name,
                    model=self.settings.model,
                    profile=self.settings.profile,
                    device=loaded.device.device,
                    dtype=loaded.device.dtype,
                    role=self.config.role,
                    maddrs=tuple(swarm.visible_maddrs()),
                )
            )
            self._loop(clock, exchange, runner, pipeline, store, resume_round, stop)
        finally:
            self.events.emit(
                NodeStopped(reason=self.summary.reason, rounds=len(self.summary.rounds_completed))
            )
            swarm.shutdown()
        return self.summary

    def _loop(
        self,
        clock: Any,
        exchange: Any,
        runner: Any,
        pipeline: Any,
        store: Any,
        resume_round: int,
        stop: threading.Event,
    ) -> None:
        from rlswarm_core.swarm.coordinator import RoundStage
        from rlswarm_core.swarm.verify import verified_leaderboard

        # The coordinator role advances the clock: the DHT clock it runs, or a chain clock whose stage
        # manager key it holds (devnets); on a public chain the network advances on its own.
        is_clock = self.config.role == "coordinator" and getattr(clock, "can_advance", True)
        done: set[RoundStage] = set()
        stage_rewards: dict[int, dict[int, float]] = {}
        max_rounds = self.config.max_rounds
        while not stop.is_set():
            rs = clock.current()
            if max_rounds is not None and rs.round >= max_rounds:
                self.summary.reason = f"reached round {max_rounds}"
                return
            if rs in done or rs.round < resume_round:
                # Finished here already (or covered by the checkpoint we resumed from): wait for the clock.
                clock.wait_for_change(
                    rs,
                    timeout=min(5.0, self.config.stage_timeout_s),
                    poll_min_s=self._first_poll_s(),
                    stop=stop,
                )
                continue
            reward = self._train_stage(rs, exchange, runner, pipeline, stop)
            if reward is None:  # stopped mid-stage
                self.summary.reason = "stopped"
                return
            done.add(rs)
            stage_rewards.setdefault(rs.round, {})[rs.stage] = reward
            self._submit_chain_reward(rs, reward)
            if is_clock:
                self._wait_for_peers(exchange, rs, stop, pipeline.stage_count)
                with contextlib.suppress(Exception):
                    # ranked by rewards recomputed from the peers' outputs, never by their claims
                    verified_leaderboard(
                        exchange, rs, getattr(pipeline, "rescore", None), self.config.gather_deadline_s
                    )
            last_stage = rs.stage == pipeline.stage_count - 1
            if last_stage:
                self._finish_round(rs, exchange, pipeline, store, runner, stage_rewards.pop(rs.round, {}))
            if is_clock:
                clock.advance()
            else:
                clock.wait_for_change(
                    rs, timeout=self.config.stage_timeout_s, poll_min_s=self._first_poll_s(), stop=stop
                )
        self.summary.reason = self.summary.reason or "stopped"

    def _train_stage(
        self, rs: Any, exchange: Any, runner: Any, pipeline: Any, stop: threading.Event
    ) -> float | None:
        from rlswarm_core.swarm.coordinator import RoundStage
        from rlswarm_core.swarm.exchange import StageOutput

        previous = None
        if rs.stage > 0:
            gathered = exchange.gather_outputs(
                RoundStage(rs.round, rs.stage - 1), self.config.gather_deadline_s
            )
            previous = gathered.outputs
        plan = pipeline.plan(rs.round, rs.stage, previous)
        steps = self.settings.steps_per_stage

        def outputs_of(progress: Any) -> list[StageOutput]:
            return [
                StageOutput(
                    question=p.question,
                    completion=p.completion,
                    reward=p.reward,
                    answer=p.answer,
                    extra=p.extra,
                )
                for p in plan.publishable(progress.best)
            ]

        every = self.settings.publish_every_steps

        def on_step(progress: Any) -> None:
            self.events.emit(
                StepDone(
                    round=rs.round,
                    stage=rs.stage,
                    step=progress.step,
                    steps=steps,
                    reward=progress.mean_reward,
                    tokens_per_second=progress.tokens_per_second,
                )
            )
            if progress.step % every == 0 and progress.step < steps:
                publisher.submit(rs, outputs_of(progress), progress.mean_reward, progress.step)

        publisher = _Publisher(exchange, self.events)
        try:
            result = runner.run_stage(
                plan.rows, plan.score, steps, on_publish=on_step, publish_every=1, stop=stop
            )
            if result.stopped_early:
                return None
            progress = result.progress
            # The stage's final state always reaches the swarm before the stage counts as done.
            publisher.submit(rs, outputs_of(progress), progress.mean_reward, progress.step)
            publisher.flush(timeout=max(30.0, self.config.gather_deadline_s))
        finally:
            publisher.close()
        self.summary.stages_trained += 1
        self._stage_seconds = result.seconds
        self.events.emit(
            StageFinished(
                round=rs.round,
                stage=rs.stage,
                reward=progress.mean_reward,
                steps=progress.step,
                seconds=result.seconds,
                questions=len(plan.rows),
            )
        )
        return progress.mean_reward

    def _wait_for_peers(self, exchange: Any, rs: Any, stop: threading.Event, stage_count: int) -> None:
        """The clock's node waits for the live peers to publish for ``rs`` (the rule and its bounds are
        in :mod:`rlswarm_core.swarm.liveness`): a departed peer costs one grace period, once."""
        from rlswarm_core.swarm.events import StageClosed
        from rlswarm_core.swarm.liveness import wait_for_stage

        closed = wait_for_stage(
            lambda at: exchange.read_rewards(at).rewards,
            rs,
            rs.previous(stage_count),
            own_peer=self.peer_id,
            min_peers=self.config.min_peers,
            grace_s=self.settings.peer_grace_s,
            timeout_s=self.config.stage_timeout_s,
            stop=stop,
            first_poll_s=self._first_poll_s(),
        )
        self.events.emit(
            StageClosed(
                round=rs.round,
                stage=rs.stage,
                reason=closed.reason,
                published=len(closed.published),
                expected=len(closed.expected),
                missing=closed.missing,
                waited_s=round(closed.waited_s, 3),
            )
        )

    def _first_poll_s(self) -> float:
        """The first interval between looks at the clock or at peers' rewards; waits back off from it.

        A fixed half second suits stages of minutes, but a local swarm of small models finishes a stage
        in a fraction of a second and would sit idle most of the time. So the first interval is a tenth
        of the last stage's training time, between ``MIN_POLL_S`` and the configured ``poll_s``; the
        back-off keeps its ceiling, so a fast node waiting on a slow public clock still polls rarely.
        """
        if self._stage_seconds is None:
            return self.config.poll_s
        return max(MIN_POLL_S, min(self.config.poll_s, self._stage_seconds / 10))

    def _finish_round(
        self, rs: Any, exchange: Any, pipeline: Any, store: Any, runner: Any, stage_rewards: dict[int, float]
    ) -> None:
        from rlswarm_core.training.checkpoints import CheckpointError, CheckpointRecord

        final = exchange.gather_outputs(rs, self.config.gather_deadline_s)
        winners = tuple(pipeline.winners(final.outputs))
        remember = getattr(pipeline, "remember_swarm", None)
        if remember is not None:
            # rollout sharing: what peers worked on this round feeds the next round's batch
            remember(final.outputs)
        vote = winners[:1]
        total = sum(stage_rewards.values())
        self.summary.rounds_completed.append(rs.round)
        self.summary.last_winners = winners
        self.events.emit(RoundFinished(round=rs.round, reward=total, winners=winners, vote=vote))
        if vote and self.config.chain is not None:
            self._chain_call(
                "winners",
                rs.round,
                rs.stage,
                lambda: self.config.chain.submit_winners(rs.round, list(vote), self.peer_id),
            )
        record = CheckpointRecord(
            round=rs.round,
            peer_id=self.peer_id,
            reward=total,
            stage_rewards={str(k): v for k, v in sorted(stage_rewards.items())},
            model=self.settings.model,
            profile=self.settings.profile,
            task_family=self.settings.task_family,
            steps=runner.global_step,
            extra={"winners": list(winners), "hyperparameters": self._hyperparameters()},
        )
        try:
            with_optimizer = self.config.save_optimizer or self.settings.hub_optimizer == "full"
            saved = store.save(record, lambda folder: runner.save(folder, with_optimizer))
        except CheckpointError as exc:
            # Training goes on: the weights are still in memory and the previous checkpoint is intact.
            self.events.emit(CheckpointFailed(round=rs.round, message=exc.one_line()))
        else:
            self.events.emit(CheckpointSaved(round=rs.round, path=str(saved.path)))

    def _hyperparameters(self) -> dict[str, Any]:
        s = self.settings
        keys = (
            "learning_rate",
            "batch_size",
            "num_generations",
            "beta",
            "max_completion_length",
            "gradient_accumulation_steps",
            "steps_per_stage",
            "warmup_ratio",
            "dtype",
            "lora",
        )
        return {k: getattr(s, k) for k in keys}

    def _submit_chain_reward(self, rs: Any, reward: float) -> None:
        if self.config.chain is None:
            return
        value = round(reward * CHAIN_REWARD_SCALE)
        self._chain_call(
            "reward",
            rs.round,
            rs.stage,
            lambda: self.config.chain.submit_reward(rs.round, rs.stage, value, self.peer_id),
        )

    def _on_chain_outcome(self, outcome: Any) -> None:
        self.events.emit(
            ChainSubmitted(
                what=outcome.what,
                round=outcome.round,
                stage=outcome.stage,
                status=outcome.status,
                message=outcome.message,
                reason=outcome.reason,
            )
        )

    def _chain_call(self, what: str, round_: int, stage: int, call: Callable[[], Any]) -> None:
        try:
            outcome = call()
        except Exception as exc:
            reason = str(getattr(exc, "reason", "") or "")
            self.events.emit(
                ChainSubmitted(
                    what=what, round=round_, stage=stage, status="failed", message=str(exc), reason=reason
                )
            )
            return
        # SubmissionQueue answers "sent", "already" or "queued"; a plain client returns a receipt.
        status = outcome if isinstance(outcome, str) else "sent"
        self.events.emit(ChainSubmitted(what=what, round=round_, stage=stage, status=status))
