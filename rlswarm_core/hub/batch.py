"""Pushing one or several instances' checkpoints, as ``rlswarm push-hub`` does.

With one instance a failure is the command's error. With several (``--all-instances``) each failure is
reported and the others still go out; the batch fails at the end if any push failed, so a script sees a
non-zero exit without losing the pushes that worked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.push import HubAccess, PushResult
from rlswarm_core.hub.selection import InstanceCheckpoints
from rlswarm_core.training.checkpoints import Checkpoint

PLACEHOLDER_USER = "YOUR-HF-USER"

Chosen = list[tuple[InstanceCheckpoints, Checkpoint]]
# (stage, details) for one push: prepared, create, upload, retry, done (see hub.push.push_plan)
Progress = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True)
class Target:
    """Where the checkpoints go: an explicit repository or organisation, privacy and upload options."""

    repo_id: str | None = None
    org: str | None = None
    private: bool = False
    optimizer: str = "none"
    message: str | None = None


@dataclass
class BatchResult:
    pushed: list[tuple[InstanceCheckpoints, PushResult]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        pushes = [{"instance": i.instance, "peer_id": i.peer_id, **r.to_dict()} for i, r in self.pushed]
        return {"dry_run": False, "pushes": pushes, "failed": self.failures}


def choose(
    *, instance: str, all_instances: bool, best_only: bool, round_: int | None, repo_id: str | None
) -> Chosen:
    """The checkpoint to push for the named instance, or for every instance that has checkpoints."""
    from rlswarm_core.hub.selection import all_instances as find_instances
    from rlswarm_core.hub.selection import instance_checkpoints, select_checkpoint

    if all_instances and repo_id:
        raise HubPushError(
            "--repo-id names one repository, but --all-instances pushes several",
            "drop --repo-id: each instance gets its own default name",
        )
    items = find_instances() if all_instances else [instance_checkpoints(instance)]
    return [(item, select_checkpoint(item, best_only=best_only, round_=round_)) for item in items]


def push_one(
    access: HubAccess,
    item: InstanceCheckpoints,
    checkpoint: Checkpoint,
    target: Target,
    progress: Progress | None = None,
) -> PushResult:
    from rlswarm_core.hub.push import node_settings_for, prepare_upload, push_plan, target_repo_id

    repo_id = target_repo_id(access.user, item, checkpoint, target.repo_id, target.org)
    settings = node_settings_for(item.instance, checkpoint.record.profile)
    with prepare_upload(item, checkpoint, repo_id, optimizer=target.optimizer, settings=settings) as plan:
        if progress is not None:
            progress("prepared", {"repo_id": repo_id})
        return push_plan(
            plan,
            access=access,
            repo_id=repo_id,
            private=target.private,
            message=target.message,
            progress=progress,
        )


def push_all(
    chosen: Chosen,
    access: HubAccess,
    target: Target,
    *,
    progress_for: Callable[[InstanceCheckpoints, Checkpoint], Any] | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> BatchResult:
    """Push every chosen checkpoint; ``progress_for`` gives a context manager yielding a progress callback."""
    import contextlib

    result = BatchResult()
    for item, checkpoint in chosen:
        tracker = progress_for(item, checkpoint) if progress_for else contextlib.nullcontext(None)
        try:
            with tracker as progress:
                pushed = push_one(access, item, checkpoint, target, progress)
        except HubPushError as exc:
            if len(chosen) == 1:
                raise
            failure = f"{item.instance}: {exc.one_line()}"
            result.failures.append(failure)
            if on_failure is not None:
                on_failure(f"instance {failure}")
            continue
        result.pushed.append((item, pushed))
    return result


def raise_if_failed(result: BatchResult, total: int) -> None:
    if result.failures:
        raise HubPushError(f"{len(result.failures)} of {total} pushes failed", result.failures[0])


@dataclass
class DryRun:
    pushes: list[dict[str, Any]]
    placeholder: bool  # a repository id names PLACEHOLDER_USER: the token's account is not known yet

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": True, "pushes": self.pushes}


def dry_run(chosen: Chosen, target: Target) -> DryRun:
    """What each push would upload (files and sizes), without the network; the user is the stored one."""
    from rlswarm_core.hub.push import node_settings_for, prepare_upload, target_repo_id
    from rlswarm_core.settings.resolve import load_user_config

    user = load_user_config().get("hf_user") or None
    pushes: list[dict[str, Any]] = []
    for item, checkpoint in chosen:
        repo_id = target_repo_id(user or PLACEHOLDER_USER, item, checkpoint, target.repo_id, target.org)
        settings = node_settings_for(item.instance, checkpoint.record.profile)
        with prepare_upload(item, checkpoint, repo_id, optimizer=target.optimizer, settings=settings) as plan:
            pushes.append(
                {
                    "instance": item.instance,
                    "peer_id": item.peer_id,
                    "round": checkpoint.round,
                    "repo_id": repo_id,
                    "files": [f.to_dict() for f in plan.files],
                    "bytes": plan.total_bytes,
                }
            )
    explicit = bool(user or target.org or (target.repo_id and "/" in target.repo_id))
    return DryRun(pushes, placeholder=not explicit)
