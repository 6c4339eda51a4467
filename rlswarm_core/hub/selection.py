"""Which checkpoints a push takes: an instance's store, one round, the best, or the latest.

An instance's checkpoints live under ``<data>/checkpoints/<peer id>``, the peer id coming from the
instance's identity file ``<data>/identities/<instance>.pem``. "Best" is the checkpoint store's
documented metric: highest round reward, then most wins, then the later round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.identity.keys import load_identity
from rlswarm_core.system.paths import AppPaths, app_paths
from rlswarm_core.training.checkpoints import Checkpoint, CheckpointStore, best_key


@dataclass(frozen=True)
class InstanceCheckpoints:
    instance: str
    peer_id: str
    store: CheckpointStore


def instance_checkpoints(instance: str, paths: AppPaths | None = None) -> InstanceCheckpoints:
    paths = paths or app_paths()
    if not instance or "/" in instance or instance.startswith("."):
        raise HubPushError(
            f"invalid instance name {instance!r}", "use the name given to 'rlswarm join --instance'"
        )
    id_path = paths.identity_file(instance)
    if not id_path.is_file():
        raise HubPushError(
            f"instance {instance!r} has no identity ({id_path} does not exist)",
            "run 'rlswarm join' first, or name another instance with --instance",
        )
    peer_id = load_identity(id_path).peer_id
    return InstanceCheckpoints(instance, peer_id, CheckpointStore(paths.checkpoints / peer_id))


def all_instances(paths: AppPaths | None = None) -> list[InstanceCheckpoints]:
    """Every identity that has at least one checkpoint on disk, by name."""
    paths = paths or app_paths()
    found = []
    folder: Path = paths.identities
    for id_path in paths.identity_files():
        try:
            item = instance_checkpoints(id_path.stem, paths)
        except HubPushError:
            continue
        if item.store.list():
            found.append(item)
    if not found:
        raise HubPushError(
            f"no instance in {folder} has checkpoints",
            "train first with 'rlswarm join' (checkpoints are saved each round)",
        )
    return found


def select_checkpoint(
    item: InstanceCheckpoints, *, best_only: bool = False, round_: int | None = None
) -> Checkpoint:
    """``round_`` if given, else the best (``best_only``), else the latest checkpoint."""
    store = item.store
    if round_ is not None and best_only:
        raise HubPushError("--round and --best-only cannot be combined", "pick one of them")
    available = store.list()
    if not available:
        raise HubPushError(
            f"instance {item.instance!r} ({item.peer_id}) has no checkpoints in {store.root}",
            "train first with 'rlswarm join'; checkpoints are saved at the end of each round",
        )
    if round_ is not None:
        found = store.get(round_)
        if found is None:
            rounds = ", ".join(str(c.round) for c in available)
            raise HubPushError(
                f"instance {item.instance!r} has no checkpoint for round {round_}",
                f"rounds on disk: {rounds} (older ones are pruned; raise checkpoints_keep to keep more)",
            )
        return found
    return max(available, key=lambda c: best_key(c.record)) if best_only else available[-1]
