"""Per-round checkpoints: written to a temporary folder and renamed into place, so a crash or a full
disk never leaves a half-written checkpoint and never harms the previous one.

Layout under the node's checkpoint root::

    round-000003/            model (safetensors), tokenizer, optional optimizer.pt, record.json,
                             manifest.json (size and sha256 of every file, written last)
    round-000004/
    index.jsonl              one record per saved round, kept even after a round's files are pruned

Retention keeps the last ``keep`` rounds plus the best one by the chosen metric (push-hub's
``--best-only`` needs it). A resuming node verifies checkpoints newest first and starts from the newest
intact one (see :meth:`CheckpointStore.resume` and :mod:`rlswarm_core.training.integrity`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rlswarm_core.errors import RlswarmError
from rlswarm_core.training.integrity import Verdict, verify_folder, write_manifest

_PREFIX = "round-"
_TMP_PREFIX = ".tmp-round-"
RECORD_FILE = "record.json"
INDEX_FILE = "index.jsonl"
OPTIMIZER_FILE = "optimizer.pt"
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# How a full disk reads when it reaches us through safetensors (Rust) or torch (C++) instead of an OSError.
_DISK_FULL_TEXT = ("no space left on device", "os error 28", "disk quota exceeded", "file too large")
# Less free space than this after a failed write means the disk filled up, whatever the error said.
_NO_ROOM_BYTES = 1 << 20
T = TypeVar("T")

# How checkpoints are ranked for "best": the documented metric is the round's total reward, then
# wins, then the later round.
BEST_METRICS = ("reward", "wins")


class CheckpointError(RlswarmError):
    """A checkpoint could not be written or read."""


@dataclass
class CheckpointRecord:
    round: int
    peer_id: str
    reward: float = 0.0
    stage_rewards: dict[str, float] = field(default_factory=dict)
    wins: int = 0
    model: str = ""
    profile: str = ""
    task_family: str = ""
    steps: int = 0
    created: float = field(default_factory=time.time)
    has_optimizer: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    record: CheckpointRecord

    @property
    def round(self) -> int:
        return self.record.round


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_disk_full(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _DISK_FULL:
            return True
        if any(text in str(seen).lower() for text in _DISK_FULL_TEXT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _no_room(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _NO_ROOM_BYTES
    except OSError:
        return False


def best_key(record: CheckpointRecord, metric: str = "reward") -> tuple[float, float, int]:
    if metric not in BEST_METRICS:
        raise CheckpointError(
            f"unknown checkpoint metric {metric!r}", f"use one of: {', '.join(BEST_METRICS)}"
        )
    primary = record.reward if metric == "reward" else float(record.wins)
    secondary = float(record.wins) if metric == "reward" else record.reward
    return (primary, secondary, record.round)


class CheckpointStore:
    def __init__(self, root: Path, keep: int = 3, best_metric: str = "reward") -> None:
        if keep < 1:
            raise CheckpointError("checkpoint retention must keep at least one round")
        self.root = Path(root)
        self.keep = keep
        self.best_metric = best_metric

    def _dir_for(self, round_: int) -> Path:
        return self.root / f"{_PREFIX}{round_:06d}"

    def _scan(self) -> list[tuple[int, Path, Checkpoint | None]]:
        """Every ``round-*`` folder, oldest first, with its checkpoint (None: its record is unreadable)."""
        if not self.root.is_dir():
            return []
        found: list[tuple[int, Path, Checkpoint | None]] = []
        for path in self.root.glob(f"{_PREFIX}*"):
            try:
                number = int(path.name[len(_PREFIX) :])
            except ValueError:
                continue
            try:
                record = CheckpointRecord.from_dict(json.loads((path / RECORD_FILE).read_text()))
            except (OSError, ValueError, TypeError):
                found.append((number, path, None))
                continue
            found.append((record.round, path, Checkpoint(path=path, record=record)))
        return sorted(found, key=lambda f: (f[0], f[1].name))

    def list(self) -> list[Checkpoint]:
        """Complete checkpoints on disk, oldest first. A folder without a readable record is skipped."""
        return [checkpoint for _, _, checkpoint in self._scan() if checkpoint is not None]

    def latest(self) -> Checkpoint | None:
        items = self.list()
        return items[-1] if items else None

    def best(self, metric: str | None = None) -> Checkpoint | None:
        items = self.list()
        if not items:
            return None
        return max(items, key=lambda c: best_key(c.record, metric or self.best_metric))

    def get(self, round_: int) -> Checkpoint | None:
        return next((c for c in self.list() if c.round == round_), None)

    def history(self) -> list[CheckpointRecord]:
        """Every round ever saved (from the index), including pruned ones; later lines win."""
        index = self.root / INDEX_FILE
        by_round: dict[int, CheckpointRecord] = {}
        if index.is_file():
            for line in index.read_text(encoding="utf-8").splitlines():
                try:
                    record = CheckpointRecord.from_dict(json.loads(line))
                except (ValueError, TypeError):
                    continue
                by_round[record.round] = record
        return [by_round[r] for r in sorted(by_round)]

    def save(self, record: CheckpointRecord, write_files: Callable[[Path], None]) -> Checkpoint:
        """Write a round's checkpoint; ``write_files(folder)`` saves model, tokenizer and optimizer.

        The folder appears under its final name only once complete, with its manifest written last. On
        any failure (a full disk, an OSError, a safetensors or torch error) the partial folder is removed,
        every earlier checkpoint is left as it was, and one readable :class:`CheckpointError` is raised.
        """
        tmp = self.root / f"{_TMP_PREFIX}{record.round:06d}-{os.getpid()}"
        old = self.root / f"{_TMP_PREFIX}old-{record.round:06d}-{os.getpid()}"
        final = self._dir_for(record.round)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            write_files(tmp)
            record.has_optimizer = (tmp / OPTIMIZER_FILE).is_file()
            with open(tmp / RECORD_FILE, "w", encoding="utf-8") as handle:
                json.dump(asdict(record), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            write_manifest(tmp)
            _fsync_dir(tmp)
            if final.exists():
                # Same round saved again (a resumed node): swap via a side name so one copy always exists.
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            _fsync_dir(self.root)
        except Exception as exc:  # any failure of the writers is a failed checkpoint, not a crash
            # measured before the partial folder is removed: torch reports a full disk only as a failed write
            full = _is_disk_full(exc) or _no_room(self.root)
            if old.exists() and not final.exists():
                with contextlib.suppress(OSError):
                    os.replace(old, final)  # the swap failed half-way: put the earlier copy back
            shutil.rmtree(tmp, ignore_errors=True)
            raise self._save_error(record.round, exc, full) from None
        # The checkpoint is complete from here on; a full disk can still refuse the index line, which only
        # the model card's history reads.
        with contextlib.suppress(OSError):
            self._append_index(record)
        self.prune()
        return Checkpoint(path=final, record=record)

    def _save_error(self, round_: int, exc: BaseException, disk_full: bool) -> CheckpointError:
        previous = self.latest()
        kept = f"round {previous.round} at {previous.path} is intact" if previous else "no earlier checkpoint"
        if disk_full:
            return CheckpointError(
                f"disk full while writing the checkpoint for round {round_} in {self.root}; {kept}",
                "free some space or lower checkpoints_keep; training goes on from memory",
            )
        if isinstance(exc, OSError):
            reason = exc.strerror or exc.__class__.__name__
        else:
            first = str(exc).strip().splitlines()
            reason = f"{exc.__class__.__name__}: {first[0][:200]}" if first else exc.__class__.__name__
        return CheckpointError(
            f"cannot write the checkpoint for round {round_} in {self.root}: {reason}; {kept}",
            "training goes on from memory; the next round tries again",
        )

    def verify(self, checkpoint: Checkpoint, full: bool = True) -> Verdict:
        """Whether ``checkpoint`` is still as it was written (see :mod:`rlswarm_core.training.integrity`)."""
        return verify_folder(checkpoint.path, full=full)

    def resume(
        self,
        load: Callable[[Checkpoint], T],
        on_skip: Callable[[int, Path, str], None],
        errors: tuple[type[BaseException], ...] = (Exception,),
    ) -> tuple[Checkpoint, T] | None:
        """The newest checkpoint that verifies and loads, with what ``load`` returned for it.

        Newer checkpoint folders that fail verification, have no readable record, or whose ``load``
        raises one of ``errors`` are passed to ``on_skip`` (round, folder, a reason naming the damaged
        file) and left on disk for the operator to inspect; they are pruned like any other round. None
        when no checkpoint is usable.
        """
        for round_, path, checkpoint in reversed(self._scan()):
            if checkpoint is None:
                on_skip(round_, path, f"{path / RECORD_FILE} is missing or damaged")
                continue
            verdict = self.verify(checkpoint)
            if not verdict.ok:
                on_skip(round_, path, verdict.problem)
                continue
            try:
                return checkpoint, load(checkpoint)
            except errors as exc:
                if isinstance(exc, RlswarmError):
                    reason = exc.one_line()
                else:
                    reason = f"{exc.__class__.__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                on_skip(round_, path, f"{path} does not load: {reason}")
        return None

    def _append_index(self, record: CheckpointRecord) -> None:
        line = (json.dumps(asdict(record), sort_keys=True) + "\n").encode("utf-8")
        with open(self.root / INDEX_FILE, "ab+") as handle:
            # a line torn by an earlier full disk is closed first, so it cannot swallow this one
            end = handle.seek(0, os.SEEK_END)
            if end > 0:
                handle.seek(end - 1)
                if handle.read(1) != b"\n":
                    line = b"\n" + line
            handle.write(line)

    def update_record(self, round_: int, **changes: Any) -> CheckpointRecord | None:
        """Fold late facts (wins counted after the round, say) into a saved record."""
        checkpoint = self.get(round_)
        if checkpoint is None:
            return None
        data = asdict(checkpoint.record)
        data.update(changes)
        record = CheckpointRecord.from_dict(data)
        target = checkpoint.path / RECORD_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, target)
        self._append_index(record)
        return record

    def _restore_swapped(self, stale: Path) -> bool:
        """A crash between the two renames of a re-save leaves the earlier copy under its side name only:
        put it back (True) rather than delete it."""
        parts = stale.name.removeprefix(f"{_TMP_PREFIX}old-").split("-")
        if not stale.name.startswith(f"{_TMP_PREFIX}old-") or not parts[0].isdigit():
            return False
        final = self._dir_for(int(parts[0]))
        if final.exists():
            return False
        try:
            os.replace(stale, final)
        except OSError:
            return False
        return True

    def prune(self) -> list[Path]:
        """Remove all but the last ``keep`` rounds and the best one; also stale temporary folders."""
        removed = []
        for stale in self.root.glob(f"{_TMP_PREFIX}*"):
            if self._restore_swapped(stale):
                continue
            shutil.rmtree(stale, ignore_errors=True)
        items = self.list()
        if len(items) <= self.keep:
            return removed
        best = self.best()
        keep_paths = {c.path for c in items[-self.keep :]}
        if best is not None:
            keep_paths.add(best.path)
        for item in items:
            if item.path not in keep_paths:
                shutil.rmtree(item.path, ignore_errors=True)
                removed.append(item.path)
        return removed
