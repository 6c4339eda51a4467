"""Checkpoint manifests, verification, and resuming from the newest intact checkpoint, on real model files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rlswarm_core.training.checkpoints import INDEX_FILE, CheckpointError, CheckpointRecord, CheckpointStore
from rlswarm_core.training.integrity import MANIFEST_FILE, verify_folder

WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rlswarm_core.training.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("integrity-models"))


def _copy_model(model_dir: Path):
    def write(folder: Path) -> None:
        for item in model_dir.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copyfile(item, folder / item.name)

    return write


def _save(store: CheckpointStore, model_dir: Path, round_: int) -> Path:
    record = CheckpointRecord(
        round=round_, peer_id="QmIntegrity", reward=float(round_), model="builtin:tiny-qwen2"
    )
    return store.save(record, _copy_model(model_dir)).path


def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()
    elif how == "flipped":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        raise ValueError(how)


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path, tiny_model: Path) -> None:
    folder = _save(CheckpointStore(tmp_path), tiny_model, 0)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    on_disk = {p.name for p in folder.iterdir() if p.name not in (MANIFEST_FILE, "record.json")}
    assert set(manifest["files"]) == on_disk and WEIGHTS in on_disk
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert not list(folder.glob(".*tmp"))
    assert verify_folder(folder).ok


@pytest.mark.parametrize("how", ["truncated", "emptied", "deleted", "flipped"])
def test_verification_names_the_damaged_file(tmp_path: Path, tiny_model: Path, how: str) -> None:
    folder = _save(CheckpointStore(tmp_path), tiny_model, 0)
    _damage(folder / WEIGHTS, how)
    verdict = verify_folder(folder)
    assert not verdict.ok and verdict.method == "manifest"
    expected = {
        "truncated": "is truncated",
        "emptied": "is empty",
        "deleted": "is missing",
        "flipped": "sha256",
    }
    assert str(folder / WEIGHTS) in verdict.problem and expected[how] in verdict.problem
    if how != "flipped":  # sizes alone catch these, without reading the files
        assert not verify_folder(folder, full=False).ok


@pytest.mark.parametrize("how", ["truncated", "emptied", "deleted"])
def test_checkpoint_without_manifest_is_checked_by_structure(
    tmp_path: Path, tiny_model: Path, how: str
) -> None:
    folder = _save(CheckpointStore(tmp_path), tiny_model, 0)
    (folder / MANIFEST_FILE).unlink()  # as written before manifests existed
    verdict = verify_folder(folder)
    assert verdict.ok and verdict.method == "structure"
    _damage(folder / WEIGHTS, how)
    verdict = verify_folder(folder)
    assert not verdict.ok and verdict.method == "structure"
    assert str(folder / WEIGHTS) in verdict.problem
    expected = {"truncated": "truncated", "emptied": "empty", "deleted": "holds no model weights"}
    assert expected[how] in verdict.problem


def test_resume_takes_the_newest_intact_checkpoint_and_names_the_skipped(
    tmp_path: Path, tiny_model: Path
) -> None:
    from rlswarm_core.training.models import load_model

    store = CheckpointStore(tmp_path, keep=5)
    for r in range(4):
        _save(store, tiny_model, r)
    _damage(store.get(3).path / WEIGHTS, "truncated")
    (store.get(2).path / "record.json").write_text('{"round": 2, "peer')  # torn metadata
    skipped: list[tuple[int, Path, str]] = []
    found = store.resume(lambda c: load_model(str(c.path), "cpu", "float32"), lambda *s: skipped.append(s))
    assert found is not None
    checkpoint, loaded = found
    assert checkpoint.round == 1 and loaded.model is not None
    assert [(r, p.name) for r, p, _ in skipped] == [(3, "round-000003"), (2, "round-000002")]
    assert f"{tmp_path / 'round-000003' / WEIGHTS} is truncated" in skipped[0][2]
    assert "record.json is missing or damaged" in skipped[1][2]
    # the damaged folders stay for the operator to look at
    assert (tmp_path / "round-000003" / WEIGHTS).exists()


def test_resume_skips_a_checkpoint_that_verifies_but_does_not_load(tmp_path: Path, tiny_model: Path) -> None:
    from rlswarm_core.training.models import load_model

    store = CheckpointStore(tmp_path)
    _save(store, tiny_model, 0)
    newest = _save(store, tiny_model, 1)
    (newest / MANIFEST_FILE).unlink()  # an old checkpoint: checked by structure, which a bad config passes
    (newest / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    skipped: list[tuple[int, Path, str]] = []
    found = store.resume(lambda c: load_model(str(c.path), "cpu", "float32"), lambda *s: skipped.append(s))
    assert found is not None and found[0].round == 0
    ((round_, _, reason),) = skipped
    assert round_ == 1 and f"{newest} does not load" in reason


def test_resume_with_nothing_usable_returns_none(tmp_path: Path, tiny_model: Path) -> None:
    store = CheckpointStore(tmp_path)
    _damage(_save(store, tiny_model, 0) / WEIGHTS, "emptied")
    skipped: list[tuple[int, Path, str]] = []
    found = store.resume(
        lambda c: pytest.fail("a damaged checkpoint was loaded"), lambda *s: skipped.append(s)
    )
    assert found is None
    assert len(skipped) == 1


def test_a_real_full_disk_during_a_safetensors_write_is_a_checkpoint_error(
    small_disk, tiny_model: Path
) -> None:
    """safetensors reports ENOSPC as its own error type, not OSError: still a CheckpointError, no .tmp."""
    import torch
    from safetensors.torch import save_file

    disk = small_disk("2m")
    store = CheckpointStore(disk.path / "ckpt")
    _save(store, tiny_model, 0)
    disk.fill(leave=200 * 1024)

    def write(folder: Path) -> None:
        save_file({"w": torch.zeros(1024, 1024)}, str(folder / WEIGHTS))  # 4 MB

    with pytest.raises(CheckpointError) as info:
        store.save(CheckpointRecord(round=1, peer_id="QmIntegrity"), write)
    assert "disk full while writing the checkpoint for round 1" in info.value.one_line()
    assert [c.round for c in store.list()] == [0] and verify_folder(store.get(0).path).ok
    assert not list(store.root.glob(".tmp-*"))


def test_a_real_full_disk_during_a_torch_save_is_named_as_such(small_disk, tiny_model: Path) -> None:
    """torch says only "unexpected pos …" when the disk fills; the free space tells what happened."""
    import torch

    disk = small_disk("2m")
    store = CheckpointStore(disk.path / "ckpt")
    _save(store, tiny_model, 0)

    def write(folder: Path) -> None:
        _copy_model(tiny_model)(folder)
        torch.save({"state": torch.zeros(1024, 1024)}, folder / "optimizer.pt")  # 4 MB

    with pytest.raises(CheckpointError, match="disk full while writing the checkpoint for round 1"):
        store.save(CheckpointRecord(round=1, peer_id="QmIntegrity"), write)
    assert not list(store.root.glob(".tmp-*")) and [c.round for c in store.list()] == [0]


def test_a_torn_index_line_does_not_swallow_the_next_record(tmp_path: Path, tiny_model: Path) -> None:
    store = CheckpointStore(tmp_path)
    _save(store, tiny_model, 0)
    with open(tmp_path / INDEX_FILE, "a") as handle:
        handle.write('{"round": 1, "peer_id": "Qm')  # a crash mid-line
    _save(store, tiny_model, 2)
    assert [r.round for r in store.history()] == [0, 2]
