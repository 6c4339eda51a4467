"""Is a checkpoint folder whole? A manifest of every file's size and sha256, and the checks that use it.

``manifest.json`` is written last, after every other file of the checkpoint has been written and
fsynced, and atomically (a temporary name, then a rename), so a checkpoint with a manifest was complete
when it was made; later damage (a truncated, emptied or deleted file, flipped bits) no longer matches it.

``record.json`` is not listed: it is the checkpoint's metadata, rewritten in place (atomically) when late
facts arrive, and it is checked by parsing it.

Checkpoints written before manifests existed have none. They are checked by structure instead: every
``*.safetensors`` file must hold a readable header whose tensors end exactly at the end of the file
(which catches truncated and emptied files), the model must have weights and a ``config.json``, and a
``*.pt`` file (optimizer state, rank shards) must not be empty and, in torch's zip format, must open.
That reads a few kilobytes per file and no tensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
# Never listed in a manifest: the manifest itself and the record (see the module docstring).
UNLISTED = frozenset({MANIFEST_FILE, "record.json"})
_CHUNK = 1 << 20
# A safetensors header longer than this is damage, not a model (the format caps it at 100 MB).
_MAX_HEADER = 100 * 1024 * 1024
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
_META = ("config.json", "huggingface/config.json", "adapter_config.json")
_SHARDS = re.compile(r"model_world_size_\d+_rank_\d+\.pt|model-\d{5}-of-\d{5}\.safetensors")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one checkpoint folder: ``problem`` names the file and what is wrong."""

    ok: bool
    problem: str = ""
    method: str = "manifest"  # "manifest" or "structure" (a checkpoint from before manifests)

    @classmethod
    def bad(cls, problem: str, method: str = "manifest") -> Verdict:
        return cls(False, problem, method)


def _files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() not in UNLISTED
    )


def hash_file(path: Path, sync: bool = False) -> str:
    """The file's sha256; with ``sync`` its data is also forced to disk (before a manifest vouches for it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        if sync:
            os.fsync(handle.fileno())
    return digest.hexdigest()


def write_manifest(folder: Path) -> dict[str, Any]:
    """Fsync and hash every file of ``folder``, then write the manifest atomically (the last file written)."""
    files = {}
    for path in _files(folder):
        files[path.relative_to(folder).as_posix()] = {
            "size": path.stat().st_size,
            "sha256": hash_file(path, sync=True),
        }
    manifest = {"version": MANIFEST_VERSION, "files": files}
    tmp = folder / f".{MANIFEST_FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / MANIFEST_FILE)
    return manifest


def read_manifest(folder: Path) -> dict[str, dict[str, Any]] | None:
    """The manifest's file table; None when the folder has no manifest. Raises ValueError when unreadable."""
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read ({exc.__class__.__name__})") from None
    except ValueError:
        raise ValueError(f"{path} is not valid JSON (damaged)") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(v, dict)
        and isinstance(v.get("size"), int)
        and isinstance(v.get("sha256"), str)
        and not Path(k).is_absolute()
        and ".." not in Path(k).parts
        for k, v in files.items()
    ):
        raise ValueError(f"{path} has no valid file table (damaged)")
    return files


def verify_folder(folder: Path, *, full: bool = True) -> Verdict:
    """Check ``folder`` against its manifest (sizes, and with ``full`` the sha256 of every file), or by
    structure when it predates manifests."""
    folder = Path(folder)
    try:
        files = read_manifest(folder)
    except ValueError as exc:
        return Verdict.bad(str(exc))
    if files is None:
        return verify_structure(folder)
    for name, expected in sorted(files.items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return Verdict.bad(f"{path} is missing")
        except OSError as exc:
            return Verdict.bad(f"{path} cannot be read ({exc.strerror})")
        if size != expected["size"]:
            what = "empty" if size == 0 else "truncated" if size < expected["size"] else "longer than written"
            return Verdict.bad(f"{path} is {what}: {size} bytes, {expected['size']} when saved")
    if full:
        for name, expected in sorted(files.items()):
            path = folder / name
            try:
                digest = hash_file(path)
            except OSError as exc:
                return Verdict.bad(f"{path} cannot be read ({exc.strerror})")
            if digest != expected["sha256"]:
                return Verdict.bad(f"{path} does not match its sha256 from when it was saved (damaged)")
    return Verdict(True)


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file's layout (header readable, data ends at the file's end)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return f"{path} is {'empty' if size == 0 else 'truncated'} ({size} bytes)"
            (length,) = struct.unpack("<Q", head)
            if length > _MAX_HEADER or 8 + length > size:
                return f"{path} is truncated: its header does not fit in {size} bytes"
            header = json.loads(handle.read(length))
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    except ValueError:
        return f"{path} has a damaged header"
    if not isinstance(header, dict):
        return f"{path} has a damaged header"
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and len(entry.get("data_offsets") or ()) == 2
    ]
    expected = 8 + length + (max(ends) if ends else 0)
    if expected != size:
        what = "truncated" if size < expected else "longer than its header says"
        return f"{path} is {what}: {size} bytes, its header describes {expected}"
    return None


def _torch_file_problem(path: Path) -> str | None:
    """A ``torch.save`` file: empty is damage; the zip format (torch's default) must open."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if not magic:
        return f"{path} is empty"
    if magic == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except (OSError, zipfile.BadZipFile):
            return f"{path} is damaged (not a readable torch archive)"
    return None


def verify_structure(folder: Path) -> Verdict:
    """The check for a checkpoint without a manifest (see the module docstring). Also accepts the layouts
    operators assemble by hand: Hugging Face shards, and per-rank shards with config and tokenizer in a
    ``huggingface/`` subfolder."""
    folder = Path(folder)

    def bad(problem: str) -> Verdict:
        return Verdict.bad(problem, "structure")

    metas = [folder / name for name in _META if (folder / name).is_file()]
    if not metas:
        return bad(f"{folder / _META[0]} is missing")
    index = folder / _WEIGHTS[1]
    for meta in [*metas, index] if index.is_file() else metas:
        try:
            json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return bad(f"{meta} is damaged (not valid JSON)")
    has_weights = any((folder / name).is_file() for name in _WEIGHTS) or any(
        _SHARDS.fullmatch(p.name) for p in folder.iterdir()
    )
    if not has_weights:
        return bad(f"{folder / _WEIGHTS[0]} is missing (the checkpoint holds no model weights)")
    for path in sorted(folder.rglob("*.safetensors")):
        problem = safetensors_problem(path)
        if problem:
            return bad(problem)
    for path in sorted(folder.glob("*.pt")):
        problem = _torch_file_problem(path)
        if problem:
            return bad(problem)
    return Verdict(True, method="structure")
