"""The shared file helpers: private (0600) atomic writes, and the one place identity paths are built."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rlswarm_core.errors import IdentityError
from rlswarm_core.system.files import write_private
from rlswarm_core.system.paths import app_paths


def test_private_files_are_0600_in_a_0700_folder_and_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "new" / "secret.json"
    write_private(target, "first")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    write_private(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["secret.json"]  # no temporary file left


def test_identity_paths_come_from_one_place() -> None:
    paths = app_paths()
    assert paths.identity_file("node-1") == paths.identities / "node-1.pem"
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(IdentityError, match="invalid identity name"):
            paths.identity_file(bad)
    assert paths.identity_files() == []
    from rlswarm_core.identity.keys import create_identity

    create_identity(paths.identity_file("b"))
    create_identity(paths.identity_file("a"))
    assert [p.stem for p in paths.identity_files()] == ["a", "b"]
    assert paths.user_profiles == paths.config / "profiles"
