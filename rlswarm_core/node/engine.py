"""One object that runs an RL Swarm node end to end: DHT, round/stage clock, GRPO training per stage,
publishing to the swarm, winners, checkpoints and resume.

``Node(config).run(stop)`` is what the node runtime (:mod:`rlswarm_core.node.runtime`) and the tests
call. The node never prints; it emits events on its bus (``node.events``), which the event journal,
the instance log, the caller's renderer and metrics subscribe to.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlswarm_core.identity.keys import load_identity
from rlswarm_core.node.events import (
    ChainSubmitted,
    CheckpointFailed,
    CheckpointSaved,
    CheckpointSkipped,
    NodeStarted,
    NodeStopped,
    Resumed,
    RoundFinished,
    StageFinished,
    StartupPhase,
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
    # stop after training this many rounds in this run, counted from where the node resumes (so a
    # rerun trains again); None: no such limit
    rounds: int | None = None
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
    # the instance log: the DHT process writes its output and log records there, never to a terminal
    log_path: Path | None = None
    # told "loading" when the run starts and "joining" right before the DHT starts: until then a stop
    # request may abandon the run at once (nothing has started that needs an orderly stop)
    on_phase: Callable[[str], None] | None = None


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
                # outputs and reward in one DHT call: half the round trips to the DHT process and p2pd,
                # whose CPU time otherwise comes out of training on a small machine
                self.exchange.publish(rs, reward, step, outputs)
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
        from rlswarm_core.training.hub_env import apply_hub_environment

        self.config = config
        self.settings = config.settings
        # telemetry off (and the Hub client offline for a local model) before anything imports the Hub
        # client, which reads these once
        apply_hub_environment(self.settings)
        self.events = events or EventBus()
        self.paths = (paths or app_paths()).ensure()
        self.identity = load_identity(config.identity_path)
        self.peer_id = self.identity.peer_id
        self.summary = NodeSummary(peer_id=self.peer_id)
        # the last stage's training time, which sets how often the node polls the clock and its peers
        self._stage_seconds: float | None = None
        # pass@1 of each round's stages, for families that run tests (code)
        self._pass_at_1: dict[int, list[float]] = {}

    # -- set-up ------------------------------------------------------------------------------------
    def _phase(self, name: str) -> None:
        if self.config.on_phase is not None:
            self.config.on_phase(name)

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
        s = self.settings
        return load_model(
            spec,
            s.device,
            s.dtype,
            seed=self.config.seed,
            quantization=s.quantization,
            gpus=s.gpus,
            lora=s.lora,
        )

    # -- the run -----------------------------------------------------------------------------------
    def _resume(self, store: Any) -> tuple[Any, Any]:
        """The newest intact checkpoint and its loaded model (the base model when none is usable); each
        damaged checkpoint passed over is reported with the file at fault."""

        def skipped(round_: int, path: Path, reason: str) -> None:
            self.events.emit(CheckpointSkipped(round=round_, path=str(path), reason=reason))

        found = store.resume(self._load_model, skipped)
        return found if found is not None else (None, self._load_model(None))

    def run(self, stop: threading.Event | None = None) -> NodeSummary:
        from rlswarm_core.swarm.coordinator import DHTCoordinator
        from rlswarm_core.swarm.dht import DHTOptions, start_node
        from rlswarm_core.swarm.exchange import Exchange
        from rlswarm_core.training.checkpoints import CheckpointStore
        from rlswarm_core.training.grpo import GrpoStageRunner
        from rlswarm_core.training.stages import make_pipeline

        stop = stop or threading.Event()
        self._phase("loading")
        self.events.emit(StartupPhase(phase="loading the model"))
        self._apply_process_settings()
        store = CheckpointStore(self.checkpoint_dir(), keep=self.settings.checkpoints_keep)
        # The task first: a missing data source or sandbox stops the node before the model loads.
        factory = self.config.pipeline_factory or make_pipeline
        pipeline = factory(self.settings, self.peer_id)
        # Load the model before joining, so a slow first load does not hold a stage open.
        latest, loaded = self._resume(store)
        freeze_startup_heap()
        self._phase("joining")
        if stop.is_set():  # stopped while loading: no reason to join the swarm only to leave it
            self.summary.reason = "stopped"
            return self.summary
        options = DHTOptions.from_settings(
            self.settings,
            self.config.identity_path,
            client_mode=self.settings.dht_client_mode,
            startup_timeout=self.settings.dht_startup_timeout,
            expiration_s=self.settings.dht_expiration_s,
            log_path=self.config.log_path,
        )
        self._remove_dead_sockets()
        self.events.emit(StartupPhase(phase="starting the DHT"))
        swarm = start_node(options, self.events)
        self.events.emit(StartupPhase(phase="joining the swarm"))
        reach = None
        try:
            reach = self._reachability(swarm)
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
                dtype=loaded.device.dtype,
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
            if reach is not None:
                reach.close()
            swarm.shutdown()
        return self.summary

    def _reachability(self, swarm: Any) -> Any:
        """A public node answers other peers' dial-back checks and, when it joined through peers, asks
        one of them once, in the background, whether it can be dialled (a client-mode node needs not)."""
        from rlswarm_core.swarm.reachability import ReachabilityWatch, serve_reachability

        if swarm.options.client_mode:
            return None
        serve_reachability(swarm)
        if not swarm.options.initial_peers:
            return None
        return ReachabilityWatch(swarm, self.events).start()

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
        if self.config.rounds is not None and self.config.rounds <= 0:
            self.summary.reason = "trained 0 round(s)"
            return
        while not stop.is_set():
            rs = clock.current()
            if max_rounds is not None and rs.round >= max_rounds:
                self.summary.reason = f"reached round {max_rounds}"
                return
            if rs in done or rs.round < resume_round:
                # Finished here already (or covered by the checkpoint we resumed from): wait for the clock.
                self._wait_for_clock(clock, rs, min(5.0, self.config.stage_timeout_s), stop)
                continue
            reward = self._train_stage(rs, exchange, runner, pipeline, stop)
            if reward is None:  # stopped mid-stage
                self.summary.reason = "stopped"
                return
            done.add(rs)
            stage_rewards.setdefault(rs.round, {})[rs.stage] = reward
            self._submit_chain_reward(rs, reward)
            if is_clock:
                # the claims the stage closed on, read a moment ago, serve its leaderboard as well
                claims = self._wait_for_peers(exchange, rs, stop, pipeline.stage_count)
                with contextlib.suppress(Exception):
                    # ranked by rewards recomputed from the peers' outputs, never by their claims
                    verified_leaderboard(
                        exchange,
                        rs,
                        getattr(pipeline, "rescore", None),
                        self.config.gather_deadline_s,
                        claims=claims,
                    )
            last_stage = rs.stage == pipeline.stage_count - 1
            if last_stage:
                self._finish_round(rs, exchange, pipeline, store, runner, stage_rewards.pop(rs.round, {}))
                if self._trained_enough():
                    if is_clock:
                        clock.advance()  # followers see the round end, as with --max-rounds
                    return
            if is_clock:
                clock.advance()
            else:
                self._wait_for_clock(clock, rs, self.config.stage_timeout_s, stop)
                self._follow_leaderboard(exchange, clock, rs)
        self.summary.reason = self.summary.reason or "stopped"

    def _follow_leaderboard(self, exchange: Any, clock: Any, rs: Any) -> None:
        """A follower's rank: the leaderboard the clock's node signed for the stage it just left (it
        publishes it before it moves the clock on)."""
        from rlswarm_core.swarm.events import LeaderboardChanged

        coordinator = getattr(clock, "coordinator_peer_id", None)
        if not coordinator:
            return
        try:
            entries = exchange.read_leaderboard(rs, coordinator)
        except Exception as exc:  # the rank is for show; a DHT hiccup must not stop training
            _log.debug("could not read the leaderboard of %s: %s", rs, exc)
            return
        if entries:
            top = tuple((e.peer_id, e.reward) for e in entries[:10])
            self.events.emit(LeaderboardChanged(round=rs.round, stage=rs.stage, top=top))

    def _trained_enough(self) -> bool:
        """True (with the stop reason set) once this run trained the ``rounds`` it was asked for."""
        wanted = self.config.rounds
        if wanted is None or len(self.summary.rounds_completed) < wanted:
            return False
        self.summary.reason = f"trained {wanted} round(s)"
        return True

    def _wait_for_clock(self, clock: Any, rs: Any, timeout: float, stop: threading.Event) -> None:
        """Wait for the clock to leave ``rs``, polling with backoff (up to 5 s) like the clock's own wait,
        but sleeping on ``stop``: a stop request ends the wait at once, even while a follower waits
        minutes for a slow swarm."""
        deadline = time.monotonic() + timeout
        delay = self._first_poll_s()
        while not stop.is_set():
            if clock.wait_for_change(rs, timeout=0) is not None:  # one look at the clock
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            stop.wait(min(delay, left))
            delay = min(delay * 2, 5.0)

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
            # the last step's state goes out at once: it is the stage's final state, and it is stored
            # while the trainer winds down
            if progress.step % every == 0 or progress.step == steps:
                publisher.submit(rs, outputs_of(progress), progress.mean_reward, progress.step)
                submitted.append(progress.step)

        submitted: list[int] = []
        publisher = _Publisher(exchange, self.events)
        try:
            result = runner.run_stage(
                plan.rows, plan.score, steps, on_publish=on_step, publish_every=1, stop=stop
            )
            if result.stopped_early:
                return None
            progress = result.progress
            # The stage's final state always reaches the swarm before the stage counts as done.
            if not submitted or submitted[-1] != progress.step:
                publisher.submit(rs, outputs_of(progress), progress.mean_reward, progress.step)
            publisher.flush(timeout=max(30.0, self.config.gather_deadline_s))
        finally:
            publisher.close()
        self.summary.stages_trained += 1
        self._stage_seconds = result.seconds
        pass_at_1 = getattr(plan, "pass_at_1", None)
        if pass_at_1 is not None:
            self._pass_at_1.setdefault(rs.round, []).append(pass_at_1)
        self.events.emit(
            StageFinished(
                round=rs.round,
                stage=rs.stage,
                reward=progress.mean_reward,
                steps=progress.step,
                seconds=result.seconds,
                questions=len(plan.rows),
                swarm_questions=getattr(plan, "swarm_questions", 0),
                pass_at_1=pass_at_1,
            )
        )
        return progress.mean_reward

    def _wait_for_peers(self, exchange: Any, rs: Any, stop: threading.Event, stage_count: int) -> Any:
        """The clock's node waits for the live peers to publish for ``rs`` (the rule and its bounds are
        in :mod:`rlswarm_core.swarm.liveness`): a departed peer costs one grace period, once.

        Returns the stage's claims (a ``RewardsView``) as last read, the ones the stage closed on."""
        from rlswarm_core.swarm.events import StageClosed
        from rlswarm_core.swarm.liveness import wait_for_stage

        previous_rs = rs.previous(stage_count)
        seen: dict[Any, Any] = {}
        # read ahead: the wait reads the previous stage's publishers, then this stage's; both come in
        # one DHT call, and this stage's is used by the very next read only (later polls read afresh)
        ahead: dict[Any, Any] = {}

        def read_publishers(at: Any) -> Any:
            if at in ahead:
                seen[at] = ahead.pop(at)
            elif at == previous_rs:
                views = exchange.read_rewards_of([at, rs])
                seen[at], ahead[rs] = views[at], views[rs]
            else:
                seen[at] = exchange.read_rewards(at)
            return seen[at].rewards

        closed = wait_for_stage(
            read_publishers,
            rs,
            previous_rs,
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
        return seen.get(rs)

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
        rates = self._pass_at_1.pop(rs.round, [])
        pass_at_1 = sum(rates) / len(rates) if rates else None
        self.events.emit(
            RoundFinished(round=rs.round, reward=total, winners=winners, vote=vote, pass_at_1=pass_at_1)
        )
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
            extra={
                "winners": list(winners),
                "hyperparameters": self._hyperparameters(),
                **({"pass_at_1": pass_at_1} if pass_at_1 is not None else {}),
            },
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
