"""Instance records: ``<state>/instances/NAME/instance.yaml`` and the settings layer ``join`` reads.

``instance.yaml`` describes the instance (name, profile, port, GPU, identity, role, creation time);
``settings.yaml`` holds the node settings it overrides (port, threads, memory budget, ...), which
``rlswarm join --instance NAME`` merges between the user config and the environment.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rlswarm_core.errors import ConfigError, RlswarmError
from rlswarm_core.node.journal import JOURNAL_NAME
from rlswarm_core.system.paths import app_paths

INSTANCE_FILE = "instance.yaml"
SETTINGS_FILE = "settings.yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class InstanceError(RlswarmError):
    """An unknown, duplicate or busy instance."""


@dataclass
class InstanceRecord:
    name: str
    profile: str
    port: int
    identity: str
    created: str
    gpu: int | None = None
    role: str = "coordinator"  # "coordinator" | "follower"
    coordinator_peer_id: str | None = None
    peer_id: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return instance_dir(self.name)

    @property
    def journal(self) -> Path:
        return self.folder / JOURNAL_NAME

    @property
    def log_file(self) -> Path:
        return app_paths().logs / f"{self.name}.log"

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("settings")
        return data


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(
            f"invalid instance name {name!r}",
            "use up to 40 lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return name


def instance_dir(name: str) -> Path:
    return app_paths().instances / check_name(name)


def _dump(path: Path, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def save(record: InstanceRecord) -> None:
    meta = record.describe()
    _dump(record.folder / INSTANCE_FILE, meta)
    _dump(record.folder / SETTINGS_FILE, record.settings)


def load(name: str) -> InstanceRecord:
    from rlswarm_core.settings.model import load_yaml_mapping

    folder = instance_dir(name)
    meta = load_yaml_mapping(folder / INSTANCE_FILE, "instance file")
    if not meta:
        raise InstanceError(f"no instance named {name!r}", "see 'rlswarm instances list'")
    settings = load_yaml_mapping(folder / SETTINGS_FILE, "instance settings")
    try:
        return InstanceRecord(
            name=str(meta["name"]),
            profile=str(meta["profile"]),
            port=int(meta["port"]),
            identity=str(meta["identity"]),
            created=str(meta["created"]),
            gpu=None if meta.get("gpu") is None else int(meta["gpu"]),
            role=str(meta.get("role", "coordinator")),
            coordinator_peer_id=meta.get("coordinator_peer_id"),
            peer_id=str(meta.get("peer_id", "")),
            settings=settings,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"instance file {folder / INSTANCE_FILE} is incomplete ({exc})",
            f"remove it with 'rlswarm instances remove {name}' and add it again",
        ) from None


def list_records() -> list[InstanceRecord]:
    root = app_paths().instances
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if (p / INSTANCE_FILE).is_file())
    return [load(n) for n in names]


def next_names(count: int, existing: set[str], prefix: str = "node") -> list[str]:
    names: list[str] = []
    index = 1
    while len(names) < count:
        candidate = f"{prefix}-{index}"
        if candidate not in existing:
            names.append(candidate)
        index += 1
    return names


def loopback_maddr(port: int, peer_id: str) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}"


def create(
    name: str,
    *,
    profile: str,
    port: int,
    threads: int | None,
    memory_budget_gb: float | None,
    gpu: int | None = None,
    host: str | None = None,
    coordinator: InstanceRecord | None = None,
) -> InstanceRecord:
    """Write a new instance and its identity; a follower bootstraps from ``coordinator`` on loopback."""
    from rlswarm_core.identity.keys import create_identity, load_identity

    check_name(name)
    if (instance_dir(name) / INSTANCE_FILE).exists():
        raise InstanceError(f"instance {name!r} already exists", "pick another name or remove it first")
    id_path = app_paths().identity_file(name)
    ident = load_identity(id_path) if id_path.exists() else create_identity(id_path)
    settings: dict[str, Any] = {"profile": profile, "dht_port": port}
    if threads is not None:
        settings["threads"] = threads
    if memory_budget_gb is not None:
        settings["memory_budget_gb"] = memory_budget_gb
    if host:
        settings["host"] = host
    env: dict[str, str] = {}
    if threads is not None:
        # BLAS pools size themselves at import; only the environment reaches them in time
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if env:
        settings["env"] = env
    role = "coordinator"
    coordinator_peer_id = None
    if coordinator is not None:
        settings["initial_peers"] = [loopback_maddr(coordinator.port, coordinator.peer_id)]
        role = "follower"
        coordinator_peer_id = coordinator.peer_id
    record = InstanceRecord(
        name=name,
        profile=profile,
        port=port,
        identity=name,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        gpu=gpu,
        role=role,
        coordinator_peer_id=coordinator_peer_id,
        peer_id=ident.peer_id,
        settings=settings,
    )
    save(record)
    return record


def remove(name: str, *, keep_identity: bool = True) -> None:
    """Delete the instance's folder and log; the identity stays unless asked (it holds the history)."""
    folder = instance_dir(name)
    if not (folder / INSTANCE_FILE).exists():
        raise InstanceError(f"no instance named {name!r}", "see 'rlswarm instances list'")
    shutil.rmtree(folder)
    logs = app_paths().logs
    for path in logs.glob(f"{name}.log*"):
        path.unlink(missing_ok=True)
    if not keep_identity:
        app_paths().identity_file(name).unlink(missing_ok=True)
