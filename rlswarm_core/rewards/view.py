"""My rewards, read from the nodes' event journals (the default), the DHT or the chain.

A journal is read through its rewards summary (:mod:`rlswarm_core.rewards.summary`): the saved fold of
its first bytes plus the lines written since, so reading stays fast however long a node has run.

A line that is not a whole event (torn by a crash, or valid JSON missing a field its kind requires) is
skipped and counted in ``skipped_lines``, and ``rewards`` says so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.node.journal_lines import JOURNAL_NAME
from rlswarm_core.rewards.model import HISTORY, Rewards, StageReward
from rlswarm_core.rewards.summary import read_rewards
from rlswarm_core.system.paths import app_paths

__all__ = [
    "DEFAULT_STALE_ROUNDS",
    "HISTORY",
    "Rewards",
    "StageReward",
    "local_journals",
    "local_rewards",
    "read_summary",
    "select",
    "snapshot",
    "stale_warning",
    "submission_warning",
]

DEFAULT_STALE_ROUNDS = 3


def read_summary(journal: Path, name: str) -> Rewards:
    """Everything ``rewards`` and ``instances list`` show for one journal."""
    return read_rewards(journal, name)


def stale_warning(result: Rewards, stale_rounds: int) -> str | None:
    """A running node that has neither earned nor submitted anything in the last ``stale_rounds`` rounds."""
    if not result.running or result.round is None or stale_rounds <= 0:
        return None
    since = result.last_active_round
    idle = result.round - since if since is not None else result.round + 1
    if idle < stale_rounds:
        return None
    what = f"since round {since}" if since is not None else "since it started"
    return (
        f"{result.name} is running but has not earned or submitted {what} "
        f"({idle} round(s); now round {result.round})"
    )


def submission_warning(result: Rewards) -> str | None:
    """Rewards the chain refused because the node's account had already submitted for the stage."""
    shared = result.failures.get("account_already_submitted", 0)
    if not shared:
        return None
    return (
        f"{result.name}: {shared} reward submission(s) refused because its account already submitted for "
        "that stage through another node (a shared wallet earns once per stage); give each instance its "
        "own wallet"
    )


# ---- which nodes ----------------------------------------------------------------------------------------


def local_journals() -> dict[str, Path]:
    root = app_paths().instances
    if not root.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(root.glob(f"*/{JOURNAL_NAME}"))}


def select(instance: str | None = None, peer: str | None = None) -> dict[str, Path]:
    journals = local_journals()
    if instance is not None:
        if instance not in journals:
            known = ", ".join(journals) or "none"
            raise RlswarmError(
                f"no journal for instance {instance!r} (instances with one: {known})",
                "start it with 'rlswarm instances start' or 'rlswarm join --instance NAME'",
            )
        return {instance: journals[instance]}
    return journals


def running_instances() -> set[str]:
    """Instances whose supervisor or node is alive now (by pid and process start time)."""
    from rlswarm_core.instances.state import liveness

    alive = set()
    for name in local_journals():
        try:
            if liveness(name).running:
                alive.add(name)
        except RlswarmError:
            continue
    return alive


def local_rewards(
    instance: str | None = None, peer: str | None = None, stale_rounds: int = DEFAULT_STALE_ROUNDS
) -> list[Rewards]:
    supervised = running_instances()
    results = []
    for name, path in select(instance).items():
        summary = read_summary(path, name)
        if peer is not None and summary.peer_id != peer:
            continue
        # a supervised node between restarts has no open NodeStarted, yet it is meant to be running
        summary.running = summary.running or name in supervised
        warnings = [w for w in (stale_warning(summary, stale_rounds), submission_warning(summary)) if w]
        summary.warning = "; ".join(warnings) or None
        results.append(summary)
    if peer is not None and not results:
        raise RlswarmError(f"no local instance has peer id {peer}", "use --source dht or --source chain")
    return results


def snapshot(results: list[Rewards]) -> dict[str, Any]:
    return {
        "at": time.time(),
        "nodes": [r.to_dict() for r in results],
        "total": round(sum(r.total for r in results), 6),
        "warnings": [r.warning for r in results if r.warning]
        + [
            f"{r.name}: skipped {r.skipped_lines} incomplete line(s) of its event journal "
            "(torn by a crash or a full disk)"
            for r in results
            if r.skipped_lines
        ],
    }
