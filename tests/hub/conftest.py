"""Fixtures for the Hub push tests: the fake Hub, a real tiny model, and instances with checkpoints."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rlswarm_core.identity.keys import create_identity
from rlswarm_core.system.paths import app_paths
from rlswarm_core.training.checkpoints import Checkpoint, CheckpointRecord, CheckpointStore
from tests.hub.fake_hub import fake_hub, fake_hub_server  # noqa: F401  (fixtures)

BASE_MODEL = "Gensyn/Qwen2.5-0.5B-Instruct"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlswarm_core.training.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("hub-models"))


@pytest.fixture(scope="session")
def identity_pool(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """RSA key generation is slow-ish: make a few identity files once and copy them per test."""
    folder = tmp_path_factory.mktemp("identities")
    return [create_identity(folder / f"id{i}.pem").path for i in range(3)]


InstanceMaker = Callable[[str], CheckpointStore]


@pytest.fixture
def make_instance(identity_pool: list[Path]) -> InstanceMaker:
    """An instance identity under RLSWARM_HOME and its (empty) checkpoint store."""
    from rlswarm_core.identity.keys import load_identity

    used: list[str] = []

    def make(name: str) -> CheckpointStore:
        target = app_paths().identity_file(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(identity_pool[len(used)], target)
        target.chmod(0o600)
        used.append(name)
        peer_id = load_identity(target).peer_id
        return CheckpointStore(app_paths().checkpoints / peer_id, keep=10)

    return make


def save_round(
    store: CheckpointStore,
    model_dir: Path,
    round_: int,
    reward: float,
    wins: int = 0,
    *,
    optimizer: bytes | None = None,
    extra_files: dict[str, bytes] | None = None,
    weights: bool = True,
) -> Checkpoint:
    """A checkpoint made of the tiny model's real files, with its own record."""
    peer_id = store.root.name

    def write(folder: Path) -> None:
        for item in model_dir.iterdir():
            if (
                item.is_file()
                and not item.name.startswith(".")
                and (weights or item.suffix != ".safetensors")
            ):
                shutil.copyfile(item, folder / item.name)
        if optimizer is not None:
            (folder / "optimizer.pt").write_bytes(optimizer)
        for name, data in (extra_files or {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)

    record = CheckpointRecord(
        round=round_,
        peer_id=peer_id,
        reward=reward,
        stage_rewards={"0": reward / 2, "1": reward / 4, "2": reward / 4},
        wins=wins,
        model=BASE_MODEL,
        profile="cpu",
        task_family="gsm8k",
        steps=20 * round_,
    )
    return store.save(record, write)


@pytest.fixture
def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
