"""Finding the anvil binary, and installing it with npm on first use.

anvil comes from the npm package ``@foundry-rs/anvil``, whose per-platform packages carry the binary.
Where to look, in order: ``RLSWARM_ANVIL``; the source checkout's ``node_modules`` (``npm ci``); the
copy installed into rlswarm's data folder; an ``anvil`` on PATH. An installed package (pip, pipx) has
no checkout, so when none of those has it, npm installs it into the data folder, once: ``npm ci`` from
the package.json and package-lock.json shipped in ``_anvil/`` (the checkout's pins and integrity
hashes for anvil, kept equal by a test), so it gets exactly the files the checkout's ``npm ci`` does.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from rlswarm_core.errors import RlswarmError, whole_line

ANVIL_ENV = "RLSWARM_ANVIL"
ANVIL_NPM_PACKAGE = "@foundry-rs/anvil"
# The version the checkout's package.json and the shipped _anvil/package.json pin (a test keeps them equal).
ANVIL_VERSION = "1.7.1"
_LOCK_FILES = ("package.json", "package-lock.json")
NPM_TIMEOUT_S = 600.0
_REPO_ROOT = Path(__file__).resolve().parents[2]
_NPM_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Windows", "AMD64"): "win32-amd64",
}
_NPM_HINT = (
    "install Node.js with npm (https://nodejs.org, or your package manager's `nodejs npm`) so that "
    f"rlswarm can fetch anvil, or set {ANVIL_ENV} to an anvil binary"
)

Report = Callable[[str], None]


class AnvilNotFound(RlswarmError):
    """No anvil binary, and none could be installed."""


def _binary_in(node_modules: Path) -> Path | None:
    """anvil inside a ``node_modules`` folder that holds the package for this platform."""
    suffix = _NPM_PLATFORMS.get((platform.system(), platform.machine()))
    if suffix is None:
        return None
    exe = "anvil.exe" if platform.system() == "Windows" else "anvil"
    candidate = node_modules / "@foundry-rs" / f"anvil-{suffix}" / "bin" / exe
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def install_dir() -> Path:
    """Where npm installs anvil for this rlswarm: one folder per version, in the data folder."""
    from rlswarm_core.system.paths import app_paths

    return app_paths().data / "tools" / f"anvil-{ANVIL_VERSION}"


def find_anvil(*, install: bool = True, report: Report | None = None) -> Path:
    """The anvil binary to run; with ``install``, npm fetches it into the data folder when missing."""
    configured = os.environ.get(ANVIL_ENV)
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise AnvilNotFound(
            f"{ANVIL_ENV} points at {path}, which is not an executable file", f"unset {ANVIL_ENV}"
        )
    for node_modules in (_REPO_ROOT / "node_modules", install_dir() / "node_modules"):
        found = _binary_in(node_modules)
        if found is not None:
            return found
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    if not install:
        raise AnvilNotFound("anvil was not found", f"run `npm ci` in the source checkout, or set {ANVIL_ENV}")
    return install_anvil(report=report)


def install_anvil(*, report: Report | None = None) -> Path:
    """``npm ci`` the pinned anvil into :func:`install_dir` and return its binary."""
    if (platform.system(), platform.machine()) not in _NPM_PLATFORMS:
        raise AnvilNotFound(
            f"anvil was not found, and npm has no anvil build for {platform.system()} {platform.machine()}",
            f"install Foundry's anvil (https://getfoundry.sh) and set {ANVIL_ENV} to it",
        )
    npm = shutil.which("npm")
    if npm is None:
        raise AnvilNotFound("anvil was not found, and npm is not installed to fetch it", _NPM_HINT)
    from importlib import resources

    from rlswarm_core.system.environment import child_environment
    from rlswarm_core.system.paths import private_dir

    target = install_dir()
    private_dir(target.parent)
    if target.exists():
        # an install whose binary has gone (removed by hand, a foreign platform's): start afresh
        shutil.rmtree(target)
    if report is not None:
        report(f"installing anvil {ANVIL_VERSION} with npm into {target} (first use only)")
    # npm fills a fresh folder that becomes the install in one rename: an interrupted or failed
    # install never looks like a finished one, and two concurrent first runs do not mix their files.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        shipped = resources.files("rlswarm_core.chain").joinpath("_anvil")
        for name in _LOCK_FILES:
            (staging / name).write_bytes(shipped.joinpath(name).read_bytes())
        args = [
            npm,
            "ci",
            # the platform package carries the binary; the wrapper's postinstall script is not needed
            "--ignore-scripts",
            # the lock pins every file by hash, so npm's cached copy is as good as a download
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]
        try:
            done = subprocess.run(
                args,
                cwd=staging,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                env=child_environment(),
            )
        except subprocess.TimeoutExpired:
            raise AnvilNotFound(
                f"npm did not finish installing anvil within {NPM_TIMEOUT_S:.0f}s",
                f"check the network or npm's registry settings, or set {ANVIL_ENV}",
            ) from None
        if done.returncode != 0:
            lines = done.stderr.splitlines()
            errors = [line for line in lines if line.strip() and "complete log" not in line]
            detail = whole_line(" ".join(errors[-3:]) or f"exit status {done.returncode}")
            raise AnvilNotFound(
                f"npm could not install {ANVIL_NPM_PACKAGE}@{ANVIL_VERSION} ({detail})",
                f"fix npm's access to its registry, or set {ANVIL_ENV} to an anvil binary",
            )
        if _binary_in(staging / "node_modules") is None:
            raise AnvilNotFound(
                f"npm installed {ANVIL_NPM_PACKAGE}@{ANVIL_VERSION} but no anvil binary for this platform",
                f"install Foundry's anvil (https://getfoundry.sh) and set {ANVIL_ENV} to it",
            )
        try:
            staging.rename(target)
        except OSError:
            # another first run finished first: its install is as good as this one
            if _binary_in(target / "node_modules") is None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    binary = _binary_in(target / "node_modules")
    assert binary is not None
    return binary
