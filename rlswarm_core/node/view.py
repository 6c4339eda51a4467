"""A node's state as the operator sees it, folded from its events.

The live panel, ``instances list`` and ``rewards`` all read this snapshot; it is built only from
events (live from the bus or replayed from the journal), never from the trainer's internals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

_HISTORY = 64


@dataclass
class NodeView:
    peer_id: str = ""
    animal_name: str = ""
    model: str = ""
    profile: str = ""
    device: str = ""
    role: str = ""
    maddrs: tuple[str, ...] = ()
    round: int | None = None
    stage: int | None = None
    step: int = 0
    steps: int = 0
    stage_reward: float = 0.0
    tokens_per_second: float = 0.0
    peers: int = 0
    rank: int | None = None
    leaderboard_size: int = 0
    leaderboard_top: tuple[tuple[str, float], ...] = ()
    rounds_completed: int = 0
    total_reward: float = 0.0
    round_rewards: list[tuple[int, float]] = field(default_factory=list)
    # share of replies passing every test: the last stage's, and per round (code family)
    pass_at_1: float | None = None
    round_pass_at_1: list[tuple[int, float]] = field(default_factory=list)
    last_vote: tuple[str, ...] = ()
    last_chain: str = ""
    # set while the chain endpoint is unreachable (the chain clock answers from its last read)
    chain_waiting: str = ""
    # set while the swarm (--swarm) shows no clock move and no live bootnode: its host looks gone
    swarm_stopped: str = ""
    # set when a peer could not dial this node back: what it tried and the fix
    unreachable: str = ""
    last_push: str = ""
    last_checkpoint: str = ""
    last_error: str = ""
    resumed_from: int | None = None
    # the last stage this node finished training, (round, stage)
    last_trained: tuple[int, int] | None = None
    # what a starting node is doing (StartupPhase) and since when (epoch seconds; 0: unknown)
    phase: str = "starting"
    phase_since: float = 0.0
    state: str = "starting"
    stop_reason: str = ""
    updated: float = 0.0

    def apply(self, event: Any) -> NodeView:
        """Fold one event (an Event object or its journal dict) into the view."""
        get = event.get if isinstance(event, dict) else (lambda k, d=None: getattr(event, k, d))
        kind = get("kind") if isinstance(event, dict) else event.kind
        self.updated = float(get("at", 0.0) or 0.0)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(get)
        return self

    def _on_NodeStarted(self, get: Any) -> None:
        self.peer_id = get("peer_id", "")
        self.animal_name = get("animal_name", "")
        self.model = get("model", "")
        self.profile = get("profile", "")
        self.device = f"{get('device', '')}/{get('dtype', '')}"
        self.role = get("role", "")
        self.maddrs = tuple(get("maddrs", ()) or ())
        self.state = "running"

    def _on_StartupPhase(self, get: Any) -> None:
        self.phase = str(get("phase", ""))
        self.phase_since = float(get("at", 0.0) or 0.0)

    def _on_Resumed(self, get: Any) -> None:
        self.resumed_from = get("round")

    def _on_StageStarted(self, get: Any) -> None:
        self.round, self.stage = get("round"), get("stage")
        self.step, self.stage_reward = 0, 0.0

    def _on_StepDone(self, get: Any) -> None:
        self.round, self.stage = get("round"), get("stage")
        self.step, self.steps = get("step", 0), get("steps", 0)
        self.stage_reward = float(get("reward", 0.0))
        self.tokens_per_second = float(get("tokens_per_second", 0.0))

    def _on_StageFinished(self, get: Any) -> None:
        self.step = self.steps = get("steps", self.steps)
        self.stage_reward = float(get("reward", 0.0))
        self.last_trained = (int(get("round", 0)), int(get("stage", 0)))
        if get("pass_at_1") is not None:
            self.pass_at_1 = float(get("pass_at_1"))

    def _on_PeerCountChanged(self, get: Any) -> None:
        self.peers = get("peers", 0)

    def _on_LeaderboardChanged(self, get: Any) -> None:
        top = tuple((str(p), float(r)) for p, r in (get("top", ()) or ()))
        self.leaderboard_top = top
        self.leaderboard_size = len(top)
        ids = [p for p, _ in top]
        self.rank = ids.index(self.peer_id) + 1 if self.peer_id in ids else None

    def _on_RoundFinished(self, get: Any) -> None:
        reward = float(get("reward", 0.0))
        self.rounds_completed += 1
        self.total_reward += reward
        self.round_rewards = [*self.round_rewards, (int(get("round", 0)), reward)][-_HISTORY:]
        self.last_vote = tuple(get("vote", ()) or ())
        rate = get("pass_at_1")
        if rate is not None:
            self.round_pass_at_1 = [*self.round_pass_at_1, (int(get("round", 0)), float(rate))][-_HISTORY:]

    def _on_CheckpointSaved(self, get: Any) -> None:
        self.last_checkpoint = f"round {get('round')}"

    def _on_CheckpointFailed(self, get: Any) -> None:
        self.last_error = str(get("message", ""))

    def _on_ChainSubmitted(self, get: Any) -> None:
        self.last_chain = f"{get('what')} r{get('round')}: {get('status')}"

    def _on_ChainUnavailable(self, get: Any) -> None:
        since = time.strftime("%H:%M:%S", time.localtime(float(get("at", 0.0) or 0.0)))
        self.chain_waiting = f"endpoint unreachable since {since}, retrying; training goes on"

    def _on_ChainRecovered(self, get: Any) -> None:
        self.chain_waiting = ""

    def _on_SwarmLooksStopped(self, get: Any) -> None:
        self.swarm_stopped = (
            f"swarm {get('swarm')} looks stopped: no round progress and no bootnode for "
            f"{float(get('quiet_s', 0.0)):.0f} s; training waits for its host"
        )

    def _on_SwarmResumed(self, get: Any) -> None:
        self.swarm_stopped = ""

    def _on_ReachabilityChecked(self, get: Any) -> None:
        if get("reachable") is False:
            tried = ", ".join(get("tried", ()) or ()) or "no address"
            self.unreachable = f"peers cannot dial this node at {tried}: {get('fix', '')}".rstrip(": ")
        else:
            self.unreachable = ""

    def _on_PushDone(self, get: Any) -> None:
        self.last_push = f"round {get('round')} -> {get('repo_id', '')}"

    def _on_PushFailed(self, get: Any) -> None:
        self.last_push = f"failed: {get('message', '')}"

    def _on_SwarmErrorEvent(self, get: Any) -> None:
        self.last_error = f"{get('operation')}: {get('message')}"

    def _on_NodeStopped(self, get: Any) -> None:
        self.stop_reason = str(get("reason", "") or "stopped")
        self.state = f"stopped ({self.stop_reason})"
        # the clock may already show a round this node never ran: the final state is what it trained
        self.round, self.stage = self.last_trained if self.last_trained else (None, None)
        if self.last_trained is None:
            self.step = self.steps = 0
