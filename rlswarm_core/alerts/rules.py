"""The alert rules: which conditions hold for one instance right now.

Each rule turns an :class:`~rlswarm_core.dashboard.status.InstanceStatus` (and, for the ones that need
a memory of earlier polls, a :class:`Memo`) into a :class:`Condition`. Whether a condition is news (it
just started or just cleared) is decided by the delivery state, not here.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rlswarm_core.alerts.config import Rules
from rlswarm_core.dashboard.status import GIB, InstanceStatus

RULES = ("node_down", "restart_loop", "not_earning", "chain_failing", "memory", "disk")
MACHINE_RULES = ("disk",)
# a NodeStarted this long before the supervisor recorded the child's start still counts as that child's
_CLOCK_SLACK_S = 1.0


@dataclass(frozen=True)
class Condition:
    rule: str
    firing: bool
    title: str
    detail: str = ""


@dataclass
class Memo:
    """What a rule must remember between polls: restarts seen, and whether the node was last seen down."""

    restarts: int | None = None
    restart_times: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    down: bool = False
    down_since: float | None = None


def node_is_up(status: InstanceStatus) -> bool:
    """The supervised node runs and has started (joined, loaded its model) since its last (re)start."""
    if status.pid is None or status.node_started_at is None:
        return False
    return status.child_started is None or status.node_started_at >= status.child_started - _CLOCK_SLACK_S


def _exit(status: InstanceStatus) -> str:
    return f"exit code {status.last_exit_code}" if status.last_exit_code is not None else "no exit code"


def node_down(status: InstanceStatus, memo: Memo, now: float) -> Condition:
    restarted = memo.restarts is not None and status.restarts > memo.restarts
    if status.state in ("backoff", "failed", "dead") or restarted:
        if not memo.down:
            memo.down_since = now
        memo.down = True
    elif node_is_up(status):
        memo.down = False
    # otherwise the node is (re)starting: it stays as it was last seen
    name = status.name
    if not memo.down:
        took = f" after {now - memo.down_since:.0f} s" if memo.down_since else ""
        return Condition("node_down", False, f"{name} is up again", f"the node runs again{took}")
    if status.state == "failed":
        detail = f"the supervisor gave up after repeated failures ({_exit(status)})"
    elif status.state == "dead":
        detail = "neither the supervisor nor the node is running"
    else:
        detail = f"the node exited ({_exit(status)}); the supervisor is restarting it"
    return Condition("node_down", True, f"{name} is down", f"{detail}; restarts so far: {status.restarts}")


def restart_loop(status: InstanceStatus, memo: Memo, rules: Rules, now: float) -> Condition:
    window = rules.restart_loop_window_s
    recent = sum(1 for t in memo.restart_times if now - t <= window)
    firing = status.state == "failed" or recent >= rules.restart_loop_count
    minutes = f"{window / 60:.0f} min"
    if not firing:
        return Condition("restart_loop", False, f"{status.name} stopped restarting", f"fewer than "
                         f"{rules.restart_loop_count} restarts in the last {minutes}")  # fmt: skip
    what = "gave up" if status.state == "failed" else "is restarting in a loop"
    return Condition(
        "restart_loop",
        True,
        f"{status.name} {what}",
        f"{recent} restart(s) in the last {minutes} ({_exit(status)}); "
        f"see 'rlswarm instances logs {status.name}'",
    )


def not_earning(status: InstanceStatus) -> Condition:
    if status.warning:
        return Condition("not_earning", True, f"{status.name} is running but not earning", status.warning)
    return Condition("not_earning", False, f"{status.name} is earning again", "a reward or submission landed")


def chain_failing(status: InstanceStatus, count: int) -> Condition:
    last = status.chain[-count:]
    failing = len(last) >= count and all(c.get("status") in ("failed", "queued") for c in last)
    if not failing:
        return Condition("chain_failing", False, f"{status.name}: chain submissions go through again")
    message = str(last[-1].get("message") or last[-1].get("status"))
    return Condition(
        "chain_failing",
        True,
        f"{status.name}: chain submissions failing",
        f"the last {count} submission(s) failed or were queued; latest: {message}",
    )


def memory(status: InstanceStatus, limit_gb: float | None) -> Condition | None:
    """None while the node is not running: a crash must not read as "memory back within budget"."""
    rss = status.memory_rss_bytes
    if rss is None:
        return None
    if limit_gb is None or rss <= limit_gb * GIB:
        return Condition("memory", False, f"{status.name}: memory back within its budget")
    return Condition(
        "memory",
        True,
        f"{status.name} uses more memory than its budget",
        f"{rss / GIB:.2f} GiB resident (node, DHT and p2pd) against a limit of {limit_gb:g} GiB",
    )


def disk(path: Path, min_free_percent: float) -> Condition:
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path)
    free = 100.0 * usage.free / usage.total if usage.total else 100.0
    if free >= min_free_percent:
        return Condition("disk", False, "disk space is back", f"{free:.1f}% free on {path}")
    return Condition(
        "disk",
        True,
        "disk nearly full",
        f"{usage.free / GIB:.1f} GiB ({free:.1f}%) free on {path}, below {min_free_percent:g}%: "
        "checkpoints and journals will fail to write",
    )


def evaluate(
    status: InstanceStatus, memo: Memo, rules: Rules, *, data_dir: Path, now: float | None = None
) -> list[Condition]:
    """Every enabled rule's condition for this instance, less those that cannot be known now (memory of a
    node that is not running); ``memo`` is updated for the next poll."""
    now = time.time() if now is None else now
    if memo.restarts is not None and status.restarts > memo.restarts:
        memo.restart_times.extend([now] * (status.restarts - memo.restarts))
    found = []
    if rules.node_down:
        found.append(node_down(status, memo, now))
    memo.restarts = status.restarts
    if rules.restart_loop_count > 0:
        found.append(restart_loop(status, memo, rules, now))
    if rules.stall_rounds > 0:
        found.append(not_earning(status))
    if rules.chain_failures > 0:
        found.append(chain_failing(status, rules.chain_failures))
    if rules.memory:
        within = memory(status, rules.memory_limit_gb or status.memory_limit_gb)
        found += [within] if within is not None else []
    if rules.disk_min_free_percent > 0:
        found.append(disk(data_dir, rules.disk_min_free_percent))
    return found
