"""Where rlswarm keeps its files, and keeping them private.

Platform directories by default (platformdirs); ``RLSWARM_HOME`` relocates all of them under one
folder, which is what tests and operators with several installs use. Nothing is written next to the
code. Every folder rlswarm creates is 0700 and every file 0600 (identities, tokens, logs and
checkpoints are nobody else's business): folders are made with :func:`private_dir`, and the
``rlswarm`` command and a running node work under :func:`private_umask`, which covers what libraries
write for them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077

APP_NAME = "rlswarm"
HOME_ENV = "RLSWARM_HOME"
IDENTITY_SUFFIX = ".pem"


@dataclass(frozen=True)
class AppPaths:
    config: Path
    data: Path
    state: Path
    logs: Path

    @property
    def config_file(self) -> Path:
        return self.config / "config.yaml"

    @property
    def identities(self) -> Path:
        return self.data / "identities"

    def identity_file(self, name: str) -> Path:
        """The key file of identity ``name``: the one place that turns a name into a path."""
        from rlswarm_core.errors import IdentityError

        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise IdentityError(f"invalid identity name {name!r}", "use letters, digits, '-' and '_'")
        return self.identities / f"{name}{IDENTITY_SUFFIX}"

    def identity_files(self) -> list[Path]:
        """Every identity key file, by name."""
        folder = self.identities
        return sorted(folder.glob(f"*{IDENTITY_SUFFIX}")) if folder.is_dir() else []

    @property
    def user_profiles(self) -> Path:
        """Profiles the operator added or overrode (same file name as a shipped one replaces it)."""
        return self.config / "profiles"

    @property
    def checkpoints(self) -> Path:
        return self.data / "checkpoints"

    @property
    def instances(self) -> Path:
        return self.state / "instances"

    @property
    def insecure_secrets_file(self) -> Path:
        return self.config / "secrets.json"

    def ensure(self) -> AppPaths:
        for folder in (self.config, self.data, self.state, self.logs, self.identities, self.checkpoints):
            private_dir(folder)
        private_dir(self.instances)
        return self


def private_dir(path: Path) -> Path:
    """Create ``path`` and each missing parent as 0700, whatever the umask (the XDG base directory
    rule for the folders an application creates); folders that exist keep their mode."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask
    return path


def set_private_umask() -> int:
    """Make everything this process creates from now on private (folders 0700, files 0600); returns
    the previous umask. For entry points (the ``rlswarm`` command, a node's process)."""
    return os.umask(PRIVATE_UMASK)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """:func:`set_private_umask` for a block, restoring the umask after it."""
    previous = set_private_umask()
    try:
        yield
    finally:
        os.umask(previous)


def app_paths(environ: dict[str, str] | None = None) -> AppPaths:
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return AppPaths(config=root / "config", data=root / "data", state=root / "state", logs=root / "logs")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppPaths(
        config=Path(dirs.user_config_dir),
        data=Path(dirs.user_data_dir),
        state=Path(dirs.user_state_dir),
        logs=Path(dirs.user_log_dir),
    )
