"""What the dashboard shows, gathered off the event loop and kept as one versioned snapshot.

One collector serves every client: the page's first requests, the JSON API and the server-sent event
stream all read the same snapshot, so ten open tabs cost no more than one. The chain leaderboard is
slower (RPC calls) and is refreshed on its own, longer interval; a failure keeps the last good board and
says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.dashboard import leaderboard as boards
from rlswarm_core.dashboard.series import DEFAULT_POINTS, rewards_payload
from rlswarm_core.dashboard.status import collect
from rlswarm_core.errors import RlswarmError
from rlswarm_core.rewards.view import DEFAULT_STALE_ROUNDS, read_summary


@dataclass
class DashboardOptions:
    host: str = "127.0.0.1"
    port: int = 8640
    token: str | None = None
    interval_s: float = 2.0
    stale_rounds: int = DEFAULT_STALE_ROUNDS
    points: int = DEFAULT_POINTS
    leaderboard: str = "dht"
    chain: boards.ChainTarget = field(default_factory=boards.ChainTarget)
    chain_interval_s: float = 30.0


def collect_instances_and_rewards(options: DashboardOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """Instances and reward series from one read of each journal."""
    from rlswarm_core.instances import registry

    statuses, summaries = [], []
    for record in registry.list_records():
        try:
            summary = read_summary(record.journal, record.name)
            statuses.append(collect(record.name, stale_rounds=options.stale_rounds, summary=summary))
        except RlswarmError:
            continue  # removed or half-written between listing and reading: skip it this time
        summaries.append(summary)
    from rlswarm_core.alerts.state import read as read_alerts

    now = time.time()
    active = read_alerts()["active"]
    instances = {
        "at": now,
        "instances": [s.to_dict() for s in statuses],
        "warnings": [s.warning for s in statuses if s.warning],
        # what the supervisors have alerted on and not yet resolved
        "alerts": [{"key": key, **entry} for key, entry in sorted(active.items())],
    }
    rewards = {"at": now, **rewards_payload(summaries, options.points)}
    return instances, rewards


def fill_ranks(instances: list[dict[str, Any]], board: dict[str, Any]) -> None:
    """Rank each instance on the newest board any local node journaled: a node that has not journaled
    a board itself (or an older one) still shows where the swarm places it now."""
    entries = board.get("entries") or []
    ranks = {e["peer_id"]: e["rank"] for e in entries}
    for item in instances:
        if item.get("peer_id") in ranks:
            item["rank"], item["leaderboard_size"] = ranks[item["peer_id"]], len(entries)


class ChainBoardCache:
    def __init__(self, options: DashboardOptions) -> None:
        self.options = options
        self.board: dict[str, Any] = {"source": "chain", "entries": [], "round": None, "stage": None}
        self.fetched = 0.0

    def get(self) -> dict[str, Any]:
        if time.monotonic() - self.fetched >= self.options.chain_interval_s or not self.fetched:
            self.fetched = time.monotonic()
            try:
                self.board = {**boards.chain_leaderboard(self.options.chain), "warning": None}
            except RlswarmError as exc:
                self.board = {**self.board, "warning": exc.one_line()}
            self.board["at"] = time.time()
        return self.board


PARTS = ("instances", "rewards", "leaderboard")


def _digest(part: dict[str, Any]) -> str:
    """What a part says, less when it was read: an unchanged reward history is not sent again."""
    import hashlib

    body = {k: v for k, v in part.items() if k != "at"}
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class Collector:
    """The latest value of each part, and a version per part that moves only when its content changes."""

    def __init__(self, options: DashboardOptions) -> None:
        self.options = options
        self.version = 0
        self.snapshot: dict[str, Any] = {}
        self.part_versions: dict[str, int] = dict.fromkeys(PARTS, 0)
        self._digests: dict[str, str] = {}
        self._changed: asyncio.Condition | None = None
        self._chain = ChainBoardCache(options) if options.leaderboard == "chain" else None

    def gather(self) -> dict[str, Any]:
        instances, rewards = collect_instances_and_rewards(self.options)
        board = self._chain.get() if self._chain is not None else boards.dht_leaderboard()
        if board.get("source") == "dht":
            fill_ranks(instances["instances"], board)
        return {"instances": instances, "rewards": rewards, "leaderboard": board}

    async def refresh(self) -> None:
        data = await asyncio.to_thread(self.gather)
        digests = {name: _digest(data[name]) for name in PARTS}
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            self.snapshot = data
            changed = [name for name in PARTS if digests[name] != self._digests.get(name)]
            if changed:
                self.version += 1
                for name in changed:
                    self.part_versions[name] = self.version
                self._digests = digests
                self._changed.notify_all()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.options.interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # a bad journal line or a vanished file must not end the updates
                self.snapshot = {**self.snapshot, "error": f"{type(exc).__name__}: {exc}"}

    async def newer_than(self, version: int, timeout: float) -> int:
        """Wait until the snapshot's version passes ``version``; returns the version now."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version > version), timeout)
            return self.version
