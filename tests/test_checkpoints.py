from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlswarm_core.training.checkpoints import (
    INDEX_FILE,
    CheckpointError,
    CheckpointRecord,
    CheckpointStore,
)


def _writer(size: int = 1024, optimizer: bool = False):
    def write(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"w" * size)
        (folder / "tokenizer.json").write_text("{}")
        if optimizer:
            (folder / "optimizer.pt").write_bytes(b"o" * 16)

    return write


def _record(round_: int, reward: float = 0.0, wins: int = 0) -> CheckpointRecord:
    return CheckpointRecord(round=round_, peer_id="QmTest", reward=reward, wins=wins, model="m")


def test_save_list_latest_and_record(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep=3)
    assert store.latest() is None and store.best() is None
    saved = store.save(_record(1, reward=1.5), _writer(optimizer=True))
    assert saved.path.name == "round-000001"
    assert saved.record.has_optimizer
    on_disk = json.loads((saved.path / "record.json").read_text())
    assert on_disk["reward"] == 1.5 and on_disk["peer_id"] == "QmTest"
    assert store.latest().round == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_retention_keeps_last_k_and_the_best(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep=2)
    rewards = {1: 0.5, 2: 9.0, 3: 1.0, 4: 2.0, 5: 0.1}
    for r, reward in rewards.items():
        store.save(_record(r, reward=reward), _writer())
    assert [c.round for c in store.list()] == [2, 4, 5]
    assert store.best().round == 2
    assert [r.round for r in store.history()] == [1, 2, 3, 4, 5]


def test_best_by_wins_and_ties_prefer_later_round(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep=5)
    store.save(_record(1, reward=3.0, wins=2), _writer())
    store.save(_record(2, reward=3.0, wins=2), _writer())
    store.save(_record(3, reward=1.0, wins=7), _writer())
    assert store.best("reward").round == 2
    assert store.best("wins").round == 3
    with pytest.raises(CheckpointError, match="unknown checkpoint metric"):
        store.best("loss")


def test_update_record_folds_in_late_wins(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_record(4, reward=1.0), _writer())
    store.update_record(4, wins=3)
    assert store.get(4).record.wins == 3
    assert store.history()[-1].wins == 3


def test_resaving_a_round_replaces_it_atomically(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_record(2, reward=1.0), _writer(size=10))
    store.save(_record(2, reward=2.0), _writer(size=20))
    (only,) = store.list()
    assert only.record.reward == 2.0 and (only.path / "model.safetensors").stat().st_size == 20


def test_a_crash_in_the_middle_of_a_resave_keeps_the_earlier_copy(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_record(2, reward=1.0), _writer(size=10))
    # killed between moving round 2 aside and moving its new copy in
    (tmp_path / "round-000002").rename(tmp_path / ".tmp-round-old-000002-99999")
    (tmp_path / ".tmp-round-000002-99999").mkdir()
    store.save(_record(3), _writer())
    assert [c.round for c in store.list()] == [2, 3] and store.get(2).record.reward == 1.0
    assert not list(tmp_path.glob(".tmp-*"))


def test_failed_writer_leaves_previous_checkpoint(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_record(1), _writer())

    def broken(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"partial")
        raise PermissionError(13, "Permission denied")

    with pytest.raises(CheckpointError, match=r"round 1 at .* is intact"):
        store.save(_record(2), broken)
    assert [c.round for c in store.list()] == [1]
    assert not list(tmp_path.glob(".tmp-*"))


def test_corrupt_record_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_record(1), _writer())
    broken = tmp_path / "round-000002"
    broken.mkdir()
    (broken / "record.json").write_text("{not json")
    (tmp_path / INDEX_FILE).open("a").write("garbage line\n")
    assert [c.round for c in store.list()] == [1]
    assert [r.round for r in store.history()] == [1]


def test_full_disk_is_a_clear_error_and_keeps_previous(small_disk) -> None:
    tiny_disk = small_disk("2m").path
    store = CheckpointStore(tiny_disk / "ckpt", keep=3)
    store.save(_record(1, reward=1.0), _writer(size=512 * 1024))
    with pytest.raises(CheckpointError) as info:
        store.save(_record(2, reward=2.0), _writer(size=4 * 1024 * 1024))
    line = info.value.one_line()
    assert "disk full while writing the checkpoint for round 2" in line
    assert "round 1 at" in line and "is intact" in line and "\n" not in line
    (kept,) = store.list()
    assert kept.round == 1 and (kept.path / "model.safetensors").stat().st_size == 512 * 1024
    assert not list((tiny_disk / "ckpt").glob(".tmp-*"))
