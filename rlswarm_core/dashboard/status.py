"""One local instance as an operator watches it: supervisor state, progress, rewards, chain, memory.

Everything comes from files the supervisor and the node already write (``supervisor.json``, the event
journal) and from the process table; nothing here talks to the node, the DHT or the chain.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rlswarm_core.dashboard.tail import last_events
from rlswarm_core.errors import RlswarmError
from rlswarm_core.instances.planner import OVERHEAD_GB
from rlswarm_core.rewards.view import DEFAULT_STALE_ROUNDS, Rewards, read_summary, stale_warning

GIB = 1024**3
CHAIN_HISTORY = 10


@dataclass
class InstanceStatus:
    name: str
    peer_id: str = ""
    animal_name: str = ""
    role: str = ""
    port: int | None = None
    state: str = "stopped"
    running: bool = False
    pid: int | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    child_started: float | None = None
    uptime_s: float | None = None
    round: int | None = None
    stage: int | None = None
    peers: int | None = None
    rank: int | None = None
    leaderboard_size: int = 0
    rewards_total: float = 0.0
    last_reward: float | None = None
    stages_done: int = 0
    wins: int = 0
    node_started_at: float | None = None
    memory_rss_bytes: int | None = None
    memory_budget_gb: float | None = None
    # what the planner sized the instance for: its model budget plus the runtime's overhead
    memory_limit_gb: float | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)
    chain_counts: dict[str, int] = field(default_factory=dict)
    warning: str | None = None

    @property
    def last_chain(self) -> dict[str, Any] | None:
        return self.chain[-1] if self.chain else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_chain"] = self.last_chain
        return data


def tree_rss(proc: Any) -> int:
    """Resident memory of a process and its descendants (the node, its DHT process and p2pd)."""
    import psutil

    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += int(member.memory_info().rss)
        except psutil.Error:
            continue
    return total


def _budget(record_settings: dict[str, Any]) -> float | None:
    value = record_settings.get("memory_budget_gb")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def collect(
    name: str, *, stale_rounds: int = DEFAULT_STALE_ROUNDS, summary: Rewards | None = None
) -> InstanceStatus:
    """The status of one registered instance; ``summary`` saves a second read of its journal."""
    from rlswarm_core.identity.names import animal_name
    from rlswarm_core.instances import registry
    from rlswarm_core.instances.state import liveness

    record = registry.load(name)
    budget = _budget(record.settings)
    live = liveness(name)
    summary = summary if summary is not None else read_summary(record.journal, name)
    status = InstanceStatus(
        name=name,
        peer_id=record.peer_id or summary.peer_id,
        animal_name=summary.animal_name or (animal_name(record.peer_id) if record.peer_id else ""),
        role=record.role,
        port=record.port,
        state=live.state,
        running=live.running,
        restarts=live.restarts,
        last_exit_code=live.last_exit_code,
        child_started=live.child_started,
        round=summary.round,
        stage=summary.stage,
        peers=summary.peers,
        rank=summary.rank,
        leaderboard_size=summary.leaderboard_size,
        rewards_total=summary.total,
        last_reward=summary.stages[-1].reward if summary.stages else None,
        stages_done=len(summary.stages),
        wins=summary.wins,
        node_started_at=summary.started_at,
        memory_budget_gb=budget,
        memory_limit_gb=round(budget + OVERHEAD_GB, 3) if budget is not None else None,
        chain_counts=dict(summary.submissions),
    )
    if live.child_alive and live.child is not None:
        status.pid = live.child.pid
        proc = live.child.process()
        status.memory_rss_bytes = tree_rss(proc) if proc is not None else None
        if live.child_started:
            status.uptime_s = round(time.time() - live.child_started, 1)
    if summary.submissions:
        status.chain = [
            {k: e.get(k) for k in ("what", "round", "stage", "status", "message", "at")}
            for e in last_events(record.journal, "ChainSubmitted", CHAIN_HISTORY)
        ]
    # a supervised node between restarts has no open NodeStarted, yet it is meant to be running
    summary.running = summary.running or live.running
    status.warning = stale_warning(summary, stale_rounds)
    return status


def collect_all(*, stale_rounds: int = DEFAULT_STALE_ROUNDS) -> list[InstanceStatus]:
    from rlswarm_core.instances import registry

    found = []
    for record in registry.list_records():
        try:
            found.append(collect(record.name, stale_rounds=stale_rounds))
        except RlswarmError:
            continue  # removed or half-written between listing and reading: skip it this time
    return found
