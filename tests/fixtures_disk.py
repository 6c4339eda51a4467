"""A real small filesystem for full-disk tests: a tmpfs of a few MB, mounted by the test (needs root).

A write that does not fit fails with ENOSPC exactly as on a full disk; ``fill`` takes the free space down
to a chosen number of bytes with a real file, and ``free`` gives it back.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path

    @property
    def filler(self) -> Path:
        return self.path / ".filler"

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def fill(self, leave: int = 0) -> None:
        """Grow the filler file until at most ``leave`` bytes are free (0: until a write fails)."""
        with open(self.filler, "ab") as handle:
            while (room := self.free_bytes() - leave) > 0:
                try:
                    handle.write(b"\0" * min(room, 1 << 20))
                    handle.flush()
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            if leave == 0:
                # the last pages: write byte by byte until the filesystem refuses
                while True:
                    try:
                        os.write(handle.fileno(), b"\0" * 512)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount(size: str, parent: Path) -> tuple[Path, str]:
    point = parent / f"disk-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    if os.geteuid() != 0:
        return point, "mounting a tmpfs for a full-disk test needs root"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return point, f"cannot mount a tmpfs for a full-disk test: {done.stderr.strip() or done.returncode}"
    return point, ""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], SmallDisk]]:
    """``small_disk("4m")`` mounts a tmpfs of that size; all are unmounted after the test."""
    mounted: list[Path] = []

    def make(size: str) -> SmallDisk:
        point, problem = _mount(size, tmp_path)
        if problem:
            pytest.skip(problem)
        mounted.append(point)
        return SmallDisk(point)

    try:
        yield make
    finally:
        for point in mounted:
            subprocess.run(["umount", "-l", str(point)], check=False)
